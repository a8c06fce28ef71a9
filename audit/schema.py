"""The PostgreSQL schema: numbered migrations, monthly partitions, the tenancy mirror.

`migrate()` is idempotent and safe to run from several workers or replicas at once: an advisory
lock serialises it and each migration runs in its own transaction, recorded in
`tollgate_migrations`. Append new migrations to `MIGRATIONS`; never edit an applied one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg

from audit.event import SYSTEM_ORG

# pg_advisory_lock keys: any constant unlikely to be used by another application on the database.
_MIGRATE_LOCK = 0x746F6C6C_67617465  # "tollgate"

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "tenancy and the partitioned audit_events table",
        f"""
        CREATE TABLE orgs (
            id text PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO orgs (id) VALUES ('{SYSTEM_ORG}');
        CREATE TABLE teams (
            org_id text NOT NULL REFERENCES orgs (id),
            id text NOT NULL,
            PRIMARY KEY (org_id, id)
        );
        CREATE TABLE agents (
            id text PRIMARY KEY,
            org_id text NOT NULL REFERENCES orgs (id),
            team_id text NOT NULL,
            parent_id text,
            FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id)
        );
        CREATE TABLE audit_events (
            event_id uuid NOT NULL,
            ts timestamptz NOT NULL,
            version smallint NOT NULL,
            request_id text NOT NULL,
            org_id text NOT NULL REFERENCES orgs (id),
            team_id text NOT NULL,
            actor_type text NOT NULL,
            actor_id text NOT NULL,
            parent_actor_id text NOT NULL,
            surface text NOT NULL,
            action text NOT NULL,
            resource text NOT NULL,
            result text NOT NULL,
            status integer NOT NULL,
            latency_ms double precision NOT NULL,
            tokens_in bigint NOT NULL,
            tokens_out bigint NOT NULL,
            cost_usd double precision NOT NULL,
            pii_counts jsonb NOT NULL,
            detail jsonb NOT NULL,
            PRIMARY KEY (event_id, ts)
        ) PARTITION BY RANGE (ts);
        -- What operators ask: an org's recent events, one actor's (and its subagents'), one
        -- request, the refusals.
        CREATE INDEX audit_events_org_ts ON audit_events (org_id, ts);
        CREATE INDEX audit_events_actor_ts ON audit_events (org_id, actor_id, ts);
        CREATE INDEX audit_events_parent_ts ON audit_events (org_id, parent_actor_id, ts)
            WHERE parent_actor_id <> '';
        CREATE INDEX audit_events_request ON audit_events (request_id) WHERE request_id <> '';
        CREATE INDEX audit_events_denied ON audit_events (org_id, ts) WHERE result = 'denied';

        -- One month's partition, created once whoever asks first (workers race at start-up).
        CREATE FUNCTION tollgate_audit_partition(month date) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            start date := date_trunc('month', month)::date;
            name text := 'audit_events_' || to_char(start, 'YYYYMM');
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('tollgate_audit_partition'));
            IF to_regclass(name) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
                    name,
                    (start::timestamp AT TIME ZONE 'UTC'),
                    ((start + interval '1 month')::timestamp AT TIME ZONE 'UTC')
                );
            END IF;
        END $$;
        """,
    ),
)

LATEST = MIGRATIONS[-1][0]


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply what is missing; returns the versions applied now (empty when up to date)."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS tollgate_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    applied: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATE_LOCK)
    try:
        done = {r["version"] for r in await conn.fetch("SELECT version FROM tollgate_migrations")}
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO tollgate_migrations (version, name) VALUES ($1, $2)", version, name)
            applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATE_LOCK)
    return applied


async def schema_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('tollgate_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM tollgate_migrations"))


def month_of(ts: float) -> date:
    moment = datetime.fromtimestamp(ts, UTC)
    return date(moment.year, moment.month, 1)


def months_from(first: date, count: int) -> list[date]:
    """`first` and the `count - 1` months after it (partitions are made ahead of need)."""
    out = []
    year, month = first.year, first.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


async def ensure_partitions(conn: asyncpg.Connection, months: Iterable[date]) -> None:
    for month in months:
        await conn.execute("SELECT tollgate_audit_partition($1)", month)


@dataclass(frozen=True, slots=True)
class Tenancy:
    """Orgs, teams and agents as the config has them, to mirror into their tables."""

    orgs: tuple[str, ...]
    teams: tuple[tuple[str, str], ...]  # (org, team)
    agents: tuple[tuple[str, str, str, str | None], ...]  # (agent, org, team, parent)


async def mirror(conn: asyncpg.Connection, tenancy: Tenancy) -> None:
    """Upsert the config's tenancy. Nothing is deleted: old audit rows still name removed orgs."""
    async with conn.transaction():
        await conn.execute("INSERT INTO orgs (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", list(tenancy.orgs))
        await conn.execute(
            "INSERT INTO teams (org_id, id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            [t[0] for t in tenancy.teams],
            [t[1] for t in tenancy.teams],
        )
        await conn.execute(
            "INSERT INTO agents (id, org_id, team_id, parent_id)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
            " ON CONFLICT (id) DO UPDATE SET org_id = EXCLUDED.org_id, team_id = EXCLUDED.team_id,"
            " parent_id = EXCLUDED.parent_id",
            *([list(col) for col in zip(*tenancy.agents, strict=True)] or [[], [], [], []]),
        )


async def ensure_orgs(conn: asyncpg.Connection, org_ids: Iterable[str]) -> None:
    """Orgs seen in events but not (yet) mirrored: a reload raced the batch. Keeps the FK true."""
    await conn.execute("INSERT INTO orgs (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", list(org_ids))
