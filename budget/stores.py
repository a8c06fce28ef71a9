"""Budget stores: where counters live. Same semantics, two homes.

A counter holds `spent` and `reserved` (nano-USD). `reserve` checks every counter of a plan and
adds the amount to all of them, or to none, atomically; it records the reservation under the
request id with a deadline, so a request that dies without settling stops holding budget once
the deadline passes (swept by the next reserve in the same org). `settle` is exactly-once per
request id: it releases the reservation and adds the real cost to `spent`; a repeated settle is
a no-op, and a settle after the reservation expired still charges what was used.
"""

from __future__ import annotations

import asyncio
import heapq
from dataclasses import dataclass
from typing import Protocol

from budget.plan import Plan
from budget.resp import Redis, RedisError

# Settled request ids are remembered this long to refuse a second settle.
SETTLED_MEMORY_S = 24 * 3600
# Counters outlive their period by this much, so operators can still read yesterday's spend.
COUNTER_GRACE_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class ReserveResult:
    ok: bool
    index: int  # the first counter that would overflow; -1 when ok
    headroom: int  # nano-USD left on the tightest counter: after reserving (ok) or before (refused)


class Store(Protocol):
    async def reserve(self, plan: Plan, request_id: str, amount: int, now: float, ttl_s: float) -> ReserveResult: ...
    def settle(self, plan: Plan, request_id: str, actual: int, now: float) -> asyncio.Future[bool]:
        """Exactly-once settle; the future says whether this call was the one that applied."""
        ...

    async def usage(self, plan: Plan) -> list[tuple[int, int]]: ...
    async def add_spent(self, org_id: str, amounts: dict[str, int]) -> None: ...
    async def close(self) -> None: ...


class MemoryStore:
    """In-process counters: the embedded default, correct for one worker process only."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], list[int]] = {}  # (org, key) -> [spent, reserved]
        self._expiry: dict[tuple[str, str], float] = {}
        self._reservations: dict[tuple[str, str], tuple[tuple[str, ...], int]] = {}
        self._deadlines: list[tuple[float, str, str]] = []
        self._settled: dict[tuple[str, str], float] = {}
        self._settled_order: list[tuple[float, str, str]] = []

    def _sweep(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            _, org, rid = heapq.heappop(self._deadlines)
            self._release(org, rid)
        while self._settled_order and self._settled_order[0][0] <= now:
            _, org, rid = heapq.heappop(self._settled_order)
            self._settled.pop((org, rid), None)

    def _release(self, org: str, rid: str) -> None:
        held = self._reservations.pop((org, rid), None)
        if held is not None:
            keys, amount = held
            for key in keys:
                self._counters[(org, key)][1] -= amount

    def _drop_old_counters(self, now: float) -> None:
        for ck in [ck for ck, exp in self._expiry.items() if exp <= now]:
            if self._counters.get(ck, [0, 0])[1] == 0:
                self._counters.pop(ck, None)
                del self._expiry[ck]

    async def reserve(self, plan: Plan, request_id: str, amount: int, now: float, ttl_s: float) -> ReserveResult:
        self._sweep(now)
        org = plan.org_id
        headroom = None
        for i, c in enumerate(plan.counters):
            spent, reserved = self._counters.get((org, c.key), (0, 0))
            left = c.limit - spent - reserved
            if left < amount:
                return ReserveResult(False, i, left)
            headroom = left - amount if headroom is None else min(headroom, left - amount)
        for c in plan.counters:
            self._counters.setdefault((org, c.key), [0, 0])[1] += amount
            if c.resets_at is not None:
                self._expiry[(org, c.key)] = c.resets_at + COUNTER_GRACE_S
        self._reservations[(org, request_id)] = (tuple(c.key for c in plan.counters), amount)
        heapq.heappush(self._deadlines, (now + ttl_s, org, request_id))
        if len(self._expiry) > 10_000:
            self._drop_old_counters(now)
        return ReserveResult(True, -1, headroom if headroom is not None else 0)

    def settle(self, plan: Plan, request_id: str, actual: int, now: float) -> asyncio.Future[bool]:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        fut.set_result(self._settle(plan, request_id, actual, now))
        return fut

    def _settle(self, plan: Plan, request_id: str, actual: int, now: float) -> bool:
        org = plan.org_id
        if (org, request_id) in self._settled:
            return False
        self._settled[(org, request_id)] = now + SETTLED_MEMORY_S
        heapq.heappush(self._settled_order, (now + SETTLED_MEMORY_S, org, request_id))
        self._release(org, request_id)
        if actual:
            for c in plan.counters:
                self._counters.setdefault((org, c.key), [0, 0])[0] += actual
        return True

    async def usage(self, plan: Plan) -> list[tuple[int, int]]:
        return [tuple(self._counters.get((plan.org_id, c.key), (0, 0))) for c in plan.counters]  # type: ignore[misc]

    async def add_spent(self, org_id: str, amounts: dict[str, int]) -> None:
        for key, amount in amounts.items():
            self._counters.setdefault((org_id, key), [0, 0])[0] += amount

    async def close(self) -> None:
        return None


# KEYS: counters..., reservation deadlines (zset), reservation records (hash)
# ARGV: now, ttl, request id, amount, limits..., expire-at per counter (0: never)
# Amounts stay strings on the way to HINCRBY, and numbers come back through '%.0f': Lua would
# print large numbers as 1e+15. (Lua numbers are doubles: exact up to 2**53 nano-USD, $9M.)
_RESERVE = """
local n = #KEYS - 2
local zset, recs = KEYS[n + 1], KEYS[n + 2]
local now = tonumber(ARGV[1])
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, 200)) do
  local rec = redis.call('HGET', recs, rid)
  if rec then
    local amount = string.match(rec, '^([^|]+)')
    for key in string.gmatch(rec, '|([^|]+)') do redis.call('HINCRBY', key, 'reserved', '-' .. amount) end
    redis.call('HDEL', recs, rid)
  end
  redis.call('ZREM', zset, rid)
end
local amount = tonumber(ARGV[4])
local headroom = nil
for i = 1, n do
  local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  local left = tonumber(ARGV[4 + i]) - (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0)
  if left < amount then return {0, i - 1, string.format('%.0f', left)} end
  if headroom == nil or left - amount < headroom then headroom = left - amount end
end
for i = 1, n do
  redis.call('HINCRBY', KEYS[i], 'reserved', ARGV[4])
  local exp = tonumber(ARGV[4 + n + i])
  if exp > 0 then redis.call('EXPIREAT', KEYS[i], exp) end
end
redis.call('HSET', recs, ARGV[3], ARGV[4] .. '|' .. table.concat(KEYS, '|', 1, n))
redis.call('ZADD', zset, now + tonumber(ARGV[2]), ARGV[3])
return {1, -1, string.format('%.0f', headroom or 0)}
"""

# KEYS: counters..., reservation deadlines, reservation records, settled marker
# ARGV: request id, actual cost, marker ttl
_SETTLE = """
local n = #KEYS - 3
if not redis.call('SET', KEYS[n + 3], '1', 'NX', 'EX', ARGV[3]) then return 0 end
local rec = redis.call('HGET', KEYS[n + 2], ARGV[1])
if rec then
  local amount = string.match(rec, '^([^|]+)')
  for key in string.gmatch(rec, '|([^|]+)') do redis.call('HINCRBY', key, 'reserved', '-' .. amount) end
  redis.call('HDEL', KEYS[n + 2], ARGV[1])
  redis.call('ZREM', KEYS[n + 1], ARGV[1])
end
if ARGV[2] ~= '0' then
  for i = 1, n do redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2]) end
end
return 1
"""


class RedisStore:
    """Counters in Redis, shared by every worker and replica.

    All keys of one org carry the hash tag `{org}`, so each script touches one Cluster slot.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._sha: dict[str, str] = {}

    def _key(self, org: str, suffix: str) -> str:
        return f"{self.prefix}{{{org}}}:{suffix}"

    async def _load_scripts(self) -> None:
        # Both at once: settles go out unawaited with EVALSHA and cannot load a script themselves.
        for script in (_RESERVE, _SETTLE):
            self._sha[script] = await self.redis.call("SCRIPT", "LOAD", script)

    async def _eval(self, script: str, keys: list[str], args: list[object]) -> list[object]:
        if script not in self._sha:
            await self._load_scripts()
        try:
            return await self.redis.call("EVALSHA", self._sha[script], len(keys), *keys, *args)  # type: ignore[no-any-return]
        except RedisError as e:
            if not str(e).startswith("NOSCRIPT"):
                raise
        await self._load_scripts()  # a restarted Redis forgot the scripts
        return await self.redis.call("EVALSHA", self._sha[script], len(keys), *keys, *args)  # type: ignore[no-any-return]

    async def reserve(self, plan: Plan, request_id: str, amount: int, now: float, ttl_s: float) -> ReserveResult:
        org = plan.org_id
        keys = [self._key(org, "c:" + c.key) for c in plan.counters]
        keys += [self._key(org, "resv"), self._key(org, "recs")]
        expire = [int(c.resets_at + COUNTER_GRACE_S) if c.resets_at is not None else 0 for c in plan.counters]
        args = [f"{now:.3f}", f"{ttl_s:.3f}", request_id, amount, *(c.limit for c in plan.counters), *expire]
        ok, index, headroom = await self._eval(_RESERVE, keys, args)
        return ReserveResult(ok == 1, int(index), int(headroom))  # type: ignore[call-overload]

    def settle(self, plan: Plan, request_id: str, actual: int, now: float) -> asyncio.Future[bool]:
        org = plan.org_id
        keys = [self._key(org, "c:" + c.key) for c in plan.counters]
        keys += [self._key(org, "resv"), self._key(org, "recs"), self._key(org, "done:" + request_id)]
        sha = self._sha.get(_SETTLE)
        if sha is None:  # first settle before any reserve loaded the scripts: rare; take the slow path
            return asyncio.ensure_future(self._settle_loading(keys, request_id, actual))
        reply = self.redis.call_nowait("EVALSHA", sha, len(keys), *keys, request_id, actual, SETTLED_MEMORY_S)
        result: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(f: asyncio.Future[object]) -> None:
            if f.cancelled():
                result.cancel()
            elif f.exception() is not None:
                result.set_exception(f.exception())  # type: ignore[arg-type]
            else:
                result.set_result(f.result() == 1)

        reply.add_done_callback(done)
        return result

    async def _settle_loading(self, keys: list[str], request_id: str, actual: int) -> bool:
        return await self._eval(_SETTLE, keys, [request_id, actual, SETTLED_MEMORY_S]) == 1

    async def usage(self, plan: Plan) -> list[tuple[int, int]]:
        out = []
        for c in plan.counters:
            spent, reserved = await self.redis.call("HMGET", self._key(plan.org_id, "c:" + c.key), "spent", "reserved")
            out.append((int(spent or 0), int(reserved or 0)))
        return out

    async def add_spent(self, org_id: str, amounts: dict[str, int]) -> None:
        for key, amount in amounts.items():
            await self.redis.call("HINCRBY", self._key(org_id, "c:" + key), "spent", amount)

    async def close(self) -> None:
        await self.redis.close()
