"""Audit: the event model and the non-blocking emit seam.

`emit()` never blocks and never raises into the request path. Before `install()` (or after
`uninstall()`) events are discarded, so library code can emit unconditionally.
"""

from __future__ import annotations

import logging

from audit.event import AuditEvent, Result, Surface
from audit.pipeline import LocalSink, NullSink, Pipeline, Sink

_pipeline: Pipeline | None = None
_log = logging.getLogger("tollgate.audit")


def install(pipeline: Pipeline) -> None:
    global _pipeline
    _pipeline = pipeline
    pipeline.start()


async def uninstall() -> None:
    """Flush what is queued and close the sink (graceful shutdown)."""
    global _pipeline
    pipeline, _pipeline = _pipeline, None
    if pipeline is not None:
        await pipeline.close()


def emit(event: AuditEvent) -> None:
    if _pipeline is None:
        return
    try:
        _pipeline.emit(event)
    except Exception:  # the request path must never fail because of auditing
        _log.exception("audit emit failed")


__all__ = [
    "AuditEvent",
    "LocalSink",
    "NullSink",
    "Pipeline",
    "Result",
    "Sink",
    "Surface",
    "emit",
    "install",
    "uninstall",
]
