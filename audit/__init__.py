"""Audit: the event model, the non-blocking emit seam, the batching pipeline and its sinks.

`emit()` never blocks and never raises into the request path. Before `install()` (or after
`uninstall()`) events are discarded, so library code can emit unconditionally. Sinks: the
embedded JSON-lines file (the default, no services needed) and PostgreSQL (batched COPY, a
spool for outages); `Reader` reads either back.
"""

from __future__ import annotations

import logging

from audit.event import SYSTEM_ORG, AuditEvent, Result, Surface
from audit.pipeline import LocalSink, NullSink, Pipeline, Sink
from audit.postgres import PARTITIONS_AHEAD, PostgresSink, connect, month_of_now
from audit.query import FORMATS, Page, Query, QueryError, build_query, render, render_csv, render_lines
from audit.reader import Reader, ReadError
from audit.schema import Tenancy, ensure_partitions, migrate, mirror, months_from
from audit.spool import Spool
from config import Config

_pipeline: Pipeline | None = None
_log = logging.getLogger("tollgate.audit")


def tenancy_of(config: Config) -> Tenancy:
    return Tenancy(
        orgs=tuple(o.id for o in config.orgs),
        teams=tuple((o.id, t.id) for o in config.orgs for t in o.teams),
        agents=tuple((a.id, o.id, t.id, a.parent) for o in config.orgs for t in o.teams for a in t.agents),
    )


def parents_of(config: Config) -> dict[str, str]:
    return {a.id: a.parent for o in config.orgs for t in o.teams for a in t.agents if a.parent}


def sink_for(config: Config) -> Sink:
    a = config.audit
    if a.sink == "postgres":
        assert a.dsn is not None
        return PostgresSink(
            a.dsn, tenancy_of(config), auto_migrate=a.auto_migrate, connect_timeout_s=a.connect_timeout_s,
            write_timeout_s=a.write_timeout_s,
        )  # fmt: skip
    return LocalSink(a.path) if a.sink == "local" else NullSink()


def pipeline_for(config: Config, *, spool: bool = True) -> Pipeline:
    """The pipeline `audit.sink` asks for; the postgres sink gets this worker's own spool."""
    a = config.audit
    pipeline = Pipeline(
        sink_for(config), queue_size=a.queue_size, batch_size=a.batch_size, flush_interval_s=a.flush_interval_s,
        spool=Spool(a.spool_dir, a.spool_max_bytes) if spool and a.sink == "postgres" else None,
        retry_max_s=a.retry_max_s,
    )  # fmt: skip
    pipeline.set_parents(parents_of(config))
    return pipeline


def install(pipeline: Pipeline) -> None:
    """Start the writer; a spool left by an earlier run is written before anything new."""
    global _pipeline
    _pipeline = pipeline
    pipeline.start()


async def replay_spool() -> None:
    if _pipeline is not None:
        await _pipeline.replay_spool()


def reconfigure(config: Config) -> None:
    """A reloaded config: new subagent parents at once, the tenancy mirrored before the next batch."""
    if _pipeline is None:
        return
    _pipeline.set_parents(parents_of(config))
    if isinstance(_pipeline.sink, PostgresSink):
        _pipeline.sink.set_tenancy(tenancy_of(config))


async def uninstall() -> None:
    """Flush what is queued and close the sink (graceful shutdown)."""
    global _pipeline
    pipeline, _pipeline = _pipeline, None
    if pipeline is not None:
        await pipeline.close()


def flush_metrics() -> None:
    """Before a scrape: the events counted since the writer last woke."""
    if _pipeline is not None:
        _pipeline.flush_metrics()


def emit(event: AuditEvent) -> None:
    if _pipeline is None:
        return
    try:
        _pipeline.emit(event)
    except Exception:  # the request path must never fail because of auditing
        _log.exception("audit emit failed")


async def migrate_database(config: Config) -> list[int]:
    """`tollgate db migrate`: schema, partitions ahead, tenancy mirrored; returns the versions applied."""
    a = config.audit
    assert a.dsn is not None
    conn = await connect(a.dsn, a.connect_timeout_s)
    try:
        applied = await migrate(conn)
        await ensure_partitions(conn, months_from(month_of_now(), PARTITIONS_AHEAD))
        await mirror(conn, tenancy_of(config))
        return applied
    finally:
        await conn.close()


async def write_now(config: Config, events: list[AuditEvent]) -> None:
    """Write events at once, outside a running appliance (CLI actions such as token creation).

    No spool: a CLI run reports a failure to its operator instead of leaving files behind.
    """
    pipeline = pipeline_for(config, spool=False)
    for e in events:
        pipeline.emit(e)
    try:
        await pipeline.sink.write(list(pipeline.queue), replay=True)
    finally:
        await pipeline.sink.close()


__all__ = [
    "FORMATS",
    "SYSTEM_ORG",
    "AuditEvent",
    "LocalSink",
    "NullSink",
    "Page",
    "Pipeline",
    "PostgresSink",
    "Query",
    "QueryError",
    "ReadError",
    "Reader",
    "Result",
    "Sink",
    "Spool",
    "Surface",
    "build_query",
    "emit",
    "flush_metrics",
    "install",
    "migrate_database",
    "pipeline_for",
    "reconfigure",
    "render",
    "render_csv",
    "render_lines",
    "replay_spool",
    "sink_for",
    "tenancy_of",
    "uninstall",
    "write_now",
]
