"""The egress door's Prometheus metrics (bounded labels: decision, mode, direction, result)."""

from __future__ import annotations

import asyncio

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("tollgate_egress_requests", "Egress decisions", ["decision", "mode"])
BYTES = Counter("tollgate_egress_bytes", "Bytes relayed by the egress door", ["direction"])
HANDSHAKE = Histogram(
    "tollgate_egress_tls_handshake_seconds",
    "Client-side TLS handshakes of intercepted tunnels",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
)
CERT_CACHE = Counter("tollgate_egress_cert_cache", "Leaf certificate cache lookups", ["result"])
ACTIVE_TUNNELS = Gauge("tollgate_egress_active_tunnels", "Open CONNECT tunnels", multiprocess_mode="livesum")

# How often tallied counts reach Prometheus: scrapes are 15 s apart or more.
FLUSH_S = 1.0


class Tally:
    """Counter increments gathered in process and added to Prometheus once a second. With
    multiprocess metrics every `inc()` is a locked write to an mmap'd file, several per request:
    4-8% of an intercepted request's CPU (the budget guard batches its metrics the same way)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[Counter, tuple[str, ...]], float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, counter: Counter, labels: tuple[str, ...], amount: float = 1) -> None:
        key = (counter, labels)
        self._pending[key] = self._pending.get(key, 0) + amount
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        for (counter, labels), amount in pending.items():
            if amount:
                counter.labels(*labels).inc(amount)


TALLY = Tally()
