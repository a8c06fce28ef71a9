"""The egress door's Prometheus metrics (bounded labels: decision, mode, direction, result), and the
process's tally through which both doors' per-request metrics reach Prometheus."""

from __future__ import annotations

import asyncio
import bisect
import os
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

# How often tallied updates reach Prometheus: scrapes are 15 s apart or more.
FLUSH_S = 1.0

Metric = Counter | Gauge | Histogram


class Tally:
    """Metric updates gathered in process and applied to Prometheus once a second (and before every
    scrape this process serves). With multiprocess metrics every `inc()` is a locked write to an
    mmap'd file, an `observe()` two: 4-8% of a request's CPU with the handful each request makes
    (the budget guard batches its metrics the same way). Counters and gauges add up deltas;
    histograms count per bucket and write each bucket once per flush.

    Histograms are read and written through prometheus_client internals (`_upper_bounds`, and the
    children's `_buckets` and `_sum`): it has no public call to add n observations at once. The pin
    in pyproject.toml and tests/test_unit_metrics.py hold that to the same exposition as one
    `observe()` per value.
    """

    def __init__(self) -> None:
        self._deltas: dict[tuple[Counter | Gauge, tuple[str, ...]], float] = {}
        # (histogram, labels) -> [count per bucket..., sum]
        self._observed: dict[tuple[Histogram, tuple[str, ...]], list[float]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, metric: Counter | Gauge, labels: tuple[str, ...], amount: float = 1) -> None:
        key = (metric, labels)
        self._deltas[key] = self._deltas.get(key, 0) + amount
        if self._timer is None or self._loop_gone():
            self._schedule()

    def observe(self, histogram: Histogram, labels: tuple[str, ...], bucket: int, value: float) -> None:
        key = (histogram, labels)
        counts = self._observed.get(key)
        if counts is None:
            counts = self._observed[key] = [0.0] * (len(histogram._upper_bounds) + 1)
        counts[bucket] += 1
        counts[-1] += value
        if self._timer is None or self._loop_gone():
            self._schedule()

    def _schedule(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a CLI command, a test): nothing to batch with
            self.flush()
            return
        self._timer = self._loop.call_later(FLUSH_S, self.flush)

    def _loop_gone(self) -> bool:
        """The timer's loop was closed with the timer pending (one loop per test, say)."""
        return self._loop is not None and self._loop.is_closed()

    def forget(self) -> None:
        """In a forked child: the parent's pending updates and timer are the parent's to flush."""
        self._deltas, self._observed = {}, {}
        self._timer = self._loop = None

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deltas, self._deltas = self._deltas, {}
        observed, self._observed = self._observed, {}
        for (metric, labels), amount in deltas.items():
            if amount:
                (metric.labels(*labels) if labels else metric).inc(amount)
        for (histogram, labels), counts in observed.items():
            child: Any = histogram.labels(*labels) if labels else histogram
            for i, n in enumerate(counts[:-1]):
                if n:
                    child._buckets[i].inc(n)
            child._sum.inc(counts[-1])


TALLY = Tally()
os.register_at_fork(after_in_child=TALLY.forget)


class Tallied:
    """A Prometheus metric whose updates go through the tally, called like the metric itself:
    `labels(...).inc()`, `.dec()` (gauges), `.observe()` (histograms)."""

    __slots__ = ("_bounds", "_children", "_gauge", "_histogram", "_labels", "metric")

    def __init__(self, metric: Metric, labels: tuple[str, ...] = ()) -> None:
        self.metric = metric
        self._labels = labels
        self._children: dict[tuple[str, ...], Tallied] = {}
        # The metric's kind, once: isinstance() against prometheus_client's classes goes through
        # typing's Protocol machinery, slower than the rest of an update.
        self._histogram = isinstance(metric, Histogram)
        self._gauge = isinstance(metric, Gauge)
        self._bounds: list[float] = list(metric._upper_bounds) if isinstance(metric, Histogram) else []

    def labels(self, *values: str) -> Tallied:
        child = self._children.get(values)
        if child is None:  # label values are bounded (see each metric), so is this cache
            self.metric.labels(*values)  # checks the label count now, not at the flush
            child = self._children[values] = Tallied(self.metric, values)
        return child

    def inc(self, amount: float = 1) -> None:
        assert not self._histogram
        TALLY.add(self.metric, self._labels, amount)  # type: ignore[arg-type]

    def dec(self, amount: float = 1) -> None:
        assert self._gauge
        TALLY.add(self.metric, self._labels, -amount)  # type: ignore[arg-type]

    def observe(self, value: float) -> None:
        assert self._histogram
        # the first bucket whose upper bound is >= value, as Histogram.observe picks it
        TALLY.observe(self.metric, self._labels, bisect.bisect_left(self._bounds, value), value)  # type: ignore[arg-type]


REQUESTS = Tallied(Counter("tollgate_egress_requests", "Egress decisions", ["decision", "mode"]))
BYTES = Tallied(Counter("tollgate_egress_bytes", "Bytes relayed by the egress door", ["direction"]))
HANDSHAKE = Tallied(
    Histogram(
        "tollgate_egress_tls_handshake_seconds",
        "Client-side TLS handshakes of intercepted tunnels",
        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
    )
)
CERT_CACHE = Tallied(Counter("tollgate_egress_cert_cache", "Leaf certificate cache lookups", ["result"]))
ACTIVE_TUNNELS = Tallied(Gauge("tollgate_egress_active_tunnels", "Open CONNECT tunnels", multiprocess_mode="livesum"))
