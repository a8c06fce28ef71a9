"""`bench_llm.py --protocols`: the Responses and Messages routes against the chat route, same run.

Self-contained (no wrk, no peer harness): a loopback upstream process that speaks all three
protocols from precomputed replies (tollgate's own mock bytes), one tollgate worker in front of
it (an `openai` provider for chat and responses, an `anthropic` one for messages), and a
sequential keep-alive client per route and target. Per mode (non-stream, stream) and round, the
same requests go straight to the upstream and through tollgate, every route taking turns request
by request (the machine is shared: load must hit every route alike). Added latency = through
tollgate minus direct (p50, p99 per round), so the client's and the upstream's own costs cancel;
CPU per request = tollgate's utime+stime over a block of one route's requests (order rotating).
Each figure is the median over rounds.
Target: each new route within 20% of chat's.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _harness import REPO, free_port, token_hash, tollgate_command, tollgate_env

TOKEN = "tg-bench-protocols-0123456789abcdef"
TEXT = "Summarise the ticket in one sentence: the build fails on the release branch since Tuesday."
MAX_TOKENS = 64
ROUTES = ("chat", "responses", "messages")
WITHIN_PCT = 20.0  # the target: added latency and CPU per request within 20% of the chat route's


def body(route: str, stream: bool) -> dict[str, Any]:
    if route == "chat":
        return {"model": "bench-gpt", "messages": [{"role": "user", "content": TEXT}], "max_tokens": MAX_TOKENS,
                "stream": stream}  # fmt: skip
    if route == "responses":
        return {"model": "bench-gpt", "input": TEXT, "max_output_tokens": MAX_TOKENS, "stream": stream}
    return {"model": "bench-claude", "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": TEXT}],
            "stream": stream}  # fmt: skip


PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "messages": "/v1/messages"}

UPSTREAM = r"""
import asyncio, sys, orjson, uvloop
from aiohttp import web
from gateway import mock
from gateway.tokenizer import encoding
enc = encoding("o200k_base")
replies = {}
for path, make, stream in (("/v1/chat/completions", mock.chat_completion, mock.chat_stream),
                           ("/v1/responses", mock.response, mock.responses_stream),
                           ("/v1/messages", mock.message, mock.messages_stream)):
    def payload(s):
        b = orjson.loads(sys.argv[2])[path]
        b = dict(b, stream=s)
        if s and path.endswith("completions"):
            b["stream_options"] = {"include_usage": True}
        return b
    replies[(path, False)] = make(payload(False), "m", enc)
    replies[(path, True)] = b"".join(stream(payload(True), "m", enc, 8))
async def handle(request):
    s = b'"stream":true' in await request.read()
    if not s:
        return web.Response(body=replies[(request.path, False)], content_type="application/json")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(replies[(request.path, True)])
    return resp
app = web.Application()
app.router.add_post("/v1/{tail:.*}", handle)
uvloop.install()
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def config(port: int, admin: int, upstream: int, audit: Path) -> str:
    return f"""\
listeners:
  llm: {{host: 127.0.0.1, port: {port}}}
  admin: {{host: 127.0.0.1, port: {admin}}}
  egress: {{host: 127.0.0.1, port: {free_port()}}}
providers:
  - name: up
    kind: openai
    base_url: http://127.0.0.1:{upstream}/v1
    api_key: sk-upstream
    models: [{{name: bench-gpt, input_usd_per_1m: 2.5, output_usd_per_1m: 10}}]
  - name: anth
    kind: anthropic
    base_url: http://127.0.0.1:{upstream}
    api_key: sk-ant-upstream
    models: [{{name: bench-claude, input_usd_per_1m: 3, output_usd_per_1m: 15}}]
orgs:
  - id: o
    teams: [{{id: t, agents: [{{id: a, tokens: [{json.dumps(token_hash(TOKEN))}]}}]}}]
audit: {{sink: local, path: {json.dumps(str(audit))}}}
"""


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early (status {proc.returncode})")
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start on port {port}")


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    fields = stat[stat.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """One keep-alive connection sending one route's request, non-stream or stream."""

    def __init__(self, port: int, route: str, stream: bool) -> None:
        self.route, self.stream = route, stream
        self._data = json.dumps(body(route, stream)).encode()
        self._headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def once(self) -> float:
        """One request; its latency in ms, the whole body read."""
        t = time.perf_counter()
        self._conn.request("POST", PATHS[self.route], self._data, self._headers)
        resp = self._conn.getresponse()
        raw = resp.read()
        elapsed = (time.perf_counter() - t) * 1000
        if resp.status != 200:
            raise SystemExit(f"{self.route} stream={self.stream}: HTTP {resp.status}: {raw[:300]!r}")
        return elapsed

    def close(self) -> None:
        self._conn.close()


def interleaved(clients: list[Client], n: int) -> list[list[float]]:
    """n requests per client, taking turns request by request: load on the machine hits all alike."""
    out: list[list[float]] = [[] for _ in clients]
    for _ in range(n):
        for i, client in enumerate(clients):
            out[i].append(client.once())
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(out: Path, requests: int, rounds: int) -> bool:
    """Measure, print a table, write <out>/protocols_summary.md; True when every target is met."""
    out.mkdir(parents=True, exist_ok=True)
    up_port, gw_port, admin_port = free_port(), free_port(), free_port()
    payloads = {PATHS[r]: body(r, False) for r in ROUTES}
    env = {**os.environ, **tollgate_env(REPO)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    up = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port), json.dumps(payloads)], env=env)
    cfg = out / "tollgate_protocols.yaml"
    cfg.write_text(config(gw_port, admin_port, up_port, out / "audit_protocols.jsonl"))
    log = (out / "gateway_protocols.log").open("wb")
    gw = subprocess.Popen([*tollgate_command(), "serve", "--config", str(cfg)], env=env, cwd=out, stdout=log,
                          stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_port(up_port, up, "upstream")
        wait_port(gw_port, gw, "tollgate")
        clients = {(port, r, st): Client(port, r, st) for port in (up_port, gw_port) for r in ROUTES
                   for st in (False, True)}  # fmt: skip
        for c in clients.values():  # warm-up: imports, tokenizer caches, connection pools
            for _ in range(100):
                c.once()
        per_round: dict[tuple[str, bool], list[tuple[float, float, float, float, float]]] = {}
        for i in range(rounds):
            for stream in (False, True):
                # Latency: direct and through tollgate, every route, request by request in turn.
                pairs = [(clients[(up_port, r, stream)], clients[(gw_port, r, stream)]) for r in ROUTES]
                times = interleaved([c for pair in pairs for c in pair], requests)
                # CPU: each route's requests in a block of its own (order rotating per round).
                cpu: dict[str, float] = {}
                for route in ROUTES[i % 3 :] + ROUTES[: i % 3]:
                    c0 = cpu_seconds(gw.pid)
                    for _ in range(requests):
                        clients[(gw_port, route, stream)].once()
                    cpu[route] = (cpu_seconds(gw.pid) - c0) * 1000 / requests
                for k, route in enumerate(ROUTES):
                    d, g = times[2 * k], times[2 * k + 1]
                    figures = (pct(d, 0.5), pct(g, 0.5), pct(g, 0.5) - pct(d, 0.5), pct(g, 0.99) - pct(d, 0.99),
                               cpu[route])  # fmt: skip
                    per_round.setdefault((route, stream), []).append(figures)
        for c in clients.values():
            c.close()
    finally:
        for proc in (gw, up):
            proc.terminate()
            proc.wait(15)
        log.close()
    return report(out, per_round, requests, rounds)


def report(
    out: Path, per_round: dict[tuple[str, bool], list[tuple[float, float, float, float, float]]], requests: int,
    rounds: int,
) -> bool:  # fmt: skip
    rows, lines, ok = [], [], True
    figures: dict[tuple[str, bool], tuple[float, float, float]] = {}
    for stream in (False, True):
        for route in ROUTES:
            columns = zip(*per_round[(route, stream)], strict=True)
            direct50, gw50, add50, add99, cpu_ms = (statistics.median(col) for col in columns)
            figures[(route, stream)] = (add50, add99, cpu_ms)
            chat = figures.get(("chat", stream))
            vs = ""
            if route != "chat" and chat:
                r50, rcpu = add50 / chat[0] - 1, cpu_ms / chat[2] - 1
                passed = r50 * 100 <= WITHIN_PCT and rcpu * 100 <= WITHIN_PCT
                ok = ok and passed
                vs = f"{r50 * 100:+.0f}% / {rcpu * 100:+.0f}%"
                lines.append(
                    f"[{'PASS' if passed else 'FAIL'}] /v1/{route} {'stream' if stream else 'non-stream'}: added p50 "
                    f"{add50:.3f} ms vs chat {chat[0]:.3f} ({r50 * 100:+.0f}%), CPU {cpu_ms:.3f} vs {chat[2]:.3f} "
                    f"ms/req ({rcpu * 100:+.0f}%) (each <= +{WITHIN_PCT:.0f}%)"
                )
            rows.append(
                f"| {PATHS[route]} | {'stream' if stream else 'json'} | {direct50:.3f} | {gw50:.3f} | "
                f"{add50:.3f} | {add99:.3f} | {cpu_ms:.3f} | {vs or '-'} |"
            )
    head = [
        "| route | mode | direct p50 ms | tollgate p50 ms | added p50 | added p99 | CPU ms/req | vs chat (p50 / CPU) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    md = [
        "# tollgate: the Responses and Messages routes vs the chat route (same run)",
        "",
        f"{rounds} rounds x {requests} sequential requests per route, mode and target (interleaved request by "
        "request), one keep-alive connection each, one tollgate worker, PII masking and audit on, no budgets; "
        "medians over rounds.",
        "",
        *head,
        *rows,
        "",
        *[f"- {line}" for line in lines],
    ]
    (out / "protocols_summary.md").write_text("\n".join(md) + "\n")
    print("\n".join([*head, *rows, "", *lines]))
    print(f"\nMarkdown: {out / 'protocols_summary.md'}")
    return ok
