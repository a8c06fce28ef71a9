"""Budget stores, the same tests against the in-process store and a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio

from budget import Limits, MemoryStore, Plan, RedisStore, Store, make_plan, to_nano
from budget.resp import Redis

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
TTL = 60.0


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    prefix = f"tollgate-test-{uuid.uuid4().hex[:8]}:"
    s = RedisStore(Redis("redis://127.0.0.1:6379/0", 1.0), prefix)
    yield s
    keys = await s.redis.call("KEYS", prefix + "*")
    if keys:
        await s.redis.call("DEL", *keys)
    await s.close()


def plan_at(now: float, org: float | None = None, team: float | None = None, agent: float | None = None) -> Plan:
    return make_plan(
        "acme",
        [
            ("org", "acme", Limits(monthly_usd=org) if org else None),
            ("team", "research", Limits(daily_usd=team) if team else None),
            ("agent", "bot", Limits(total_usd=agent) if agent else None),
        ],
        now,
    )


async def spent_reserved(store: Store, plan: Plan) -> list[tuple[int, int]]:
    return await store.usage(plan)


async def test_reserve_adds_to_every_level_or_to_none(store: Store):
    plan = plan_at(T0, org=10.0, team=1.0, agent=5.0)
    assert [c.name for c in plan.counters] == ["org_monthly", "team_daily", "agent_total"]
    ok = await store.reserve(plan, "r1", to_nano(0.6), T0, TTL)
    assert ok.ok and ok.headroom == to_nano(0.4)  # the team's daily dollar is the tightest
    refused = await store.reserve(plan, "r2", to_nano(0.6), T0, TTL)
    assert not refused.ok and plan.counters[refused.index].name == "team_daily"
    assert refused.headroom == to_nano(0.4)
    # The refused request left nothing behind on the levels that had room.
    assert await spent_reserved(store, plan) == [(0, to_nano(0.6))] * 3


async def test_settle_replaces_the_reservation_by_the_real_cost_exactly_once(store: Store):
    plan = plan_at(T0, org=10.0, team=1.0)
    await store.reserve(plan, "r1", to_nano(0.5), T0, TTL)
    assert await store.settle(plan, "r1", to_nano(0.2), T0)
    assert await spent_reserved(store, plan) == [(to_nano(0.2), 0)] * 2
    assert not await store.settle(plan, "r1", to_nano(0.2), T0)  # a repeated settle changes nothing
    assert await spent_reserved(store, plan) == [(to_nano(0.2), 0)] * 2


async def test_release_leaves_counters_exactly_as_before(store: Store):
    plan = plan_at(T0, org=10.0, team=1.0)
    await store.reserve(plan, "r0", to_nano(0.3), T0, TTL)
    await store.settle(plan, "r0", to_nano(0.123456789), T0)
    before = await spent_reserved(store, plan)
    await store.reserve(plan, "r1", to_nano(0.5), T0, TTL)
    await store.settle(plan, "r1", 0, T0)
    assert await spent_reserved(store, plan) == before


async def test_an_abandoned_reservation_expires(store: Store):
    plan = plan_at(T0, team=1.0)
    await store.reserve(plan, "dead", to_nano(0.9), T0, TTL)
    assert not (await store.reserve(plan, "r2", to_nano(0.5), T0 + 1, TTL)).ok
    later = await store.reserve(plan, "r3", to_nano(0.5), T0 + TTL + 1, TTL)
    assert later.ok and await spent_reserved(store, plan) == [(0, to_nano(0.5))]
    # The late settle of the expired request still charges what it used, once.
    assert await store.settle(plan, "dead", to_nano(0.1), T0 + TTL + 2)
    assert await spent_reserved(store, plan) == [(to_nano(0.1), to_nano(0.5))]


async def test_period_rollover_resets_the_right_counters_only(store: Store):
    day1 = T0
    day2 = T0 + 86400  # 26 November: a new day, the same month
    month2 = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC).timestamp()
    plan1 = plan_at(day1, org=1.0, team=0.5)
    await store.reserve(plan1, "r1", to_nano(0.4), day1, TTL)
    await store.settle(plan1, "r1", to_nano(0.4), day1)
    assert not (await store.reserve(plan_at(day1, org=1.0, team=0.5), "r2", to_nano(0.2), day1, TTL)).ok

    plan2 = plan_at(day2, org=1.0, team=0.5)
    assert await spent_reserved(store, plan2) == [(to_nano(0.4), 0), (0, 0)]  # month carried, day fresh
    assert (await store.reserve(plan2, "r3", to_nano(0.2), day2, TTL)).ok
    await store.settle(plan2, "r3", to_nano(0.2), day2)

    plan3 = plan_at(month2, org=1.0, team=0.5)
    assert await spent_reserved(store, plan3) == [(0, 0), (0, 0)]
    assert await spent_reserved(store, plan2) == [(to_nano(0.6), 0), (to_nano(0.2), 0)]


async def test_concurrent_reservations_never_overshoot(store: Store):
    plan = plan_at(T0, org=1.0, team=1.0, agent=1.0)
    unit = to_nano(0.1)
    results = await asyncio.gather(*(store.reserve(plan, f"r{i}", unit, T0, TTL) for i in range(200)))
    assert sum(r.ok for r in results) == 10
    assert await spent_reserved(store, plan) == [(0, 10 * unit)] * 3


async def test_no_counters_means_nothing_to_check(store: Store):
    plan = plan_at(T0)
    assert plan.counters == ()


async def test_redis_keys_of_an_org_share_one_hash_tag():
    prefix = f"tollgate-test-{uuid.uuid4().hex[:8]}:"
    s = RedisStore(Redis("redis://127.0.0.1:6379/0", 1.0), prefix)
    plan = plan_at(T0, org=10.0, team=1.0, agent=2.0)
    await s.reserve(plan, "r1", 5, T0, TTL)
    await s.settle(plan, "r1", 3, T0)
    independent = redis.asyncio.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    keys = [k async for k in independent.scan_iter(prefix + "*")]
    await independent.aclose()
    await s.redis.call("DEL", *keys)
    await s.close()
    # One hash tag: Redis Cluster puts every key the scripts touch in the same slot.
    assert len(keys) >= 4 and all(k.startswith(prefix + "{acme}:") for k in keys)


async def test_large_budgets_round_trip_exactly(store: Store):
    # $1M is 1e15 nano-USD: Lua's default number format would have said "1e+15".
    plan = plan_at(T0, org=1_000_000.0)
    result = await store.reserve(plan, "big", to_nano(0.25), T0, TTL)
    assert result.ok and result.headroom == to_nano(1_000_000.0) - to_nano(0.25)
    refused = await store.reserve(plan, "huge", to_nano(2_000_000.0), T0, TTL)
    assert not refused.ok and refused.headroom == to_nano(1_000_000.0) - to_nano(0.25)
