"""CPU per budget-store call: tollgate's pipelining client (budget/resp.py) vs redis-py's asyncio client.

Both run the same reserve and settle scripts against the same Redis, from the same event loop
(uvloop), with the same concurrency, in one run; CPU time (not wall time) is what is compared, so
a busy machine changes the figures less than it changes latency.

    .venv/bin/python loadtests/bench_resp.py [--calls 20000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import redis.asyncio
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from budget import LevelLimits, RedisStore, make_plan
from budget.resp import connect, parse_url
from budget.stores import SCRIPTS


async def tollgate_client(url: str, prefix: str, calls: int, concurrency: int) -> float:
    store = RedisStore(connect(parse_url(url, 1.0, scripts=SCRIPTS)), prefix, 60.0)
    plan = make_plan("bench", [("org", "bench", LevelLimits(monthly_usd=1e6))], time.time())
    amounts = {c.key: 50 for c in plan.counters}

    async def one(i: int) -> None:
        now = time.time()
        await store.reserve(plan, f"r{i}", 100, now, 900)
        await store.settle("bench", f"r{i}", amounts, now, now)

    await one(-1)  # connect and load the scripts outside the measurement
    cpu = await measure(one, calls, concurrency)
    await store.close()
    return cpu


async def redis_py_client(url: str, prefix: str, calls: int, concurrency: int) -> float:
    client = redis.asyncio.Redis.from_url(url, max_connections=concurrency)
    reserve, settle = (client.register_script(s) for s in SCRIPTS)  # the same Lua as tollgate
    plan = make_plan("bench", [("org", "bench", LevelLimits(monthly_usd=1e6))], time.time())
    key = f"{prefix}{{bench}}:c:{plan.counters[0].key}"
    keys = [key, f"{prefix}{{bench}}:resv", f"{prefix}{{bench}}:recs"]
    limit, expire = plan.counters[0].limit, 0

    async def one(i: int) -> None:
        now = time.time()
        await reserve(keys=keys, args=[f"{now:.3f}", "900", f"r{i}", 100, 0, "0.0", 0, limit, expire])
        await settle(keys=keys, args=[f"r{i}", f"{now:.3f}", "60", f"{now:.3f}", 50])

    await one(-1)
    cpu = await measure(one, calls, concurrency)
    await client.aclose()
    return cpu


async def measure(one: object, calls: int, concurrency: int) -> float:
    queue = iter(range(calls))

    async def worker() -> None:
        for i in queue:
            await one(i)  # type: ignore[operator]

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - start) / (2 * calls) * 1e6  # µs of CPU per store call


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--calls", type=int, default=20000, help="requests (each one reserve and one settle)")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    results: dict[str, list[float]] = {"tollgate": [], "redis-py": []}
    for _ in range(a.rounds):  # interleaved, the median reported
        for name, run in (("tollgate", tollgate_client), ("redis-py", redis_py_client)):
            prefix = f"tollgate-bench-{uuid.uuid4().hex[:8]}:"
            results[name].append(uvloop.run(run(a.url, prefix, a.calls, a.concurrency)))
            cleanup = redis.Redis.from_url(a.url)
            keys = list(cleanup.scan_iter(prefix + "*"))
            if keys:
                cleanup.delete(*keys)
            cleanup.close()
    ours, theirs = (sorted(results[n])[len(results[n]) // 2] for n in ("tollgate", "redis-py"))
    print(f"CPU per store call, {a.concurrency} concurrent, median of {a.rounds}:")
    print(f"  tollgate budget/resp.py  {ours:6.1f} µs")
    print(f"  redis-py asyncio         {theirs:6.1f} µs   ({theirs / ours:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
