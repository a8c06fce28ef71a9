"""gateway.admin through its `AdminView` alone: the admin API served without a worker process
(real HTTP on loopback, a real in-process budget store)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import audit
from audit import LocalSink, Pipeline
from budget import BudgetGuard, MemoryStore, agent_budgets, to_nano
from config import Config, hash_token, parse_config
from config.schema import BudgetStore
from gateway.admin import admin_app

ADMIN_TOKEN = "tg-admin-unit-test-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGENT = {"id": "a", "tokens": [hash_token("tg-a-0123456789abcdef")]}
Client = TestClient[web.Request, web.Application]


@dataclass
class View:
    """A worker as the admin API sees it; reloads answer from a list (True: the file was valid)."""

    config: Config
    guard: BudgetGuard
    audit_reader: audit.Reader
    config_path: str = "/etc/tollgate/config.yaml"
    ready: bool = True
    reloads: list[bool] = field(default_factory=list)

    def request_reload(self) -> bool:
        return self.reloads.pop(0)


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


@pytest.fixture
async def view(tmp_path: Path) -> AsyncIterator[View]:
    config = parse_config(
        yaml.safe_dump(
            {
                "admin": {"token_sha256": hash_token(ADMIN_TOKEN)},
                "providers": [{"name": "mock", "kind": "mock", "models": [{"name": "m"}]}],
                "orgs": [
                    {
                        "id": "acme",
                        "budget": {"monthly_usd": 10.0},
                        "teams": [
                            {"id": "t", "agents": [{"id": "a", "tokens": [hash_token("tg-a-0123456789abcdef")]}]}
                        ],
                    }
                ],
                "audit": {"sink": "local", "path": str(tmp_path / "audit.jsonl")},
            }
        )
    )
    guard = BudgetGuard(MemoryStore(30), BudgetStore())
    yield View(config, guard, audit.Reader(config.audit))
    await guard.close()


@pytest.fixture
async def client(view: View) -> AsyncIterator[Client]:
    async with TestClient(TestServer(admin_app(view), host="127.0.0.1")) as c:
        yield c


async def test_readiness_follows_the_view(client: Client, view: View) -> None:
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200 and body["ready"] is True and body["config"] == view.config_path
    view.ready = False
    assert (await client.get("/readyz")).status == 503


async def test_reload_needs_the_token_and_says_when_the_file_was_refused(client: Client, view: View) -> None:
    assert (await client.post("/admin/reload")).status == 401
    view.reloads = [False, True]
    refused = await client.post("/admin/reload", headers=ADMIN)
    assert refused.status == 400 and (await refused.json())["error"]["code"] == "invalid_config"
    accepted = await client.post("/admin/reload", headers=ADMIN)
    assert accepted.status == 200 and await accepted.json() == {"reloaded": True}


async def test_budget_report_reads_the_views_guard(client: Client, view: View) -> None:
    plan = view.guard.plan(agent_budgets(view.config)["a"])
    _, reservation = await view.guard.reserve(plan, "r1", to_nano(1.5))
    assert reservation is not None
    report = await client.get("/admin/budgets", params={"org": "acme"}, headers=ADMIN)
    (counter,) = (await report.json())["counters"]
    assert (counter["level"], counter["reserved_usd"], counter["remaining_usd"]) == ("org", 1.5, 8.5)
    assert (await client.get("/admin/budgets", params={"org": "nope"}, headers=ADMIN)).status == 404


async def test_unknown_routes_and_wrong_methods_get_openai_shaped_errors(client: Client) -> None:
    missing = await client.get("/admin/nope", headers=ADMIN)
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "unknown_route"
    wrong = await client.post("/admin/audit", params={"org": "acme"}, headers=ADMIN)
    assert wrong.status == 405 and (await wrong.json())["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    get_reload = await client.get("/admin/reload", headers=ADMIN)
    assert get_reload.status == 405 and get_reload.headers["Allow"] == "POST"
    assert "use POST" in (await get_reload.json())["error"]["message"]


async def test_admin_calls_carry_a_request_id_into_their_audit_row(
    client: Client, view: View, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "_pipeline", None)
    audit.install(Pipeline(LocalSink(view.config.audit.path), queue_size=10, batch_size=10, flush_interval_s=60))
    report = await client.get("/admin/budgets", params={"org": "acme"}, headers=ADMIN)
    refused = await client.get("/admin/budgets", params={"org": "acme"})
    ids = [r.headers["x-request-id"] for r in (report, refused)]
    assert all(i.startswith("req_") for i in ids) and ids[0] != ids[1]
    await audit.uninstall()  # flush the embedded sink
    with open(view.config.audit.path) as f:  # noqa: ASYNC230 - a small local file, after the loop's work is done
        rows = {e["request_id"]: e for e in map(json.loads, f)}
    assert rows[ids[0]]["action"] == "budgets.read" and rows[ids[1]]["surface"] == "auth"
