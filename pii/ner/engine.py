"""The parent side of the NER tier: a process pool with a time budget; it never imports spaCy."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pii.detect import Span
from pii.ner.base import _PACKAGES, NER_TYPES, NerUnavailable
from pii.ner.worker import _detect_batch, _init_worker, _ping

# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def _mp_context() -> multiprocessing.context.BaseContext:
    # Never "fork": tollgate's workers are forked processes running uvloop and threads.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _split_for(texts: list[str], parts: int) -> list[list[str]]:
    """Contiguous groups of roughly equal total length (order kept, so results just concatenate)."""
    if parts <= 1 or len(texts) <= 1:
        return [texts]
    total = sum(len(t) for t in texts) or 1
    groups: list[list[str]] = [[]]
    acc = 0
    for t in texts:
        if groups[-1] and acc >= total * len(groups) / parts and len(groups) < parts:
            groups.append([])
        groups[-1].append(t)
        acc += len(t)
    return groups


class _BrokenAtSubmit(Exception):
    """The pool was already broken before any of this call's work started."""


def _release_from_any_thread(loop: asyncio.AbstractEventLoop, sem: asyncio.Semaphore, _: Future[Any]) -> None:
    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits on its semaphore now
        loop.call_soon_threadsafe(sem.release)


class NerEngine:
    """Runs NER off the event loop in a process pool with a time budget."""

    def __init__(self, processes: int = 1, timeout_s: float = 5.0, start_timeout_s: float = 120.0) -> None:
        self.processes = max(1, processes)
        self.timeout_s = timeout_s  # per detect() call, from submission; model loading excluded
        self.start_timeout_s = start_timeout_s  # loading the model into a (new) pool
        self._pool: ProcessPoolExecutor | None = None
        self._warm: list[Future[int]] = []
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    # -- pool lifecycle --

    def _ensure_pool(self) -> ProcessPoolExecutor:
        # Synchronous (no await), so concurrent callers on one loop never build two pools.
        if self._pool is None:
            from pii.ner import ner_available  # the package's cached answer (tests may pin it)

            if not ner_available():
                raise NerUnavailable(f"NER needs {', '.join(_PACKAGES)} installed")
            self._pool = ProcessPoolExecutor(self.processes, mp_context=_mp_context(), initializer=_init_worker)
            self._warm = [self._pool.submit(_ping) for _ in range(self.processes)]
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor, kill: bool) -> None:
        """Forget `pool` (if still current) and stop it; running tasks die with their workers."""
        if self._pool is pool:
            self._pool = None
            self._warm = []
        if kill:
            # ProcessPoolExecutor has no public way to stop a running task (3.14 adds
            # kill_workers()): kill the processes so a runaway detection cannot hold a core.
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError, AttributeError):
                    proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def _semaphore(self) -> asyncio.Semaphore:
        """At most `processes` tasks in the pool at once, so a task that times out while it waits
        is only ever waiting here, never sitting in the pool's queue where it could not be
        cancelled and would cost every other caller their worker."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.processes), loop
        return self._slots

    async def start(self) -> None:
        """Start the pool and load the model in its workers (lazily done by the first detect)."""
        pool = self._ensure_pool()
        warm = self._warm
        try:
            await asyncio.wait_for(asyncio.gather(*(asyncio.wrap_future(f) for f in warm)), self.start_timeout_s)
        except BaseException:
            self._discard(pool, kill=True)
            raise

    def worker_pids(self) -> list[int]:
        """Process ids of the pool's workers (empty before the first start)."""
        pool = self._pool
        return sorted((getattr(pool, "_processes", None) or {}).keys()) if pool else []

    def close(self) -> None:
        if self._pool is not None:
            self._discard(self._pool, kill=True)

    # -- detection --

    async def detect(self, texts: list[str], types: frozenset[str], timeout_s: float | None = None) -> list[list[Span]]:
        """Spans per text (Python str offsets), only of `types` ∩ NER_TYPES. Raises NerUnavailable,
        TimeoutError (over the budget), or any worker crash as an exception: the caller treats every
        exception as a detection failure and fails closed."""
        want = sorted(types & NER_TYPES)
        if not texts:
            return []
        if not want:
            return [[] for _ in texts]
        budget = self.timeout_s if timeout_s is None else timeout_s
        groups = _split_for(list(texts), self.processes)
        for attempt in (0, 1):
            await self.start()
            pool = self._pool
            assert pool is not None
            try:
                parts = await self._run(pool, groups, want, budget)
                break
            except _BrokenAtSubmit:
                # A worker died between calls: nothing of this call ran, so one retry on a fresh
                # pool is safe. A crash during the call is raised instead (fail closed).
                self._discard(pool, kill=True)
                if attempt:
                    raise BrokenProcessPool("NER process pool keeps breaking") from None
        out: list[list[Span]] = []
        for part in parts:
            out.extend([Span(s, e, t) for s, e, t in spans] for spans in part)
        return out

    async def _run(
        self, pool: ProcessPoolExecutor, groups: list[list[str]], want: list[str], budget: float
    ) -> list[list[list[tuple[int, int, str]]]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        sem = self._semaphore()
        futs: list[Future[list[list[tuple[int, int, str]]]]] = []
        try:
            for g in groups:
                await asyncio.wait_for(sem.acquire(), max(0.0, deadline - loop.time()))
                try:
                    fut = pool.submit(_detect_batch, g, want)
                except (BrokenProcessPool, RuntimeError) as exc:
                    sem.release()
                    if not futs:
                        raise _BrokenAtSubmit from exc
                    raise BrokenProcessPool(str(exc)) from exc
                fut.add_done_callback(functools.partial(_release_from_any_thread, loop, sem))
                futs.append(fut)
            waits = [asyncio.wrap_future(f) for f in futs]
            return await asyncio.wait_for(asyncio.gather(*waits), max(0.0, deadline - loop.time()))
        except TimeoutError:
            # wait_for cancelled the wrappers, and with them any task not yet started; one that
            # is running cannot be cancelled, so its worker is killed (the pool is rebuilt next call).
            if any(not f.done() for f in futs):
                self._discard(pool, kill=True)
            raise TimeoutError(f"NER detection over its {budget:g}s budget") from None
        except BrokenProcessPool:
            self._discard(pool, kill=True)
            raise
