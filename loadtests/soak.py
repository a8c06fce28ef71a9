"""Mixed soak: both doors, streams, budgets in Redis, audit in PostgreSQL; memory and file
descriptors must stay flat (bounded by load, not by history).

Starts tollgate (--workers N) on the mock provider with budgets at every level (never reached)
in Redis and the audit trail in a PostgreSQL database of the run's own, and a local HTTPS origin
that the egress door intercepts. Then for --duration seconds: LLM clients alternate plain and
streamed chat completions; egress clients make intercepted HTTPS requests, a new CONNECT and TLS
handshake every few requests. Every --every seconds it samples the RSS and the open file
descriptors of all tollgate processes. After --warmup, the median of the last three samples
must not exceed the median of the first three by more than --max-growth (10%), for both.
(`soak_budget.py` is the budget-only soak, which also watches the exactly-once keys.)

    .venv/bin/python loadtests/soak.py --duration 600           # the 10-minute soak
    .venv/bin/python loadtests/soak.py --duration 60 --warmup 20 # what CI runs

Exit status 0 when both stayed flat, 1 when one grew or requests failed, 2 on set-up errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from soak_budget import TOKEN, rss_mb, soak_config, tollgate_pids  # noqa: E402

from tests.https_upstream import Origin, make_test_pki  # noqa: E402  (the repo's own packages, found through the path above)

HOST = "api.test"  # resolved by the config's egress.resolve, never by DNS


def config(prefix: str, redis_url: str, dsn: str, origin_ca: Path, origin_port: int) -> dict[str, Any]:
    rule = {"name": "origin", "hosts": [HOST], "ports": [origin_port], "mode": "intercept", "allow_private": True}
    return {
        **soak_config(
            {"store": "redis", "redis_url": redis_url, "key_prefix": prefix},
            agent={"egress": {"rules": [rule]}},
            mock={"chunks": 8},
        ),
        "audit": {"sink": "postgres", "dsn": dsn, "spool_dir": "var/audit-spool"},
        "egress": {"upstream_ca_bundle": str(origin_ca), "resolve": {HOST: ["127.0.0.1"]}},
    }


def open_fds(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except FileNotFoundError:
            continue
    return total


async def llm_client(url: str, until: float, counts: dict[str, int]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "soak"}], "max_tokens": 16}
    async with httpx.AsyncClient(timeout=30) as client:
        stream = False
        while time.monotonic() < until:
            stream = not stream
            r = await client.post(url, json={**body, "stream": stream}, headers=headers)
            counts["llm" if r.status_code == 200 else "failed"] += 1


async def egress_client(proxy: str, url: str, trust: ssl.SSLContext, until: float, counts: dict[str, int]) -> None:
    while time.monotonic() < until:
        async with httpx.AsyncClient(proxy=proxy, verify=trust, timeout=30) as client:  # a new tunnel
            for _ in range(5):
                r = await client.get(url)
                counts["egress" if r.status_code == 200 else "failed"] += 1


async def admin_db(sql: str, pg: str) -> None:
    conn = await asyncpg.connect(pg + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def growth(series: list[float]) -> float:
    first, last = statistics.median(series[:3]), statistics.median(series[-3:])
    return (last - first) / first * 100


async def run(a: argparse.Namespace, tmp: Path) -> dict[str, object]:
    pki, origin_ctx = make_test_pki(tmp, [HOST])
    origin = Origin(origin_ctx).start()
    database = f"tollgate_soak_{uuid.uuid4().hex[:8]}"
    prefix = f"tollgate-soak-{uuid.uuid4().hex[:8]}:"
    await admin_db(f'CREATE DATABASE "{database}"', a.pg)
    cfg = config(prefix, a.redis_url, f"{a.pg}/{database}", pki, origin.port)
    path = tmp / "soak.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = (tmp / "tollgate.log").open("ab")  # a file, not a pipe: a long run's log never blocks tollgate
    # Started once, before any load: the blocking call costs nothing measured.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--workers", str(a.workers)],
        cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    ports = {k: v["port"] for k, v in cfg["listeners"].items()}  # type: ignore[attr-defined]
    try:
        async with httpx.AsyncClient() as probe:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await probe.get(f"http://127.0.0.1:{ports['admin']}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("tollgate did not start:\n" + (tmp / "tollgate.log").read_text()[-2000:])
                await asyncio.sleep(0.1)
            trust = ssl.create_default_context(
                cadata=(await probe.get(f"http://127.0.0.1:{ports['egress']}/ca.pem")).text
            )
        pids = tollgate_pids(proc.pid)
        counts = {"llm": 0, "egress": 0, "failed": 0}
        start = time.monotonic()
        until = start + a.duration
        proxy = f"http://a:{TOKEN}@127.0.0.1:{ports['egress']}"
        url = f"https://{HOST}:{origin.port}/soak"
        llm = f"http://127.0.0.1:{ports['llm']}/v1/chat/completions"
        drivers = [asyncio.create_task(llm_client(llm, until, counts)) for _ in range(a.llm_conns)]
        drivers += [asyncio.create_task(egress_client(proxy, url, trust, until, counts)) for _ in range(a.egress_conns)]
        samples = []
        while time.monotonic() < until:
            await asyncio.sleep(a.every)
            t = time.monotonic() - start
            samples.append({"t": round(t, 1), "rss_mb": round(rss_mb(pids), 1), "fds": open_fds(pids), **counts})
            print(json.dumps(samples[-1]), flush=True)
        await asyncio.gather(*drivers)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        origin.stop()
        client = redis.Redis.from_url(a.redis_url)
        if keys := list(client.scan_iter(prefix + "*")):
            client.delete(*keys)
        client.close()
        await admin_db(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', a.pg)
    steady = [s for s in samples if s["t"] >= a.warmup]
    if len(steady) < 4:
        raise SystemExit("too few samples after the warm-up: lengthen --duration or sample more often")
    verdict = {
        "requests_llm": counts["llm"],
        "requests_egress": counts["egress"],
        "failed": counts["failed"],
        "rss_mb": [steady[0]["rss_mb"], steady[-1]["rss_mb"]],
        "fds": [steady[0]["fds"], steady[-1]["fds"]],
        "rss_growth_pct": round(growth([s["rss_mb"] for s in steady]), 2),
        "fd_growth_pct": round(growth([s["fds"] for s in steady]), 2),
    }
    return {"samples": samples, "verdict": verdict}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--llm-conns", type=int, default=8)
    ap.add_argument("--egress-conns", type=int, default=4)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="server URL, without a database")
    ap.add_argument("--max-growth", type=float, default=10.0, help="allowed growth after warm-up, percent")
    ap.add_argument("--json", type=Path, help="write the samples and the verdict here")
    a = ap.parse_args(argv)
    if a.warmup >= a.duration:
        print("--warmup must be shorter than --duration", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        report = asyncio.run(run(a, Path(tmp)))
    verdict = report["verdict"]
    print(json.dumps(verdict))
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))
    flat = verdict["rss_growth_pct"] <= a.max_growth and verdict["fd_growth_pct"] <= a.max_growth  # type: ignore[operator]
    return 0 if flat and not verdict["failed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
