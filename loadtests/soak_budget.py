"""Soak: budgets under steady load must keep memory flat (bounded by load, not by history).

Starts tollgate on the mock provider with budgets at org, team and agent level (never reached),
in Redis or in the in-process store, drives chat requests at it for --duration seconds with
--conns connections, and samples every --every seconds: the RSS of tollgate's processes, and
with Redis the number of keys under the run's prefix and the exactly-once records of the org.
After --warmup seconds (at least one dedup window, so tombstones reach their steady state) the
RSS must not grow by more than --max-growth (10%), and the key count must not change.

    .venv/bin/python loadtests/soak_budget.py --store redis --duration 600      # the 10-minute soak
    .venv/bin/python loadtests/soak_budget.py --store memory --duration 600

Exit status 0 when memory stayed flat, 1 when it grew, 2 on set-up errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from config import hash_token  # noqa: E402  (the repo's own packages, found through the path above)
from tests.upstream import free_port  # noqa: E402

TOKEN = "tg-soak-agent-0123456789abcdefghijklmn"
ADMIN_TOKEN = "tg-soak-admin-0123456789abcdefghijklm"


def soak_config(
    budget: dict[str, Any], agent: dict[str, Any] | None = None, mock: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One org, team and agent on the mock provider, with budgets at every level that are never reached."""
    return {
        "listeners": {name: {"host": "127.0.0.1", "port": free_port()} for name in ("llm", "admin", "egress")},
        "admin": {"token_sha256": hash_token(ADMIN_TOKEN)},
        "providers": [
            {
                "name": "mock",
                "kind": "mock",
                "mock": mock or {},
                "models": [{"name": "mock-gpt", "input_usd_per_1m": 0.15, "output_usd_per_1m": 0.6}],
            }
        ],
        "orgs": [
            {
                "id": "soak",
                "budget": {"monthly_usd": 1_000_000},
                "teams": [
                    {
                        "id": "t",
                        "budget": {"daily_usd": 100_000},
                        "agents": [
                            {"id": "a", "budget": {"total_usd": 50_000}, "tokens": [hash_token(TOKEN)], **(agent or {})}
                        ],
                    }
                ],
            }
        ],
        "budget": budget,
        "audit": {"sink": "none"},
    }


def config(store: str, prefix: str, dedup_s: float, redis_url: str) -> dict[str, Any]:
    budget: dict[str, Any] = {"store": store, "settle_dedup_s": dedup_s, "key_prefix": prefix}
    if store == "redis":
        budget["redis_url"] = redis_url
    return soak_config(budget)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def tollgate_pids(root: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(root)], capture_output=True, text=True).stdout
    return [root, *(int(p) for p in out.split())]


async def drive(url: str, conns: int, until: float, counter: list[int]) -> None:
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "soak"}], "max_tokens": 16}
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def one(client: httpx.AsyncClient) -> None:
        while time.monotonic() < until:
            r = await client.post(url, json=body, headers=headers)
            if r.status_code != 200:
                raise SystemExit(f"request failed: {r.status_code} {r.text[:200]}")
            counter[0] += 1

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=conns), timeout=30) as client:
        await asyncio.gather(*(one(client) for _ in range(conns)))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", choices=["redis", "memory"], default="redis")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--warmup", type=float, help="seconds before the baseline (default: dedup window + 5)")
    ap.add_argument("--dedup", type=float, default=10.0, help="budget.settle_dedup_s for the run (default 10)")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--max-growth", type=float, default=0.10, help="allowed RSS growth after warm-up")
    ap.add_argument("--json", type=Path, help="write the samples and the verdict here")
    a = ap.parse_args(argv)
    warmup = a.warmup if a.warmup is not None else a.dedup + 5
    if warmup >= a.duration:
        print("--warmup must be shorter than --duration", file=sys.stderr)
        return 2
    prefix = f"tollgate-soak-{uuid.uuid4().hex[:8]}:"
    cfg = config(a.store, prefix, a.dedup, a.redis_url)
    r = redis.Redis.from_url(a.redis_url) if a.store == "redis" else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "soak.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(path)],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        admin = f"http://127.0.0.1:{cfg['listeners']['admin']['port']}"  # type: ignore[index]
        url = f"http://127.0.0.1:{cfg['listeners']['llm']['port']}/v1/chat/completions"  # type: ignore[index]
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(admin + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    print(
                        "tollgate did not start:", proc.stderr.read().decode() if proc.stderr else "", file=sys.stderr
                    )
                    return 2
                time.sleep(0.1)
            samples = run(a, url, proc.pid, r, prefix)
            metrics = httpx.get(admin + "/metrics").text.splitlines()
            errors = [m for m in metrics if m.startswith("tollgate_budget_store_errors_total{")]
            lag = [m for m in metrics if m.startswith("tollgate_event_loop_lag_seconds_bucket")]
            print("store errors:", errors or "none", "\nloop lag:", *lag, sep="\n  ")
        finally:
            proc.terminate()
            proc.wait(15)
            if r is not None:
                keys = list(r.scan_iter(prefix + "*"))
                if keys:
                    r.delete(*keys)
    return report(a, samples, warmup)


def run(a: argparse.Namespace, url: str, pid: int, r: redis.Redis | None, prefix: str) -> list[dict[str, float]]:
    counter = [0]
    start = time.monotonic()
    samples: list[dict[str, float]] = []

    async def sample() -> None:
        while time.monotonic() - start < a.duration:
            await asyncio.sleep(a.every)
            row = {
                "t": round(time.monotonic() - start, 1),
                "requests": counter[0],
                "rss_mb": rss_mb(tollgate_pids(pid)),
            }
            if r is not None:
                row["keys"] = len(list(r.scan_iter(prefix + "*")))
                row["records"] = r.hlen(prefix + "{soak}:recs")
            samples.append(row)
            print(json.dumps(row), flush=True)

    async def both() -> None:
        await asyncio.gather(drive(url, a.conns, start + a.duration, counter), sample())

    asyncio.run(both())
    return samples


def report(a: argparse.Namespace, samples: list[dict[str, float]], warmup: float) -> int:
    after = [s for s in samples if s["t"] >= warmup]
    if len(after) < 2:
        print("too few samples after warm-up: lengthen --duration", file=sys.stderr)
        return 2
    base, last = after[0], after[-1]
    rate = (last["requests"] - base["requests"]) / (last["t"] - base["t"])
    growth = (max(s["rss_mb"] for s in after) - base["rss_mb"]) / base["rss_mb"]
    per_request = (last["rss_mb"] - base["rss_mb"]) * 1024 * 1024 / max(1, last["requests"] - base["requests"])
    verdict = {
        "store": a.store,
        "duration_s": a.duration,
        "requests": last["requests"],
        "req_per_s": round(rate),
        "rss_mb_after_warmup": base["rss_mb"],
        "rss_mb_max": max(s["rss_mb"] for s in after),
        "rss_growth_pct": round(growth * 100, 2),
        "bytes_per_request": round(per_request, 1),
        "ok": growth <= a.max_growth,
    }
    if "keys" in base:
        verdict["keys"] = sorted({int(s["keys"]) for s in after})
        verdict["records_max"] = max(int(s["records"]) for s in after)
        verdict["ok"] = verdict["ok"] and len(verdict["keys"]) == 1  # type: ignore[arg-type]
    print(json.dumps(verdict))
    if a.json:
        a.json.write_text(json.dumps({"samples": samples, "verdict": verdict}, indent=1))
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
