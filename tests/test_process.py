"""The process core: CLI, reload, revocation, workers, graceful shutdown, metrics."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import openai
import pytest

from config import hash_token
from tests.conftest import ALICE, ROOT, Gateway
from tests.upstream import wait_until

CHAT = {"model": "up-gpt", "messages": [{"role": "user", "content": "hi"}]}
NEW_TOKEN = "tg-test-new-token-0123456789abcdefghij"


def tollgate(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, input=stdin, cwd=ROOT, timeout=30
    )


def chat(gw: Gateway, token: str) -> int:
    r = httpx.post(gw.base_url + "/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def test_check_config_lists_every_error_with_its_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "providers:\n"
        "  - {name: p, kind: openai, base_url: 'http://127.0.0.1:1/v1', models: [{name: m, output_usd_per_1m: -2}]}\n"
        "orgs:\n"
        "  - id: o\n"
        "    teams:\n"
        "      - id: t\n"
        "        agents: [{id: a, tokens: [tg-raw-token], modles: [m]}]\n"
    )
    r = tollgate("check-config", str(bad))
    assert r.returncode == 2
    assert "providers[0].models[0].output_usd_per_1m: Input should be greater than or equal to 0" in r.stderr
    assert "orgs[0].teams[0].agents[0].tokens: must be 'sha256:'" in r.stderr and "raw token" in r.stderr
    assert "orgs[0].teams[0].agents[0].modles: unknown setting" in r.stderr
    ok = tollgate("check-config", str(ROOT / "config" / "demo.yaml"))
    assert ok.returncode == 0 and ok.stdout.endswith(": OK (1 provider, 2 models, 1 org, 1 agent)\n"), ok.stdout
    missing = tollgate("check-config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read file" in missing.stderr


def test_token_create_prints_a_token_whose_hash_line_authenticates(fresh_gateway: Gateway):
    out = tollgate("token", "create", "--agent", "alice").stdout.split()
    token = next(w for w in out if w.startswith("tg-"))
    hash_line = next(w for w in out if w.startswith("sha256:"))
    assert hash_line == hash_token(token)
    config = copy.deepcopy(fresh_gateway.config)
    config["orgs"][0]["teams"][0]["agents"][0]["tokens"] = [hash_line]
    fresh_gateway.write_config(config)
    fresh_gateway.start()
    assert chat(fresh_gateway, token) == 200
    assert chat(fresh_gateway, ALICE) == 401


@pytest.mark.parametrize("agent", ["", ".x", "a b", "x" * 65])
def test_token_create_refuses_an_agent_id_no_config_could_hold(agent: str):
    r = tollgate("token", "create", "--agent", agent)
    assert r.returncode == 2 and "tg-" not in r.stdout
    assert r.stderr.startswith("tollgate token create: --agent: ") and len(r.stderr.splitlines()) == 1


def test_serve_refuses_a_bad_config_with_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: []\n")
    r = tollgate("serve", "--config", str(bad))
    assert r.returncode == 2 and "providers: List should have at least 1 item" in r.stderr
    r = tollgate("serve", "--config", str(bad), "--workers", "zero")
    assert r.returncode == 2 and "must be a whole number" in r.stderr


def test_sighup_reload_adds_and_revokes_tokens_and_rejects_a_bad_file(fresh_gateway: Gateway):
    gw = fresh_gateway.start()
    assert chat(gw, NEW_TOKEN) == 401
    config = copy.deepcopy(gw.config)
    agent = config["orgs"][0]["teams"][0]["agents"][0]
    agent["tokens"] = [hash_token(NEW_TOKEN)]  # alice's old token is revoked, a new one issued
    gw.write_config(config)
    gw.signal(signal.SIGHUP)
    assert wait_until(lambda: chat(gw, NEW_TOKEN) == 200)
    assert chat(gw, ALICE) == 401

    gw.write_config("providers: [oops\n")
    gw.signal(signal.SIGHUP)
    assert wait_until(lambda: "config reload rejected" in gw.log())
    assert chat(gw, NEW_TOKEN) == 200  # the old config stays in force

    def reloads() -> list[str]:
        return [e["result"] for e in gw.audit_events() if e["surface"] == "config" and e["action"] == "reload"]

    assert wait_until(lambda: reloads() == ["allowed", "denied"]), reloads()


def test_admin_reload_needs_the_admin_token(fresh_gateway: Gateway):
    gw = fresh_gateway.start()
    url = gw.admin_url + "/admin/reload"
    assert httpx.post(url).status_code == 401
    assert httpx.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    config = copy.deepcopy(gw.config)
    config["orgs"][0]["teams"][0]["agents"][0]["tokens"].append(hash_token(NEW_TOKEN))
    gw.write_config(config)
    r = httpx.post(url, headers={"Authorization": "Bearer tg-admin-test-token"})
    assert r.status_code == 200 and r.json() == {"reloaded": True}
    assert chat(gw, NEW_TOKEN) == 200
    gw.write_config("orgs: 5\n")
    r = httpx.post(url, headers={"Authorization": "Bearer tg-admin-test-token"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_config"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", {"model": "drip", "stream": True, "messages": [{"role": "user", "content": "x"}]}),
        ("/responses", {"model": "drip", "stream": True, "input": "x"}),
        ("/messages", {"model": "claude-drip", "stream": True, "max_tokens": 9000,
                       "messages": [{"role": "user", "content": "x"}]}),
    ],
)  # fmt: skip
def test_revoking_a_token_cuts_its_open_stream(fresh_gateway: Gateway, path: str, body: dict[str, Any]):
    gw = fresh_gateway.start()
    lines: list[str] = []

    def consume() -> None:
        with httpx.stream(
            "POST", gw.base_url + path, json=body, headers={"Authorization": f"Bearer {ALICE}"}, timeout=20
        ) as r:
            lines.extend(line for line in r.iter_lines() if line)

    reader = threading.Thread(target=consume)
    reader.start()
    assert wait_until(lambda: sum("drop" in line for line in lines) >= 3)
    config = copy.deepcopy(gw.config)
    config["orgs"][0]["teams"][0]["agents"][0]["tokens"] = []
    gw.write_config(config)
    gw.signal(signal.SIGHUP)
    reader.join(5)
    assert not reader.is_alive(), "the stream of a revoked token must end promptly"
    if path == "/chat/completions":
        assert lines[-1] == "data: [DONE]" and "revoked" in lines[-2]
    else:  # the protocol's own error event
        assert lines[-2] == "event: error" and "revoked" in lines[-1]
    assert len(lines) < 200


def test_sigterm_lets_an_in_flight_stream_finish(fresh_gateway: Gateway):
    config = copy.deepcopy(fresh_gateway.config)
    config["providers"][2]["mock"] = {"chunks": 10, "chunk_delay_ms": 100}
    fresh_gateway.write_config(config)
    gw = fresh_gateway.start()
    body = {"model": "mock-gpt", "stream": True, "messages": [{"role": "user", "content": "finish me"}]}
    with httpx.stream(
        "POST", gw.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {ALICE}"}
    ) as r:
        lines = iter(r.iter_lines())
        first = next(lines)
        gw.signal(signal.SIGTERM)
        rest = [line for line in [first, *lines] if line]
    assert rest[-1] == "data: [DONE]"
    assert gw.proc is not None and gw.proc.wait(10) == 0
    with pytest.raises(httpx.ConnectError):
        chat(gw, ALICE)


def test_two_workers_share_the_port(fresh_gateway: Gateway):
    fresh_gateway.workers = 2
    gw = fresh_gateway.start()
    pids = set()
    deadline = time.monotonic() + 10
    while len(pids) < 2 and time.monotonic() < deadline:
        with httpx.Client() as c:  # a new connection each time, so the kernel may pick either worker
            pids.add(c.get(gw.admin_url + "/readyz").json()["pid"])
    assert len(pids) == 2
    client = openai.OpenAI(base_url=gw.base_url, api_key=ALICE, max_retries=0)
    for _ in range(20):
        assert client.chat.completions.create(**CHAT).choices[0].message.content
    # Summed over both workers whichever one serves the scrape; the other one's last second of
    # counts reaches the files at its next metrics flush.
    served = 'tollgate_llm_requests_total{model="up-gpt",route="chat/completions",status="200"} 20.0'
    assert wait_until(lambda: served in httpx.get(gw.admin_url + "/metrics").text, timeout=5)
    gw.signal(signal.SIGHUP)
    assert wait_until(lambda: gw.log().count("config reloaded") == 2)
    assert gw.stop() == 0


def test_metrics_and_health(gateway: Gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key=ALICE, max_retries=0)
    client.chat.completions.create(model="mock-gpt", messages=CHAT["messages"])
    list(client.chat.completions.create(model="mock-gpt", messages=CHAT["messages"], stream=True))
    text = httpx.get(gateway.admin_url + "/metrics").text
    for name in (
        "tollgate_llm_requests_total",
        "tollgate_llm_request_duration_seconds_bucket",
        "tollgate_llm_time_to_first_token_seconds_bucket",
        'tollgate_llm_tokens_total{direction="in",model="mock-gpt"}',
        "tollgate_llm_cost_usd_total",
        "tollgate_llm_in_flight",
    ):
        assert name in text, name
    assert ALICE not in text
    assert httpx.get(gateway.admin_url + "/healthz").json()["status"] == "ok"
    assert httpx.get(gateway.admin_url + "/readyz").json()["ready"] is True


def test_audit_events_are_counted_exactly_at_every_scrape(gateway: Gateway):
    """Counted per batch and before a scrape, not per event: a scrape right after the requests sees them all."""

    def llm_events() -> float:
        text = httpx.get(gateway.admin_url + "/metrics").text
        lines = [line for line in text.splitlines() if line.startswith('tollgate_audit_events_total{surface="llm"}')]
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    before = llm_events()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=ALICE, max_retries=0)
    for _ in range(3):
        client.chat.completions.create(model="mock-gpt", messages=CHAT["messages"])
    assert llm_events() - before == 3


def test_pii_scan_runs_the_gateways_detection_on_json_lines(tmp_path):
    lines = "\n".join(
        [
            json.dumps({"id": "a", "text": "mail jane.doe@example.org please"}),
            json.dumps({"id": "b", "text": "build 1.2.3.4 of service 0a1b2c3d4e5f"}),
            "not json",
        ]
    )
    r = tollgate("pii", "scan", stdin=lines)
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert out[0] == {"id": "a", "spans": [{"start": 5, "end": 25, "type": "EMAIL"}]}
    assert out[1] == {"id": "b", "spans": []}
    assert r.returncode == 1 and "line 3: expected a JSON object" in r.stderr
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers: [{name: m, kind: mock, models: [{name: g}]}]\n"
        "orgs: [{id: o, pii: {actions: {EMAIL: allow}}, teams: [{id: t, agents: [{id: a}]}]}]\n"
    )
    allowed = tollgate("pii", "scan", "--config", str(config), "--policy", "a", stdin=lines.splitlines()[0])
    assert json.loads(allowed.stdout) == {"id": "a", "spans": []}
    person = json.dumps({"id": "p", "text": "Please ask Margaret Thornton in Lisbon."})
    with_ner = tollgate("pii", "scan", "--ner", stdin=person)
    assert with_ner.returncode == 0, with_ner.stderr
    assert {s["type"] for s in json.loads(with_ner.stdout)["spans"]} == {"PERSON", "LOCATION"}


def test_pii_type_names_agree_between_config_and_detector():
    from config.schema import PII_PATTERN_TYPES
    from pii import TYPES

    assert frozenset(PII_PATTERN_TYPES) == TYPES
