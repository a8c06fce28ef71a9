"""The audit trail in real PostgreSQL: every test has a database of its own.

tollgate runs as a real process; events come from real requests through the OpenAI SDK and
httpx. Outages are made with a loopback TCP relay in front of the shared server (`TcpProxy`),
so the database "goes away" for tollgate alone.
"""

from __future__ import annotations

import asyncio
import copy
import glob
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

import audit
from audit import AuditEvent, Pipeline, PostgresSink, Tenancy
from config import hash_token
from tests.conftest import ALICE, CAROL, PROVIDER_KEY, ROOT, Gateway, base_config
from tests.pg import PG_HOST, PG_PORT, dsn_for, fetch, fresh_database
from tests.tcp_proxy import TcpProxy
from tests.upstream import Upstream, free_port

ADMIN = {"Authorization": "Bearer tg-admin-test-token"}
SUB = "tg-test-alice-sub-0123456789abcdefghijkl"  # acme/research, subagent of alice
PLANTED_EMAIL = "planted.person@example.org"


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as name:
        yield name


def pg_config(upstream: Upstream, dsn: str, **audit_settings: Any) -> dict[str, Any]:
    config = base_config(upstream.base_url, free_port(), free_port())
    research = config["orgs"][0]["teams"][0]
    research["agents"].append({"id": "alice-sub", "parent": "alice", "tokens": [hash_token(SUB)]})
    config["audit"] = {
        "sink": "postgres", "dsn": dsn, "flush_interval_s": 0.05, "retry_max_s": 0.2, "connect_timeout_s": 1,
        "spool_dir": "var/audit-spool", **audit_settings,
    }  # fmt: skip
    return config


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def rows(dsn: str, where: str = "true", *args: Any) -> list[dict[str, Any]]:
    return fetch(dsn, f"SELECT *, event_id::text AS eid FROM audit_events WHERE {where} ORDER BY ts", *args)


def chat(gw: Gateway, token: str, content: str = "hello", model: str = "mock-gpt") -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": model, "messages": [{"role": "user", "content": content}]},
        timeout=10,
    )


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


# -- schema and migrations -------------------------------------------------------------------


def test_db_migrate_is_idempotent_and_mirrors_the_tenancy(upstream: Upstream, database: str, tmp_path: Path):
    dsn = dsn_for(database)
    gw = Gateway(tmp_path, pg_config(upstream, dsn))
    first = cli("db", "migrate", "--config", str(gw.config_path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied migrations 1" in first.stdout
    again = cli("db", "migrate", "--config", str(gw.config_path), cwd=tmp_path)
    assert again.returncode == 0 and "already up to date" in again.stdout
    assert [r["version"] for r in fetch(dsn, "SELECT version FROM tollgate_migrations")] == [1]
    orgs = {r["id"] for r in fetch(dsn, "SELECT id FROM orgs")}
    assert orgs == {"_system", "acme", "globex"}
    agents = {r["id"]: (r["org_id"], r["team_id"], r["parent_id"]) for r in fetch(dsn, "SELECT * FROM agents")}
    assert agents["alice-sub"] == ("acme", "research", "alice") and agents["carol"] == ("globex", "g", None)
    # This month's partition and the two after it exist before any event needs them.
    parts = {r["relname"] for r in fetch(dsn, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid")}
    now = datetime.now(UTC)
    months = [(now.year + (now.month - 1 + k) // 12, (now.month - 1 + k) % 12 + 1) for k in range(3)]
    assert {f"audit_events_{y}{m:02d}" for y, m in months} <= parts
    indexes = {r["indexname"] for r in fetch(dsn, "SELECT indexname FROM pg_indexes WHERE tablename = 'audit_events'")}
    assert {"audit_events_org_ts", "audit_events_actor_ts", "audit_events_request", "audit_events_denied"} <= indexes
    # Every audit row must name a known org.
    fk = fetch(dsn, "SELECT confrelid::regclass::text AS t FROM pg_constraint WHERE conrelid = 'audit_events'::regclass"
               " AND contype = 'f'")  # fmt: skip
    assert [r["t"] for r in fk] == ["orgs"]


def test_db_migrate_says_what_is_wrong(tmp_path: Path, upstream: Upstream):
    local = Gateway(tmp_path, base_config(upstream.base_url, free_port(), free_port()))
    r = cli("db", "migrate", "--config", str(local.config_path), cwd=tmp_path)
    assert r.returncode == 2 and "audit.sink is 'local'; nothing to migrate" in r.stderr
    down = Gateway(tmp_path, pg_config(upstream, dsn_for("nothing", port=free_port())))
    r = cli("db", "migrate", "--config", str(down.config_path), cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("tollgate db migrate: ") and len(r.stderr.splitlines()) == 1


# -- events from real requests ---------------------------------------------------------------


def test_events_from_real_requests_land_with_their_fields(upstream: Upstream, database: str, tmp_path: Path):
    dsn = dsn_for(database)
    config = pg_config(upstream, dsn)
    config["orgs"][1]["teams"][0]["agents"][0]["budget"] = {"daily_usd": 0.000001}  # carol: every request refused
    gw = Gateway(tmp_path, config).start()
    try:
        client = openai.OpenAI(base_url=gw.base_url, api_key=ALICE, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="up-gpt", messages=[{"role": "user", "content": f"mail {PLANTED_EMAIL} please"}]
        )
        ok_id = raw.headers["x-request-id"]
        sub_id = chat(gw, SUB).headers["x-request-id"]
        bad = chat(gw, "tg-not-a-token")
        denied = chat(gw, CAROL, model="up-gpt")
        assert (bad.status_code, denied.status_code) == (401, 429)
        assert httpx.get(gw.admin_url + "/admin/audit?org=acme", headers=ADMIN).status_code == 200
        ids = [ok_id, sub_id, bad.headers["x-request-id"], denied.headers["x-request-id"]]
        assert wait_until(lambda: len(rows(dsn, "request_id = ANY($1)", ids)) == 4)
        by_id = {r["request_id"]: r for r in rows(dsn, "request_id = ANY($1)", ids)}
        ok = by_id[ok_id]
        assert (ok["org_id"], ok["team_id"], ok["actor_type"], ok["actor_id"]) == ("acme", "research", "agent", "alice")
        assert (ok["surface"], ok["action"], ok["result"], ok["status"], ok["resource"]) == (
            "llm", "chat/completions", "allowed", 200, "up-gpt",
        )  # fmt: skip
        assert ok["tokens_in"] > 0 and ok["tokens_out"] > 0 and ok["cost_usd"] > 0 and ok["latency_ms"] > 0
        assert '"EMAIL": 1' in ok["pii_counts"] and ok["version"] == audit.event.EVENT_VERSION
        assert by_id[sub_id]["parent_actor_id"] == "alice" and by_id[sub_id]["actor_id"] == "alice-sub"
        auth = by_id[bad.headers["x-request-id"]]
        assert (auth["surface"], auth["result"], auth["status"], auth["org_id"]) == ("auth", "denied", 401, "_system")
        budget = by_id[denied.headers["x-request-id"]]
        assert (budget["surface"], budget["result"], budget["status"], budget["org_id"]) == (
            "budget", "denied", 429, "globex",
        )  # fmt: skip
        assert wait_until(lambda: rows(dsn, "surface = 'admin' AND action = 'audit.query'"))
        [load] = rows(dsn, "surface = 'config' AND action = 'load'")
        assert load["detail"].startswith('{"config_sha256": "sha256:')
    finally:
        gw.stop()
    # Nothing in any row holds the planted PII value or a secret (provider key, agent token).
    dump = str(fetch(dsn, "SELECT a::text FROM audit_events a"))
    for planted in (PLANTED_EMAIL, PROVIDER_KEY, ALICE, CAROL, "tg-not-a-token"):
        assert planted not in dump
