"""The non-blocking audit pipeline: `emit()` enqueues, a batcher task writes to the sink.

The request path only appends to a bounded deque; everything that can block or fail (disk,
later PostgreSQL) happens in the batcher, off the request's critical path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Sequence
from typing import Protocol

import orjson

from audit.event import AuditEvent

log = logging.getLogger("tollgate.audit")

# Shutdown retries of a failing sink: 0.1 + 0.2 + 0.4 + 0.8 s, then what is left counts as dropped.
CLOSE_RETRIES = 4


class Sink(Protocol):
    async def write(self, events: Sequence[AuditEvent]) -> None: ...
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

    async def write(self, events: Sequence[AuditEvent]) -> None:
        data = b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in events)
        await asyncio.get_running_loop().run_in_executor(None, os.write, self._fd, data)

    async def close(self) -> None:
        os.close(self._fd)


class NullSink:
    async def write(self, events: Sequence[AuditEvent]) -> None:
        return None

    async def close(self) -> None:
        return None


class Pipeline:
    def __init__(self, sink: Sink, *, queue_size: int, batch_size: int, flush_interval_s: float) -> None:
        self.sink = sink
        self.queue: deque[AuditEvent] = deque()
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.dropped = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def emit(self, event: AuditEvent) -> None:
        if len(self.queue) >= self.queue_size:
            # The spool file that absorbs this overflow arrives with the PostgreSQL sink.
            self.dropped += 1
            return
        self.queue.append(event)
        if len(self.queue) >= self.batch_size:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-batcher")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            await self._drain()

    async def _drain(self) -> bool:
        """Write everything queued; False when the sink failed (the batch is back at the front)."""
        while self.queue:
            n = min(len(self.queue), self.batch_size)
            batch = [self.queue.popleft() for _ in range(n)]
            try:
                await self.sink.write(batch)
            except Exception:
                # Put the batch back in order and retry on the next tick; never lose it silently.
                self.queue.extendleft(reversed(batch))
                log.exception("audit sink write failed; %d events kept for retry", len(self.queue))
                return False
        return True

    async def close(self) -> None:
        """Stop the batcher between writes (never inside one), then flush with bounded retries."""
        self._closing = True
        self._wake.set()
        if self._task:
            await self._task
        for attempt in range(CLOSE_RETRIES):
            if await self._drain():
                break
            await asyncio.sleep(0.1 * 2**attempt)
        if self.queue:
            self.dropped += len(self.queue)
            self.queue.clear()
        if self.dropped:
            log.error("audit events lost: %d (queue overflow or sink unavailable at shutdown)", self.dropped)
        await self.sink.close()
