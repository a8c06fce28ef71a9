"""The audit pipeline's Prometheus metrics (multiprocess-safe like the gateway's; see gateway/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from audit.event import SURFACES

EVENTS = Counter("tollgate_audit_events", "Audit events emitted", ["surface"])
QUEUE_DEPTH = Gauge(
    "tollgate_audit_queue_depth", "Audit events waiting in memory for the writer", multiprocess_mode="livesum"
)
BATCH_SECONDS = Histogram(
    "tollgate_audit_batch_seconds", "Time to write one audit batch to the sink",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
SPOOLED = Counter("tollgate_audit_spooled", "Audit events written to the local spool while the sink was away")
DROPPED = Counter("tollgate_audit_dropped", "Audit events lost: queue and spool full, or torn spool lines")

__all__ = ["BATCH_SECONDS", "DROPPED", "EVENTS", "QUEUE_DEPTH", "SPOOLED", "SURFACES"]
