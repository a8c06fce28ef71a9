"""Reading pages of the audit trail from whichever sink the config names.

PostgreSQL: one indexed keyset query per page. The embedded JSON-lines sink: one pass over the
file keeping only the page's rows (memory bounded by the page size, not by the file).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterator
from typing import Any

import asyncpg
import orjson

from audit.postgres import fetch_page
from audit.query import Cursor, Page, Query, row_from_event, seconds_to_us
from config.schema import Audit


class ReadError(Exception):
    """The trail cannot be read (no sink, database unreachable); the message says why."""


class Reader:
    def __init__(self, settings: Audit) -> None:
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    async def page(self, query: Query) -> Page:
        s = self.settings
        if s.sink == "postgres":
            try:
                pool = await self._get_pool()
                async with pool.acquire(timeout=s.connect_timeout_s) as conn:
                    return await fetch_page(conn, query)
            except asyncpg.UndefinedTableError:
                raise ReadError(
                    "no audit schema in this database: run `tollgate db migrate --config FILE` "
                    "(or start `serve` with audit.auto_migrate)"
                ) from None
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                raise ReadError(f"the audit database did not answer ({e.__class__.__name__}: {e})") from None
        if s.sink == "local":
            return await asyncio.get_running_loop().run_in_executor(None, read_local, s.path, query)
        raise ReadError("audit.sink is 'none': this appliance stores no audit events")

    async def _get_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                assert self.settings.dsn is not None
                self._pool = await asyncpg.create_pool(
                    self.settings.dsn, min_size=0, max_size=2, timeout=self.settings.connect_timeout_s,
                    statement_cache_size=0,
                )  # fmt: skip
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def read_local(path: str, query: Query) -> Page:
    def matching() -> Iterator[tuple[int, str, dict[str, Any]]]:
        for data in _lines(path):
            ts_us = seconds_to_us(float(data.get("ts") or 0))
            if query.matches(data, ts_us):
                yield ts_us, data.get("event_id") or "", data

    found = heapq.nlargest(query.limit + 1, matching(), key=lambda t: (t[0], t[1]))
    rows = [row_from_event(data) for _, _, data in found[: query.limit]]
    more = len(found) > query.limit
    cursor = Cursor(found[query.limit - 1][0], found[query.limit - 1][1]).encode() if more else None
    return Page(rows, cursor)


def _lines(path: str) -> Iterator[dict[str, Any]]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below, after the existence check
    except FileNotFoundError:
        return
    with f:
        for line in f:
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line a crash cut short
            if isinstance(data, dict):
                yield data
