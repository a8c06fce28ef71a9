"""The egress door's Prometheus metrics (bounded labels: decision, mode, direction, result)."""

from __future__ import annotations

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
