"""The PostgreSQL sink and reader.

Writes are binary `COPY` (asyncpg's `copy_records_to_table`) of whole batches. A batch that has
never been tried goes straight into `audit_events`. A batch that may already be there (a retry
after an ambiguous failure, a replay from the spool) is copied into a temporary staging table
and moved over with `INSERT … ON CONFLICT DO NOTHING`, so an event is stored exactly once
however often it is sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import asyncpg
import orjson

from audit.event import AuditEvent
from audit.query import COLUMNS, Cursor, Page, Query, datetime_to_us, iso, seconds_to_us, us_to_datetime
from audit.schema import Tenancy, ensure_orgs, ensure_partitions, migrate, mirror, month_of, months_from, schema_version

log = logging.getLogger("tollgate.audit")

# Partitions exist for this month and the next ones before any event needs them.
PARTITIONS_AHEAD = 3
_STAGING = "tollgate_audit_staging"


class SchemaMissing(Exception):
    pass


def to_record(e: AuditEvent) -> tuple[Any, ...]:
    """One event as a COPY row, in `audit.query.COLUMNS` order."""
    return (
        us_to_datetime(seconds_to_us(e.ts)), e.org_id, e.team_id, e.actor_type, e.actor_id, e.parent_actor_id,
        e.surface, e.action, e.resource, e.result, e.status, e.latency_ms, e.tokens_in, e.tokens_out, e.cost_usd,
        _json(e.pii_counts), _json(e.detail), e.request_id, e.event_id, e.version,
    )  # fmt: skip


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode() if value else "{}"


async def connect(dsn: str, timeout_s: float) -> asyncpg.Connection:
    # No statement cache: the sink's statements are few, and poolers in transaction mode break it.
    return await asyncpg.connect(dsn, timeout=timeout_s, statement_cache_size=0)


class PostgresSink:
    """One connection per worker, opened lazily and reopened after any failure."""

    def __init__(
        self, dsn: str, tenancy: Tenancy, *, auto_migrate: bool, connect_timeout_s: float, write_timeout_s: float
    ) -> None:
        self.dsn = dsn
        self.auto_migrate = auto_migrate
        self.connect_timeout_s = connect_timeout_s
        self.write_timeout_s = write_timeout_s
        self._tenancy = tenancy
        self._mirrored: Tenancy | None = None
        self._conn: asyncpg.Connection | None = None
        self._partitions: set[date] = set()
        self._orgs: set[str] = set()

    def set_tenancy(self, tenancy: Tenancy) -> None:
        """A reloaded config: mirrored before the next batch is written."""
        self._tenancy = tenancy

    async def write(self, events: Sequence[AuditEvent], *, replay: bool = False) -> None:
        try:
            async with asyncio.timeout(self.write_timeout_s):
                conn = await self._connection()
                await self._prepare(conn, events)
                # A generator, not a list: asyncpg sends each filled buffer while the rest is still
                # being encoded, so PostgreSQL inserts while Python converts.
                records = (to_record(e) for e in events)
                if replay:
                    await self._copy_deduplicated(conn, records)
                else:
                    await conn.copy_records_to_table("audit_events", records=records, columns=COLUMNS)
        except BaseException:
            # The connection's state is unknown (a COPY cut half-way): start afresh next time.
            await self._drop_connection()
            raise

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        conn = await connect(self.dsn, self.connect_timeout_s)
        try:
            if self.auto_migrate:
                await migrate(conn)
            elif await schema_version(conn) == 0:
                raise SchemaMissing("the audit schema is missing: run `tollgate db migrate --config FILE`")
            await conn.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} (LIKE audit_events INCLUDING DEFAULTS)"
                " ON COMMIT DELETE ROWS"
            )
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        self._partitions.clear()
        self._orgs.clear()
        self._mirrored = None
        return conn

    async def _prepare(self, conn: asyncpg.Connection, events: Sequence[AuditEvent]) -> None:
        """Tenancy mirrored, orgs known and partitions made before the rows that need them."""
        if self._mirrored is not self._tenancy:
            tenancy = self._tenancy
            await mirror(conn, tenancy)
            self._mirrored = tenancy
            self._orgs.update(tenancy.orgs)
        months = {month_of(e.ts) for e in events}
        if not months <= self._partitions:
            wanted = set(months_from(month_of_now(), PARTITIONS_AHEAD)) | months
            await ensure_partitions(conn, sorted(wanted - self._partitions))
            self._partitions |= wanted
        orgs = {e.org_id for e in events}
        if not orgs <= self._orgs:
            await ensure_orgs(conn, orgs - self._orgs)
            self._orgs |= orgs

    async def _copy_deduplicated(self, conn: asyncpg.Connection, records: Iterable[tuple[Any, ...]]) -> None:
        columns = ", ".join(COLUMNS)
        async with conn.transaction():
            await conn.copy_records_to_table(_STAGING, records=records, columns=COLUMNS)
            await conn.execute(
                f"INSERT INTO audit_events ({columns}) SELECT {columns} FROM {_STAGING} ON CONFLICT DO NOTHING"
            )

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 2.0)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                conn.terminate()


def month_of_now() -> date:
    return month_of(time.time())


async def fetch_page(conn: asyncpg.Connection, query: Query) -> Page:
    sql, args = query.sql()
    records = await conn.fetch(sql, *args)
    rows = [_row(r) for r in records[: query.limit]]
    more = len(records) > query.limit
    return Page(rows, _cursor_of(records[query.limit - 1]) if more else None)


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    row["ts"] = iso(datetime_to_us(record["ts"]))
    row["pii_counts"] = orjson.loads(row["pii_counts"])
    row["detail"] = orjson.loads(row["detail"])
    return row


def _cursor_of(record: asyncpg.Record) -> str:
    return Cursor(datetime_to_us(record["ts"]), record["event_id"]).encode()
