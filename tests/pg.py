"""Real PostgreSQL for tests: each test gets a database of its own, dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

PG_HOST = os.environ.get("TOLLGATE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TOLLGATE_TEST_PG_PORT", "5432"))
ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"


def dsn_for(database: str, port: int = PG_PORT) -> str:
    return f"postgresql://postgres@{PG_HOST}:{port}/{database}"


async def admin_execute(sql: str, dsn: str = ADMIN_DSN) -> None:
    """One statement on a connection of its own (CREATE/DROP DATABASE cannot run in a transaction)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """CREATE DATABASE with a random name; yields its name; DROP … WITH (FORCE) after."""
    name = "tollgate_test_" + uuid.uuid4().hex[:12]
    asyncio.run(admin_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fetch(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())
