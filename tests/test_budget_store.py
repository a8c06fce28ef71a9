"""Budget stores, the same tests against the in-process store and a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio

from budget import Clamp, LevelLimits, MemoryStore, Plan, RedisStore, Store, make_plan, to_nano
from budget.resp import RedisUnavailable, connect, parse_url
from budget.stores import APPLIED, DUPLICATE, SCRIPTS, UNKNOWABLE

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
TTL = 60.0
DEDUP = 30.0


def redis_store(prefix: str) -> RedisStore:
    return RedisStore(connect(parse_url("redis://127.0.0.1:6379/0", 1.0, scripts=SCRIPTS)), prefix, DEDUP)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore(DEDUP)
        return
    prefix = f"tollgate-test-{uuid.uuid4().hex[:8]}:"
    s = redis_store(prefix)
    yield s
    keys = await s.redis.call("KEYS", prefix + "*", key=None)
    if keys:
        await s.redis.call("DEL", *keys)
    await s.close()


def plan_at(now: float, org: float | None = None, team: float | None = None, agent: float | None = None) -> Plan:
    return make_plan(
        "acme",
        [
            ("org", "acme", LevelLimits(monthly_usd=org) if org else None),
            ("team", "research", LevelLimits(daily_usd=team) if team else None),
            ("agent", "bot", LevelLimits(total_usd=agent) if agent else None),
        ],
        now,
    )


def settle(store: Store, plan: Plan, request_id: str, actual: int, now: float, first_sent: float) -> Any:
    return store.settle(plan.org_id, request_id, {c.key: actual for c in plan.counters}, now, first_sent)


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
    assert await settle(store, plan, "r1", to_nano(0.2), T0, T0)
    assert await spent_reserved(store, plan) == [(to_nano(0.2), 0)] * 2
    assert not await settle(store, plan, "r1", to_nano(0.2), T0, T0)  # a repeated settle changes nothing
    assert await spent_reserved(store, plan) == [(to_nano(0.2), 0)] * 2


async def test_release_leaves_counters_exactly_as_before(store: Store):
    plan = plan_at(T0, org=10.0, team=1.0)
    await store.reserve(plan, "r0", to_nano(0.3), T0, TTL)
    await settle(store, plan, "r0", to_nano(0.123456789), T0, T0)
    before = await spent_reserved(store, plan)
    await store.reserve(plan, "r1", to_nano(0.5), T0, TTL)
    await settle(store, plan, "r1", 0, T0, T0)
    assert await spent_reserved(store, plan) == before


async def test_an_abandoned_reservation_expires(store: Store):
    plan = plan_at(T0, team=1.0)
    await store.reserve(plan, "dead", to_nano(0.9), T0, TTL)
    assert not (await store.reserve(plan, "r2", to_nano(0.5), T0 + 1, TTL)).ok
    later = await store.reserve(plan, "r3", to_nano(0.5), T0 + TTL + 1, TTL)
    assert later.ok and await spent_reserved(store, plan) == [(0, to_nano(0.5))]
    # The late settle of the expired request still charges what it used, once.
    assert await settle(store, plan, "dead", to_nano(0.1), T0 + TTL + 2, T0 + TTL + 2)
    assert await spent_reserved(store, plan) == [(to_nano(0.1), to_nano(0.5))]


async def test_period_rollover_resets_the_right_counters_only(store: Store):
    day1 = T0
    day2 = T0 + 86400  # 26 November: a new day, the same month
    month2 = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC).timestamp()
    plan1 = plan_at(day1, org=1.0, team=0.5)
    await store.reserve(plan1, "r1", to_nano(0.4), day1, TTL)
    await settle(store, plan1, "r1", to_nano(0.4), day1, day1)
    assert not (await store.reserve(plan_at(day1, org=1.0, team=0.5), "r2", to_nano(0.2), day1, TTL)).ok

    plan2 = plan_at(day2, org=1.0, team=0.5)
    assert await spent_reserved(store, plan2) == [(to_nano(0.4), 0), (0, 0)]  # month carried, day fresh
    assert (await store.reserve(plan2, "r3", to_nano(0.2), day2, TTL)).ok
    await settle(store, plan2, "r3", to_nano(0.2), day2, day2)

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
    s = redis_store(prefix)
    plan = plan_at(T0, org=10.0, team=1.0, agent=2.0)
    await s.reserve(plan, "r1", 5, T0, TTL)
    await settle(s, plan, "r1", 3, T0, T0)
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


async def test_a_repeated_reserve_is_applied_once(store: Store):
    plan = plan_at(T0, team=1.0)
    assert (await store.reserve(plan, "r1", to_nano(0.4), T0, TTL)).ok
    assert (await store.reserve(plan, "r1", to_nano(0.4), T0, TTL)).ok  # a retry after a lost reply
    assert await spent_reserved(store, plan) == [(0, to_nano(0.4))]
    # A reserve that lands after its own settle (a reordered retry) holds nothing either.
    assert await settle(store, plan, "r2", to_nano(0.1), T0, T0) == APPLIED
    await store.reserve(plan, "r2", to_nano(0.4), T0, TTL)
    assert await spent_reserved(store, plan) == [(to_nano(0.1), to_nano(0.4))]


async def test_a_settle_retried_after_a_lost_reply_is_charged_once(store: Store):
    plan = plan_at(T0, team=5.0)
    await store.reserve(plan, "r1", to_nano(1.5), T0, TTL)
    assert await settle(store, plan, "r1", to_nano(1.0021), T0, T0) == APPLIED
    # The reply was lost; the guard retries the same settle later, within the dedup window.
    assert await settle(store, plan, "r1", to_nano(1.0021), T0 + DEDUP - 1, T0) == DUPLICATE
    assert await spent_reserved(store, plan) == [(to_nano(1.0021), 0)]


async def test_a_settle_whose_reserve_never_landed_charges_once(store: Store):
    plan = plan_at(T0, team=5.0)
    assert await settle(store, plan, "unchecked", to_nano(0.5), T0, T0) == APPLIED
    assert await settle(store, plan, "unchecked", to_nano(0.5), T0 + 1, T0) == DUPLICATE
    assert await spent_reserved(store, plan) == [(to_nano(0.5), 0)]


async def test_a_settle_too_late_to_tell_changes_nothing(store: Store):
    plan = plan_at(T0, team=5.0)
    await settle(store, plan, "r1", to_nano(0.5), T0, T0)
    await store.reserve(plan, "sweeper", 1, T0 + DEDUP + 1, TTL)  # the tombstone's window has passed
    # A retry whose first attempt went out before the window: its tombstone may be gone.
    assert await settle(store, plan, "r1", to_nano(0.5), T0 + DEDUP + 2, T0) == UNKNOWABLE
    assert await spent_reserved(store, plan) == [(to_nano(0.5), 1)]


async def test_clamping_happens_in_the_reserve(store: Store):
    plan = plan_at(T0, team=1.0)
    await store.reserve(plan, "r0", to_nano(0.9), T0, TTL)
    left = to_nano(0.1)
    clamp = Clamp(fixed=to_nano(0.01), per_token=1000.0, min_tokens=16)  # $1 per 1M output tokens
    result = await store.reserve(plan, "r1", to_nano(0.5), T0, TTL, clamp)
    assert result.ok and result.tokens == (left - to_nano(0.01)) // 1000
    assert result.amount == to_nano(0.01) + result.tokens * 1000 and result.headroom == left - result.amount
    too_small = Clamp(fixed=to_nano(0.01), per_token=1000.0, min_tokens=16)
    refused = await store.reserve(plan, "r2", to_nano(0.5), T0, TTL, too_small)
    assert not refused.ok and refused.headroom == 0


async def test_replayed_shadow_spend_is_a_settle_per_batch(store: Store):
    plan = plan_at(T0, org=50.0, team=5.0)
    org_key, team_key = (c.key for c in plan.counters)
    amounts = {org_key: to_nano(0.75), team_key: to_nano(0.25)}  # spend of several requests, per counter
    assert await store.settle("acme", "replay:b1", amounts, T0, T0) == APPLIED
    assert await store.settle("acme", "replay:b1", amounts, T0 + 1, T0) == DUPLICATE  # a retry after a lost reply
    assert await spent_reserved(store, plan) == [(to_nano(0.75), 0), (to_nano(0.25), 0)]


async def test_exactly_once_state_is_bounded_by_the_dedup_window():
    prefix = f"tollgate-test-{uuid.uuid4().hex[:8]}:"
    s = redis_store(prefix)
    plan = plan_at(T0, team=1000.0)
    independent = redis.asyncio.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    recs = prefix + "{acme}:recs"
    try:
        for i in range(300):
            await s.reserve(plan, f"r{i}", 10, T0 + i * 0.1, TTL)
            await settle(s, plan, f"r{i}", 5, T0 + i * 0.1, T0 + i * 0.1)
        assert await independent.hlen(recs) == 300  # tombstones within the window
        for i in range(300):  # the same load, one window later
            now = T0 + DEDUP + 31 + i * 0.1
            await s.reserve(plan, f"s{i}", 10, now, TTL)
            await settle(s, plan, f"s{i}", 5, now, now)
        # Old tombstones went as new ones came: bounded by rate x window, not by history.
        assert await independent.hlen(recs) <= 301
        assert len([k async for k in independent.scan_iter(prefix + "*")]) == 3  # counter, deadlines, records
    finally:
        keys = [k async for k in independent.scan_iter(prefix + "*")]
        if keys:
            await independent.delete(*keys)
        await independent.aclose()
        await s.close()


def test_a_silent_store_fails_the_oldest_call_in_one_window_while_late_writes_go_on() -> None:
    """Every later command is written late (the loop stalls between send and flush); that must
    not stretch the window of a call written on time to a store that never answers."""
    timeout_s = 0.05

    async def run() -> float:
        silent = await asyncio.start_server(lambda r, w: asyncio.sleep(3600), "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        client = connect(parse_url(f"redis://127.0.0.1:{port}/0", timeout_s))
        first = client.call_nowait("PING")
        started = asyncio.get_running_loop().time()
        stop = False

        async def late_writes() -> None:
            while not stop:
                await asyncio.sleep(timeout_s * 0.4)
                client.call_nowait("PING").add_done_callback(lambda f: f.exception())
                time.sleep(timeout_s * 0.6)  # noqa: ASYNC251 - the loop stalls before this command's flush

        traffic = asyncio.create_task(late_writes())
        with contextlib.suppress(RedisUnavailable):
            await first
        took = asyncio.get_running_loop().time() - started
        stop = True
        await traffic
        await client.close()
        silent.close()
        return took

    # asyncio's own loop: there the flush of each late command comes after the watchdog's check,
    # which is where a late write used to restart every call's window, the oldest one's too.
    assert asyncio.run(run()) < timeout_s * 10  # one window (plus a stall), not the starved-loop cap
