#!/usr/bin/env python3
"""Benchmark the audit trail in PostgreSQL: write rate, cost on the LLM door, a 60 s outage.

    .venv/bin/python loadtests/bench_audit.py                      # all three parts (~4 min)
    .venv/bin/python loadtests/bench_audit.py --only throughput --events 400000

1. throughput: the audit pipeline itself (emit → bounded queue → batched binary COPY) writing
   realistic LLM-door events into a fresh database as fast as it can; events/s from the first
   emit until every row is committed. Target >= 20,000/s.
2. latency: three tollgate processes (built-in mock provider, 1 worker each) that differ only in
   `audit.sink` (none, local, postgres), loaded in turn by wrk at 16 connections, several
   interleaved rounds; every request the postgres one answered is then counted in the database.
   Target: p99 with PostgreSQL <= p99 without + 0.5 ms.
3. outage: the gateway's pipeline (PostgreSQL sink through a loopback TCP relay, spool) fed
   1,000 events/s through `emit()`; after 10 s the relay is cut for 60 s, then restored.
   Target: every event stored exactly once, nothing dropped, `emit()` never waits.

PostgreSQL: TOLLGATE_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres), where
the benchmark creates and drops its own databases. Needs wrk (apt-get install wrk) for part 2.
Results: printed, and written to loadtests/results/audit-<time>/summary.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from audit import AuditEvent, Pipeline, PostgresSink, Spool, Tenancy  # noqa: E402
from audit.event import new_event_id  # noqa: E402
from tests.pg import admin_execute  # noqa: E402
from tests.tcp_proxy import TcpProxy  # noqa: E402
from tests.upstream import free_port  # noqa: E402

ADMIN_DSN = os.environ.get("TOLLGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "tg-bench-audit-0123456789abcdefghijklmnopq"
TOKEN_HASH = "sha256:" + __import__("hashlib").sha256(TOKEN.encode()).hexdigest()
BODY = json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "Hello from the benchmark"}]})
P99_TARGET_MS = 0.5
RATE_TARGET = 20_000


# ------------------------------------------------------------------ databases
def dsn_with(database: str, port: int | None = None) -> str:
    """ADMIN_DSN pointed at another database (and, for the relay, at another port on the same host)."""
    u = urllib.parse.urlsplit(ADMIN_DSN)
    netloc = u.netloc if port is None else f"{u.netloc.rsplit('@', 1)[0]}@{u.hostname}:{port}"
    return urllib.parse.urlunsplit((u.scheme, netloc, f"/{database}", u.query, ""))


def create_database() -> tuple[str, str]:
    name = "tollgate_bench_" + uuid.uuid4().hex[:10]
    asyncio.run(admin_execute(f'CREATE DATABASE "{name}"', ADMIN_DSN))
    return name, dsn_with(name)


def drop_database(name: str) -> None:
    asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', ADMIN_DSN))


def query(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


# ------------------------------------------------------------------ 1. throughput
def llm_event(i: int) -> AuditEvent:
    """An event shaped like the LLM door's (same fields, detail and PII counts)."""
    return AuditEvent(
        "llm", "chat/completions", "allowed", f"req_bench{i:012x}", "bench-org", "bench-team", "agent",
        f"agent-{i % 50}", resource="gpt-4o-mini", status=200, latency_ms=412.5, tokens_in=812, tokens_out=164,
        cost_usd=0.000221, pii_counts={"EMAIL": 1, "PHONE": 2} if i % 3 == 0 else {},
        detail={"prompt_estimate": 809, "usage_injected": True},
    )  # fmt: skip


async def _throughput(dsn: str, events: int, batch_size: int, spool_dir: str) -> dict[str, Any]:
    tenancy = Tenancy(orgs=("bench-org",), teams=(("bench-org", "bench-team"),), agents=())
    sink = PostgresSink(dsn, tenancy, auto_migrate=True, connect_timeout_s=5, write_timeout_s=60)
    warm = llm_event(-1)
    warm.event_id = new_event_id()
    await sink.write([warm])  # schema, partitions and tenancy before the clock starts
    pipeline = Pipeline(
        sink, queue_size=200_000, batch_size=batch_size, flush_interval_s=0.5, spool=Spool(spool_dir, 1 << 30)
    )
    pipeline.start()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for start in range(0, events, 1000):
        for i in range(start, min(start + 1000, events)):
            pipeline.emit(llm_event(i))
        # A producer that outruns the database waits here (the gateway would spool instead).
        while len(pipeline.queue) > 50_000:  # noqa: ASYNC110 - polling the gateway's own queue, as a client would
            await asyncio.sleep(0.005)
        await asyncio.sleep(0)
    await pipeline.close()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    stored = (
        await asyncio.to_thread(query, dsn, "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM audit_events")
    )[0]
    return {
        "events": events, "batch_size": batch_size, "seconds": elapsed, "rate": events / elapsed,
        "cpu_us_per_event": cpu / events * 1e6, "stored": stored["n"] - 1, "distinct": stored["d"] - 1,
        "dropped": pipeline.dropped,
    }  # fmt: skip


def bench_throughput(events: int, batch_sizes: list[int]) -> list[dict[str, Any]]:
    results = []
    for batch_size in batch_sizes:
        name, dsn = create_database()
        try:
            with tempfile.TemporaryDirectory() as spool_dir:
                r = asyncio.run(_throughput(dsn, events, batch_size, spool_dir))
            results.append(r)
            print(
                f"throughput batch {batch_size}: {r['rate']:,.0f} events/s ({r['events']} in {r['seconds']:.1f} s), "
                f"writer CPU {r['cpu_us_per_event']:.1f} us/event, stored {r['stored']} once each: "
                f"{r['stored'] == r['distinct'] == events}",
                flush=True,
            )
        finally:
            drop_database(name)
    return results


# ------------------------------------------------------------------ tollgate processes
class Tollgate:
    def __init__(self, workdir: Path, audit_settings: dict[str, Any]) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.admin_port = free_port(), free_port()
        config = {
            "listeners": {
                "llm": {"host": "127.0.0.1", "port": self.port},
                "admin": {"host": "127.0.0.1", "port": self.admin_port},
                "egress": {"host": "127.0.0.1", "port": free_port()},
            },
            "providers": [{"name": "mock", "kind": "mock", "models": [{"name": "mock-gpt"}]}],
            "orgs": [{"id": "bench-org", "teams": [{"id": "t", "agents": [{"id": "bench", "tokens": [TOKEN_HASH]}]}]}],
            "audit": audit_settings,
        }
        (workdir / "tollgate.yaml").write_text(json.dumps(config))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Tollgate:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log = open(self.workdir / "tollgate.log", "ab")  # noqa: SIM115 - the child holds it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", "tollgate.yaml"],
            cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"tollgate in {self.workdir} did not start; see its tollgate.log")

    def metric(self, name: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.admin_port}/metrics", timeout=5).text
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


# ------------------------------------------------------------------ 2. latency, sink on vs off
WRK_LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def wrk(port: int, conns: int, seconds: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/v1/chat/completions"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(lat["50"]), "p99": _ms(lat["99"]), "requests": requests,
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }  # fmt: skip


def bench_latency(out: Path, rounds: int, seconds: int, conns: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("the latency part needs wrk (apt-get install wrk)")
    name, dsn = create_database()
    script = out / "post.lua"
    script.write_text(WRK_LUA % (BODY, TOKEN))
    sinks = {
        "none": {"sink": "none"},
        "local": {"sink": "local", "path": "var/audit.jsonl"},
        "postgres": {"sink": "postgres", "dsn": dsn},
    }
    gateways = {k: Tollgate(out / f"latency-{k}", v).start() for k, v in sinks.items()}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in sinks}
    try:
        for g in gateways.values():  # warm-up: connections, tokenizer, the first COPY
            wrk(g.port, conns, 3, script)
        warm_rows = _rows(dsn)
        for r in range(rounds):
            order = list(gateways) if r % 2 == 0 else list(reversed(gateways))
            for k in order:
                runs[k].append(wrk(gateways[k].port, conns, seconds, script))
                print(f"latency round {r + 1} {k:8s} {runs[k][-1]}", flush=True)
        sent = sum(x["requests"] for x in runs["postgres"])
        deadline = time.monotonic() + 30
        while _rows(dsn) - warm_rows < sent and time.monotonic() < deadline:
            time.sleep(0.2)
        stored = _rows(dsn) - warm_rows
    finally:
        for g in gateways.values():
            g.stop()
        drop_database(name)

    def agg(k: str) -> dict[str, float]:
        xs = runs[k]
        return {
            "rps": sum(x["rps"] for x in xs) / len(xs), "p50": sorted(x["p50"] for x in xs)[len(xs) // 2],
            "p99": sorted(x["p99"] for x in xs)[len(xs) // 2], "requests": sum(x["requests"] for x in xs),
            "errors": sum(x["errors"] for x in xs),
        }  # fmt: skip

    return {"conns": conns, "rounds": rounds, "seconds": seconds, **{k: agg(k) for k in sinks}, "pg_stored": stored}


def _rows(dsn: str) -> int:
    if not query(dsn, "SELECT to_regclass('audit_events') IS NOT NULL AS ok")[0]["ok"]:
        return 0
    # wrk counts completed responses; a request it cuts at the end is audited too, as status 499
    return int(query(dsn, "SELECT count(*) AS n FROM audit_events WHERE surface = 'llm' AND status = 200")[0]["n"])


# ------------------------------------------------------------------ 3. outage
async def _outage(dsn: str, spool_dir: str, rate: int, outage_s: float, before_s: float, after_s: float,
                  proxy: TcpProxy, queue_size: int) -> dict[str, Any]:  # fmt: skip
    """The gateway's own pipeline (PostgresSink + spool) fed at `rate` events/s through `emit()`."""
    tenancy = Tenancy(orgs=("bench-org",), teams=(("bench-org", "bench-team"),), agents=())
    sink = PostgresSink(dsn, tenancy, auto_migrate=True, connect_timeout_s=5, write_timeout_s=30)
    spool = Spool(spool_dir, 1 << 30)
    pipeline = Pipeline(sink, queue_size=queue_size, batch_size=1000, flush_interval_s=0.5, spool=spool)
    pipeline.start()
    loop = asyncio.get_running_loop()
    total = int(rate * (before_s + outage_s + after_s))
    emit_us: list[float] = []
    lag_ms: list[float] = []
    peak_queue = peak_spool = 0
    t0 = time.perf_counter()
    down = up = None
    for i in range(total):
        now = time.perf_counter() - t0
        if down is None and now >= before_s:
            await loop.run_in_executor(None, proxy.down)
            down = now
        if up is None and now >= before_s + outage_s:
            await loop.run_in_executor(None, proxy.up)
            up = now
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif i % 100 == 0:
            lag_ms.append(-delay * 1000)  # behind schedule: the loop was busy elsewhere
        e = llm_event(i)
        t = time.perf_counter()
        pipeline.emit(e)
        emit_us.append((time.perf_counter() - t) * 1e6)
        peak_queue = max(peak_queue, len(pipeline.queue))
        peak_spool = max(peak_spool, spool.pending)
    sent_at = time.perf_counter()
    while pipeline.queue or spool.pending or pipeline.failures:  # noqa: ASYNC110 - watching from outside
        await asyncio.sleep(0.1)
    drained_s = time.perf_counter() - sent_at
    dropped = pipeline.dropped
    await pipeline.close()
    found = (
        await asyncio.to_thread(
            query, dsn, "SELECT count(*) AS n, count(DISTINCT request_id) AS ids, count(DISTINCT event_id) AS eids"
            " FROM audit_events",
        )
    )[0]  # fmt: skip
    emit_us.sort()
    return {
        "rate": rate, "outage_s": outage_s, "events": total, "rows": found["n"], "distinct_requests": found["ids"],
        "distinct_events": found["eids"], "dropped": dropped, "queue_size": queue_size, "peak_queue": peak_queue,
        "peak_spool_mb": peak_spool / 2**20, "drain_s_after_last_emit": drained_s,
        "emit_p99_us": emit_us[int(0.99 * len(emit_us))], "emit_max_us": emit_us[-1],
        "schedule_lag_max_ms": max(lag_ms, default=0.0),
    }  # fmt: skip


def bench_outage(rate: int, outage_s: float, before_s: float, after_s: float, queue_size: int) -> dict[str, Any]:
    name, _ = create_database()
    target = urllib.parse.urlsplit(ADMIN_DSN)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    try:
        with tempfile.TemporaryDirectory() as spool_dir:
            r = asyncio.run(
                _outage(
                    dsn_with(name, port=proxy.port), spool_dir, rate, outage_s, before_s, after_s, proxy, queue_size
                )
            )
    finally:
        proxy.stop()
        drop_database(name)
    print(f"outage: {r}", flush=True)
    return r


# ------------------------------------------------------------------ report
def report(results: dict[str, Any]) -> str:
    lines = [
        "# Audit benchmark",
        "",
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores",
        "",
    ]
    if "throughput" in results:
        lines += [
            "| batch size | events | events/s | writer CPU µs/event | stored exactly once |",
            "|---:|---:|---:|---:|---|",
        ]
        for r in results["throughput"]:
            ok = r["stored"] == r["distinct"] == r["events"]
            lines.append(
                f"| {r['batch_size']} | {r['events']} | {r['rate']:,.0f} | {r['cpu_us_per_event']:.1f} | {ok} |"
            )
        best = max(r["rate"] for r in results["throughput"])
        lines += [
            "",
            f"[{'PASS' if best >= RATE_TARGET else 'FAIL'}] sustained rate {best:,.0f}/s (target >= {RATE_TARGET:,})",
            "",
        ]
    if "latency" in results:
        r = results["latency"]
        lines += [
            f"LLM door, {r['conns']} connections, {r['rounds']} rounds x {r['seconds']} s (median of rounds):",
            "",
            "| audit.sink | req/s | p50 ms | p99 ms | requests | non-2xx |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for k in ("none", "local", "postgres"):
            x = r[k]
            lines.append(
                f"| {k} | {x['rps']:,.0f} | {x['p50']:.2f} | {x['p99']:.2f} | {x['requests']} | {x['errors']} |"
            )
        diff = r["postgres"]["p99"] - r["none"]["p99"]
        extra = r["pg_stored"] - r["postgres"]["requests"]
        lines += [
            "",
            f"[{'PASS' if diff <= P99_TARGET_MS else 'FAIL'}] p99 postgres - none = {diff:+.2f} ms "
            f"(vs local {r['postgres']['p99'] - r['local']['p99']:+.2f} ms; target <= +{P99_TARGET_MS} ms)",
            f"[{'PASS' if 0 <= extra <= r['conns'] * r['rounds'] else 'FAIL'}] PostgreSQL holds {r['pg_stored']} "
            f"answered requests' events for wrk's {r['postgres']['requests']} (wrk leaves up to one answer per "
            "connection per round unread)",
            "",
        ]
    if "outage" in results:
        r = results["outage"]
        ok = r["rows"] == r["distinct_requests"] == r["distinct_events"] == r["events"] and r["dropped"] == 0
        lines += [
            f"Outage: {r['rate']} events/s through emit(), database away for {r['outage_s']:.0f} s "
            f"(queue bound {r['queue_size']}): {r['events']} events, {r['rows']} rows "
            f"({r['distinct_requests']} request ids, {r['distinct_events']} event ids), {r['dropped']} dropped; "
            f"peak queue {r['peak_queue']}, peak spool {r['peak_spool_mb']:.1f} MiB; everything stored "
            f"{r['drain_s_after_last_emit']:.1f} s after the last emit; emit() p99 {r['emit_p99_us']:.1f} µs, "
            f"max {r['emit_max_us']:.0f} µs; producer behind schedule by at most {r['schedule_lag_max_ms']:.1f} ms.",
            "",
            f"[{'PASS' if ok else 'FAIL'}] zero events lost, none twice",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="throughput,latency,outage")
    ap.add_argument("--events", type=int, default=300_000, help="throughput: events to write")
    ap.add_argument("--batch-sizes", default="1000,5000", help="throughput: batch sizes to try")
    ap.add_argument("--rounds", type=int, default=3, help="latency: interleaved rounds per sink")
    ap.add_argument("--seconds", type=int, default=10, help="latency: wrk duration per round")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--rate", type=int, default=1000, help="outage: requests (= events) per second")
    ap.add_argument("--outage", type=float, default=60.0, help="outage: seconds the database is away")
    ap.add_argument("--queue-size", type=int, default=20_000, help="outage: queue bound (spill at half)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    out = a.out or REPO / "loadtests" / "results" / f"audit-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    parts = a.only.split(",")
    results: dict[str, Any] = {}
    if "throughput" in parts:
        results["throughput"] = bench_throughput(a.events, [int(b) for b in a.batch_sizes.split(",")])
    if "latency" in parts:
        results["latency"] = bench_latency(out, a.rounds, a.seconds, a.conns)
    if "outage" in parts:
        results["outage"] = bench_outage(a.rate, a.outage, before_s=10, after_s=15, queue_size=a.queue_size)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = report(results)
    (out / "summary.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
