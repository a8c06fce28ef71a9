"""Budgets through the LLM door: real tollgate processes, real Redis, real clients."""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from budget import to_nano, to_usd
from config import hash_token
from gateway.tokenizer import count_request, encoding
from tests.conftest import ALICE, BOB, CAROL, Gateway, base_config
from tests.upstream import free_port, wait_until

MESSAGES = [{"role": "user", "content": "please repeat all of these words back to me right now"}]
MAX_TOKENS = 10
PRICE = 1000.0  # USD per 1M tokens: a thousandth of a dollar per token keeps the arithmetic readable
PROMPT = count_request(encoding("o200k_base"), "/chat/completions", {"messages": MESSAGES})
WORST = to_usd(to_nano((PROMPT + MAX_TOKENS) * PRICE / 1e6))  # what tollgate reserves per request
ADMIN = {"Authorization": "Bearer tg-admin-test-token"}


def budget_config(upstream_url: str, redis_url: str | None, prefix: str, timeout_ms: float = 1000) -> dict[str, Any]:
    """A generous store timeout by default: these tests check atomicity, not fail-open under load."""
    config = base_config(upstream_url, free_port(), free_port())
    config["providers"].append(
        {
            "name": "priced",
            "kind": "mock",
            "mock": {"chunks": 20, "chunk_delay_ms": 40},
            "models": [
                {"name": "priced-gpt", "input_usd_per_1m": PRICE, "output_usd_per_1m": PRICE},
            ],
        }
    )
    config["providers"].append(
        {
            "name": "fast",
            "kind": "mock",
            "models": [{"name": "fast-gpt", "input_usd_per_1m": PRICE, "output_usd_per_1m": PRICE}],
        }
    )
    acme = config["orgs"][0]
    acme["budget"] = {"monthly_usd": 1000.0}
    acme["teams"][0]["budget"] = {"daily_usd": round(WORST * 10.5, 9)}  # room for exactly 10 worst cases
    acme["teams"][1]["agents"][0]["models"] = ["up-gpt", "priced-gpt", "fast-gpt"]
    acme["teams"][1]["agents"][0]["budget"] = {"total_usd": 1.0, "clamp_max_tokens": True}
    config["budget"] = {"store": "redis" if redis_url else "memory", "key_prefix": prefix, "timeout_ms": timeout_ms}
    if redis_url:
        config["budget"]["redis_url"] = redis_url
    return config


def chat(gw: Gateway, token: str, model: str = "fast-gpt", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, "max_tokens": MAX_TOKENS, **extra}
    return httpx.post(gw.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"})


def counters(gw: Gateway, org: str = "acme") -> dict[tuple[str, str, str], dict[str, Any]]:
    r = httpx.get(gw.admin_url + "/admin/budgets", params={"org": org}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return {(c["level"], c["id"], c["period"]): c for c in r.json()["counters"]}


@pytest.fixture
def redis_gateway(upstream, tmp_path: Path, prefix: str) -> Iterator[Gateway]:
    gw = Gateway(tmp_path, budget_config(upstream.base_url, "redis://127.0.0.1:6379/0", prefix), workers=2)
    yield gw
    if gw.proc is not None:
        gw.stop()
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys = list(client.scan_iter(prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_two_hundred_concurrent_requests_two_workers_budget_for_ten(redis_gateway: Gateway):
    gw = redis_gateway.start()

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            body = {"model": "fast-gpt", "messages": MESSAGES, "max_tokens": MAX_TOKENS}
            headers = {"Authorization": f"Bearer {ALICE}"}
            url = gw.base_url + "/chat/completions"
            return await asyncio.gather(*(client.post(url, json=body, headers=headers) for _ in range(200)))

    responses = asyncio.run(burst())
    statuses = [r.status_code for r in responses]
    unchecked = [e for e in gw.audit_events() if e["detail"].get("budget_unchecked")]
    assert unchecked == [], "the store timed out and requests failed open; the count below would be meaningless"
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 190
    refused = next(r for r in responses if r.status_code == 429).json()["error"]
    assert refused["type"] == "budget_exceeded" and refused["code"] == "team_daily"
    assert wait_until(lambda: counters(gw)[("team", "research", "daily")]["reserved_usd"] == 0)
    team = counters(gw)[("team", "research", "daily")]
    assert team["spent_usd"] == pytest.approx(10 * WORST) and team["spent_usd"] <= team["limit_usd"]
    assert counters(gw)[("org", "acme", "monthly")]["spent_usd"] == pytest.approx(10 * WORST)
    # Other orgs and teams are untouched and still served.
    assert chat(gw, CAROL).status_code == 200
    assert chat(gw, BOB).status_code == 200


def test_429_says_which_level_and_when_it_resets(redis_gateway: Gateway):
    gw = redis_gateway.start()
    for _ in range(10):
        ok = chat(gw, ALICE)
        assert ok.status_code == 200
        assert float(ok.headers["x-tollgate-budget-remaining"]) >= 0
    r = chat(gw, ALICE)
    assert r.status_code == 429
    err = r.json()["error"]
    assert err["type"] == "budget_exceeded" and err["code"] == "team_daily" and "team daily limit" in err["message"]
    assert 0 < int(r.headers["retry-after"]) <= 86400
    c = openai.OpenAI(base_url=gw.base_url, api_key=ALICE, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        c.chat.completions.create(model="fast-gpt", messages=MESSAGES, max_tokens=MAX_TOKENS)
    denials = gw.audit_where(lambda e: e["surface"] == "budget")
    assert denials[-1]["result"] == "denied" and denials[-1]["detail"]["reason"] == "team_daily"
    metrics = httpx.get(gw.admin_url + "/metrics").text
    assert 'tollgate_budget_denials_total{level="team",period="daily"}' in metrics


def test_streams_are_charged_including_ones_the_client_cuts(redis_gateway: Gateway):
    gw = redis_gateway.start()
    body = {"model": "priced-gpt", "messages": MESSAGES, "stream": True}
    headers = {"Authorization": f"Bearer {BOB}"}
    with httpx.stream("POST", gw.base_url + "/chat/completions", json=body, headers=headers) as r:
        full = [line for line in r.iter_lines() if line]
    assert full[-1] == "data: [DONE]"
    assert wait_until(lambda: counters(gw)[("agent", "bob", "total")]["reserved_usd"] == 0)
    whole = counters(gw)[("agent", "bob", "total")]["spent_usd"]
    assert whole > PROMPT * PRICE / 1e6  # prompt and output were charged

    port = int(gw.base_url.split(":")[2].split("/")[0])
    raw = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {BOB}\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
            + raw
        )
        seen = b""
        while seen.count(b'"content"') < 3:
            seen += s.recv(65536)
    assert wait_until(lambda: counters(gw)[("agent", "bob", "total")]["reserved_usd"] == 0)
    cut = counters(gw)[("agent", "bob", "total")]["spent_usd"] - whole
    assert PROMPT * PRICE / 1e6 < cut < whole  # the prompt and the part that was streamed, not more


def test_clamp_lowers_max_tokens_to_what_is_left(redis_gateway: Gateway):
    gw = redis_gateway.start()
    # Spend bob's total dollar down to about 40 tokens' worth.
    big = int(1.0 / (PRICE / 1e6)) - PROMPT - 40
    r = chat(gw, BOB, max_tokens=big)
    assert r.status_code == 200
    clamped = chat(gw, BOB, max_tokens=4000)
    assert clamped.status_code == 200, clamped.text
    usage = clamped.json()["usage"]
    assert clamped.json()["choices"][0]["finish_reason"] == "length" or usage["completion_tokens"] < 40
    event = gw.audit_for(clamped.headers["x-request-id"])
    assert 16 <= event["detail"]["clamped_max_tokens"] < 4000


# Commands the reserve and settle scripts run inside Redis: counted in commandstats, but no round trip.
SCRIPT_COMMANDS = {"zrangebyscore", "hget", "hexists", "hmget", "hincrby", "expireat", "hset", "hdel", "zadd", "zrem"}


def client_commands(client: redis.Redis) -> dict[str, int]:
    """Calls per command a private Redis has served, less what the scripts ran and what asked."""
    stats: dict[str, Any] = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): v["calls"]
        for name, v in stats.items()
        if name.removeprefix("cmdstat_") not in SCRIPT_COMMANDS | {"info", "ping"}
    }


def test_a_clamped_request_costs_one_reserve_round_trip(upstream, tmp_path: Path, prefix: str):
    """Clamping is arithmetic inside the reserve script: shrinking a request never asks Redis twice."""
    port = free_port()
    server = redis_server(port, tmp_path)
    client = redis.Redis(port=port)
    gw = Gateway(tmp_path, budget_config(upstream.base_url, f"redis://127.0.0.1:{port}/0", prefix)).start()
    try:
        big = int(1.0 / (PRICE / 1e6)) - PROMPT - 40  # bob's total dollar down to ~40 tokens' worth
        assert chat(gw, BOB, max_tokens=big).status_code == 200  # also opens the connection, loads the scripts
        assert wait_until(lambda: client_commands(client).get("evalsha") == 2)  # its reserve and settle
        before = client_commands(client)
        clamped = chat(gw, BOB, max_tokens=4000)
        assert clamped.status_code == 200, clamped.text
        assert 16 <= gw.audit_for(clamped.headers["x-request-id"])["detail"]["clamped_max_tokens"] < 4000
        assert wait_until(lambda: client_commands(client).get("evalsha") == before["evalsha"] + 2)
        time.sleep(0.2)  # a second reserve, had there been one, would have landed by now
        after = client_commands(client)
        assert after == {**before, "evalsha": before["evalsha"] + 2}, (before, after)  # one reserve, one settle
    finally:
        gw.stop()
        client.close()
        server.kill()
        server.wait()


def redis_server(port: int, tmp: Path, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ping = ["redis-cli", "-p", str(port), "ping"]
    answers = (b"PONG", b"NOAUTH Authentication required.")
    assert wait_until(lambda: subprocess.run(ping, capture_output=True).stdout.strip() in answers)
    return proc


def test_redis_killed_mid_load_fails_open_and_reconciles(upstream, tmp_path: Path, prefix: str):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    redis = redis_server(port, tmp_path)
    config = budget_config(upstream.base_url, f"redis://127.0.0.1:{port}/0", prefix, timeout_ms=100)
    gw = Gateway(tmp_path, config).start()
    try:
        assert chat(gw, BOB).status_code == 200
        assert wait_until(lambda: counters(gw)[("agent", "bob", "total")]["spent_usd"] > 0)  # settled
        redis.kill()
        redis.wait()
        outage = []
        for _ in range(5):
            start = time.monotonic()
            r = chat(gw, BOB)
            outage.append(r)
            assert r.status_code == 200 and time.monotonic() - start < 1.0  # nothing hangs on the dead store
        events = [gw.audit_for(r.headers["x-request-id"]) for r in outage]
        assert all(e["detail"].get("budget_unchecked") for e in events)
        assert "tollgate_budget_store_errors_total" in httpx.get(gw.admin_url + "/metrics").text
        shadow = sum(e["cost_usd"] for e in events)

        redis = redis_server(port, tmp_path)  # an empty Redis: what it knows comes from tollgate
        time.sleep(1.2)  # the circuit breaker's cool-down
        after = chat(gw, BOB)
        assert after.status_code == 200
        cost_after = gw.audit_for(after.headers["x-request-id"])["cost_usd"]
        assert wait_until(
            lambda: counters(gw)[("agent", "bob", "total")]["spent_usd"] == pytest.approx(shadow + cost_after)
        ), (counters(gw)[("agent", "bob", "total")]["spent_usd"], shadow, cost_after)
    finally:
        gw.stop()
        redis.kill()


def test_fail_closed_returns_503_when_the_store_is_down(upstream, tmp_path: Path, prefix: str):
    config = budget_config(upstream.base_url, f"redis://127.0.0.1:{free_port()}/0", prefix)
    config["budget"]["fail_closed"] = True
    gw = Gateway(tmp_path, config).start()
    try:
        r = chat(gw, BOB)
        assert r.status_code == 503 and r.json()["error"]["code"] == "budget_store_unavailable"
        assert chat(gw, CAROL).status_code == 200  # an org without limits needs no store
    finally:
        gw.stop()


def test_memory_store_with_several_workers_is_a_config_error(upstream, tmp_path: Path, prefix: str):
    gw = Gateway(tmp_path, budget_config(upstream.base_url, None, prefix), workers=2)
    with pytest.raises(RuntimeError, match="keeps budgets inside one process"):
        gw.start()


def test_memory_store_enforces_limits_in_one_worker(upstream, tmp_path: Path, prefix: str):
    gw = Gateway(tmp_path, budget_config(upstream.base_url, None, prefix)).start()
    try:
        statuses = [chat(gw, ALICE).status_code for _ in range(12)]
        assert statuses == [200] * 10 + [429] * 2
    finally:
        gw.stop()


def test_admin_budgets_needs_the_admin_token_and_a_known_org(redis_gateway: Gateway):
    gw = redis_gateway.start()
    assert httpx.get(gw.admin_url + "/admin/budgets", params={"org": "acme"}).status_code == 401
    r = httpx.get(gw.admin_url + "/admin/budgets", params={"org": "nope"}, headers=ADMIN)
    assert r.status_code == 404
    rows = counters(gw)
    assert rows[("team", "research", "daily")]["limit_usd"] == pytest.approx(round(WORST * 10.5, 9))
    cfg = copy.deepcopy(gw.config)
    assert cfg["orgs"][1].get("budget") is None and counters(gw, "globex") == {}
    assert hash_token(ALICE) not in json.dumps(list(rows.values()))
