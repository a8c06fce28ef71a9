"""The non-blocking audit pipeline: `emit()` enqueues, one writer task per worker drains.

The request path only appends to a bounded deque. The writer sends batches of `batch_size`
events, or whatever is queued every `flush_interval_s`, whichever comes first. When the sink
fails it retries with capped exponential back-off and jitter while the queue keeps filling;
past half the queue bound the oldest batches go to the spool (when there is one), and the
spool is written back, in order and before anything newer, once the sink answers again. An
event is dropped only when both the queue and the spool are full; drops are counted and logged
once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import orjson

from audit import metrics
from audit.event import SYSTEM_ORG, AuditEvent, new_event_id
from audit.spool import Spool

log = logging.getLogger("tollgate.audit")

# Shutdown retries of a failing sink: 0.1 + 0.2 + 0.4 + 0.8 s, then what is left is spooled
# (or, without a spool, counted as dropped).
CLOSE_RETRIES = 4
# Back-off after the n-th consecutive failure: up to base * 2**n, capped, with "equal jitter"
# (half fixed, half random) so a fleet of workers does not reconnect in lock step.
BACKOFF_BASE_S = 0.05
# Drops are logged at most once per this interval, with the count since the last line.
DROP_LOG_INTERVAL_S = 10.0


def backoff_delay(failures: int, cap_s: float, rand: Callable[[], float] = random.random) -> float:
    ceiling = min(cap_s, BACKOFF_BASE_S * 2 ** min(failures, 30))
    return ceiling / 2 + ceiling / 2 * rand()


class Sink(Protocol):
    async def write(self, events: Sequence[AuditEvent], *, replay: bool = False) -> None:
        """Store a batch; `replay` says it may already be stored in part (the sink must not duplicate)."""

    async def close(self) -> None: ...


class LocalSink:
    """JSON lines appended to a file: the embedded default for single-host demos.

    Each batch is one `write()` on an O_APPEND descriptor, so workers sharing the file do not
    interleave partial lines.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def write(self, events: Sequence[AuditEvent], *, replay: bool = False) -> None:
        data = b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in events)
        await asyncio.get_running_loop().run_in_executor(None, os.write, self._fd, data)

    async def close(self) -> None:
        os.close(self._fd)


class NullSink:
    async def write(self, events: Sequence[AuditEvent], *, replay: bool = False) -> None:
        return None

    async def close(self) -> None:
        return None


class Pipeline:
    def __init__(
        self,
        sink: Sink,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval_s: float,
        spool: Spool | None = None,
        retry_max_s: float = 5.0,
    ) -> None:
        self.sink = sink
        self.spool = spool
        self.queue: deque[AuditEvent] = deque()
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_max_s = retry_max_s
        # Past this the oldest batches go to the spool (whether the sink is down or only slow);
        # the rest of the bound is room for bursts while a spool write is on disk.
        self.spill_at = max(batch_size, queue_size // 2) if spool is not None else queue_size
        self.dropped = 0
        self.failures = 0
        # A batch whose write failed: the oldest events of all (the spool only takes newer ones
        # while it is out), retried first and through the deduplicating path (it may be stored).
        self._retry: list[AuditEvent] | None = None
        self._parents: Mapping[str, str] = {}
        self._wake = asyncio.Event()
        self._spill_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._drops_unlogged = 0
        self._drops_logged_at = 0.0
        self._surface_counters = {s: metrics.EVENTS.labels(s) for s in metrics.SURFACES}
        # Events per surface since the counters were last written: with multiprocess metrics each
        # inc() is a locked write to an mmap'd file, so they are applied per batch and before a scrape.
        self._emitted = dict.fromkeys(metrics.SURFACES, 0)

    def set_parents(self, parents: Mapping[str, str]) -> None:
        """Subagent id → parent agent id, from the current config: fills `parent_actor_id`."""
        self._parents = parents

    def emit(self, event: AuditEvent) -> None:
        if not event.event_id:
            event.event_id = new_event_id()
        if not event.org_id:
            event.org_id = SYSTEM_ORG
        if not event.parent_actor_id and event.actor_id and event.actor_type == "agent":
            event.parent_actor_id = self._parents.get(event.actor_id, "")
        if event.surface in self._emitted:
            self._emitted[event.surface] += 1
        queue = self.queue
        if len(queue) >= self.queue_size:
            self._drop(1)
            return
        queue.append(event)
        n = len(queue)
        if n == self.batch_size:
            self._wake.set()
        if n >= self.spill_at:
            self._spill_wake.set()

    def flush_metrics(self) -> None:
        for surface, n in self._emitted.items():
            if n:
                self._surface_counters[surface].inc(n)
                self._emitted[surface] = 0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(), name="audit-writer")]
        if self.spool is not None:
            self._tasks.append(loop.create_task(self._spiller(), name="audit-spiller"))

    async def _run(self) -> None:
        next_try = 0.0
        while not self._closing:
            timeout = self.flush_interval_s if not self.failures else max(0.0, next_try - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            if self._closing:
                break
            if self.failures and time.monotonic() < next_try:
                continue
            self.flush_metrics()
            if not await self._drain():
                self.failures += 1
                next_try = time.monotonic() + backoff_delay(self.failures, self.retry_max_s)
            metrics.QUEUE_DEPTH.set(len(self.queue))

    async def _spiller(self) -> None:
        """Runs beside the writer, so a write that hangs (slow database, connect timeout) never
        leaves the queue to overflow while the spool has room."""
        while not self._closing:
            await self._spill_wake.wait()
            self._spill_wake.clear()
            await self._spill_overflow()

    async def _drain(self) -> bool:
        """Write the failed batch, the spool's backlog, then everything queued; False when the sink failed."""
        while True:
            if self._retry is not None:
                if not await self._write(self._retry, replay=True):
                    return False
                self._retry = None
            elif self.spool is not None and self.spool.pending:
                events, offset, skipped = self.spool.read(self.batch_size)
                if skipped:
                    self._drop(skipped)
                if events and not await self._write(events, replay=True):
                    return False
                self.spool.consume(offset)
            elif self.queue:
                n = min(len(self.queue), self.batch_size)
                batch = [self.queue.popleft() for _ in range(n)]
                if not await self._write(batch, replay=False):
                    self._retry = batch
                    return False
            else:
                return True

    async def _write(self, events: Sequence[AuditEvent], *, replay: bool) -> bool:
        started = time.perf_counter()
        try:
            await self.sink.write(events, replay=replay)
        except Exception as e:
            if not self.failures:
                log.error("audit sink write failed (%s: %s); retrying with back-off", e.__class__.__name__, e)
            return False
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        if self.failures:
            log.info("audit sink is back after %d failed attempts", self.failures)
            self.failures = 0
        return True

    async def _spill_overflow(self, everything: bool = False) -> None:
        """Move the oldest queued events to the spool, down to half the mark, in one fsync'd batch
        per pass (one fsync per pass keeps up with any emit rate the disk can take)."""
        if self.spool is None:
            return
        loop = asyncio.get_running_loop()
        while len(self.queue) > (0 if everything else self.spill_at):
            n = len(self.queue) - (0 if everything else self.spill_at // 2)
            batch = [self.queue.popleft() for _ in range(n)]
            if await loop.run_in_executor(None, self.spool.append, batch):
                metrics.SPOOLED.inc(n)
            else:
                self._drop(n)

    def _drop(self, n: int) -> None:
        self.dropped += n
        self._drops_unlogged += n
        metrics.DROPPED.inc(n)
        now = time.monotonic()
        if now - self._drops_logged_at >= DROP_LOG_INTERVAL_S:
            log.error(
                "audit events dropped: %d since the last report (queue and spool full, or torn spool lines)",
                self._drops_unlogged,
            )
            self._drops_unlogged = 0
            self._drops_logged_at = now

    async def replay_spool(self) -> None:
        """At start: adopt spools of earlier runs; the writer sends them before anything new."""
        if self.spool is not None:
            spool = self.spool
            adopted = await asyncio.get_running_loop().run_in_executor(None, spool.adopt_orphans)
            if spool.pending:
                log.info("audit spool holds %d bytes (%d adopted); replaying them first", spool.pending, adopted)
                self._wake.set()

    async def close(self) -> None:
        """Stop the writer between writes (never inside one), flush with bounded retries, spool the rest."""
        self._closing = True
        self._wake.set()
        self._spill_wake.set()
        for task in self._tasks:
            await task
        self.flush_metrics()
        # A sink already known to be down gets one more try, not the whole series: shutdown stays quick.
        for attempt in range(1 if self.failures else CLOSE_RETRIES):
            if await self._drain():
                break
            await asyncio.sleep(0.1 * 2**attempt)
        if self._retry is not None:
            # Older than what the spool holds; it follows it there (rows carry their own time).
            self.queue.extendleft(reversed(self._retry))
            self._retry = None
        await self._spill_overflow(everything=True)
        if self.queue:
            self._drop(len(self.queue))
            self.queue.clear()
        if self._drops_unlogged:
            log.error("audit events dropped: %d since the last report", self._drops_unlogged)
        if self.spool is not None:
            if self.spool.pending:
                log.warning("audit spool keeps %d bytes for the next start (%s)", self.spool.pending, self.spool.path)
            self.spool.close()
        metrics.QUEUE_DEPTH.set(0)
        await self.sink.close()
