"""Budget stores: where counters live. Same semantics, two homes.

A counter holds `spent` and `reserved` (nano-USD). Every operation is idempotent by request id,
so a call retried after a timeout (whose first attempt the store may or may not have applied)
is applied at most once:

- `reserve` checks every counter of a plan and adds the amount to all of them, or to none,
  atomically, and records the reservation under the request id with a deadline; a request that
  dies without settling stops holding budget once the deadline passes (swept by the next reserve
  in the same org). A reserve repeated for the same request id changes nothing. With a `Clamp`,
  a request that does not fit is shrunk to the output tokens that do, in the same step.
- `settle` releases the reservation and adds the real cost to `spent`, then leaves a tombstone
  under the request id for `dedup_s`, the window in which a duplicate can still arrive (a retry
  after a lost reply). A settle that finds neither record nor tombstone charges the cost (the
  reservation expired, or the reserve never landed) - unless its first attempt went out more
  than `dedup_s` ago, when a tombstone might already be gone: then it changes nothing and says so.
- The replay of spend recorded while the store could not be asked is a settle too: a batch id
  for a request id, and an amount per counter.

Exactly-once state therefore lives as long as a reservation plus the dedup window: memory is
bounded by load (requests per second times that window), never by history.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from budget.plan import Clamp, Plan
from budget.resp import Client, RedisError

# Counters outlive their period by this much, so operators can still read yesterday's spend.
COUNTER_GRACE_S = 7 * 24 * 3600

APPLIED, DUPLICATE, UNKNOWABLE = 1, 0, 2  # what a settle did

T = TypeVar("T")


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class ReserveResult:
    ok: bool
    index: int  # the tightest counter (-1: a repeated reserve, nothing checked)
    headroom: int  # nano-USD left on the tightest counter: after reserving (ok) or before (refused)
    amount: int = 0  # nano-USD reserved (the clamped amount when clamped)
    tokens: int = -1  # output tokens per choice that fit, when clamped


class Store(Protocol):
    async def reserve(
        self, plan: Plan, request_id: str, amount: int, now: float, ttl_s: float, clamp: Clamp | None = None
    ) -> ReserveResult: ...

    def settle(
        self, org_id: str, request_id: str, amounts: dict[str, int], now: float, first_sent: float
    ) -> asyncio.Future[int]:
        """Release the reservation and add `amounts` (counter key -> nano-USD) to `spent`.

        APPLIED, DUPLICATE (applied before) or UNKNOWABLE (too late to tell; nothing changed).
        """
        ...

    async def usage(self, plan: Plan) -> list[tuple[int, int]]: ...
    async def close(self) -> None: ...


def _fit(lefts: list[int], amount: int, clamp: Clamp | None) -> tuple[int, int, int, int]:
    """(tightest counter, its headroom, amount to reserve or -1 for none, clamped tokens or -1)."""
    index = min(range(len(lefts)), key=lefts.__getitem__)
    left = lefts[index]
    if left >= amount:
        return index, left, amount, -1
    if clamp is not None and clamp.per_token > 0:
        tokens = math.floor((left - clamp.fixed) / clamp.per_token)
        fit = clamp.fixed + math.ceil(tokens * clamp.per_token)
        if fit > left:  # the rounding up of a fraction of a nano-dollar
            tokens -= 1
            fit = clamp.fixed + math.ceil(tokens * clamp.per_token)
        if tokens >= clamp.min_tokens:
            return index, left, fit, tokens
    return index, left, -1, -1


class MemoryStore:
    """In-process counters: the embedded default, correct for one worker process only.

    Live reservations and tombstones sit in insertion-ordered dicts: with one TTL (and one dedup
    window) per store their deadlines grow in insertion order, so expiry pops from the front and a
    settle deletes its entry at once. Nothing outlives its window.
    """

    def __init__(self, dedup_s: float) -> None:
        self.dedup_s = dedup_s
        self._counters: dict[tuple[str, str], list[int]] = {}  # (org, key) -> [spent, reserved]
        self._expiry: dict[tuple[str, str], float] = {}
        # (org, request id) -> (deadline, counter keys, amount) of a live reservation
        self._live: dict[tuple[str, str], tuple[float, tuple[str, ...], int]] = {}
        self._tombstones: dict[tuple[str, str], float] = {}  # (org, request id) -> forgotten at

    def _sweep(self, now: float) -> None:
        while self._live:
            rid, (deadline, keys, amount) = next(iter(self._live.items()))
            if deadline > now:
                break
            del self._live[rid]
            for key in keys:
                self._counters[(rid[0], key)][1] -= amount
        while self._tombstones:
            rid, until = next(iter(self._tombstones.items()))
            if until > now:
                break
            del self._tombstones[rid]

    def _drop_old_counters(self, now: float) -> None:
        for ck in [ck for ck, exp in self._expiry.items() if exp <= now]:
            if self._counters.get(ck, [0, 0])[1] == 0:
                self._counters.pop(ck, None)
                del self._expiry[ck]

    async def reserve(
        self, plan: Plan, request_id: str, amount: int, now: float, ttl_s: float, clamp: Clamp | None = None
    ) -> ReserveResult:
        self._sweep(now)
        org = plan.org_id
        rid = (org, request_id)
        if rid in self._live or rid in self._tombstones:
            return ReserveResult(True, -1, 0, 0)  # a repeat: the first one counted
        lefts = []
        for c in plan.counters:
            spent, reserved = self._counters.get((org, c.key), (0, 0))
            lefts.append(c.limit - spent - reserved)
        index, left, fit, tokens = _fit(lefts, amount, clamp)
        if fit < 0:
            return ReserveResult(False, index, left)
        for c in plan.counters:
            self._counters.setdefault((org, c.key), [0, 0])[1] += fit
            if c.resets_at is not None:
                self._expiry[(org, c.key)] = c.resets_at + COUNTER_GRACE_S
        self._live[rid] = (now + ttl_s, tuple(c.key for c in plan.counters), fit)
        if len(self._expiry) > 10_000:
            self._drop_old_counters(now)
        return ReserveResult(True, index, left - fit, fit, tokens)

    def settle(
        self, org_id: str, request_id: str, amounts: dict[str, int], now: float, first_sent: float
    ) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        fut.set_result(self._settle(org_id, request_id, amounts, now, first_sent))
        return fut

    def _settle(self, org: str, request_id: str, amounts: dict[str, int], now: float, first_sent: float) -> int:
        rid = (org, request_id)
        if rid in self._tombstones:
            return DUPLICATE
        live = self._live.pop(rid, None)
        if live is not None:
            for key in live[1]:
                self._counters[(org, key)][1] -= live[2]
        elif now - first_sent > self.dedup_s:
            return UNKNOWABLE
        for key, amount in amounts.items():
            if amount:
                self._counters.setdefault((org, key), [0, 0])[0] += amount
        self._tombstones[rid] = now + self.dedup_s
        return APPLIED

    async def usage(self, plan: Plan) -> list[tuple[int, int]]:
        return [tuple(self._counters.get((plan.org_id, c.key), (0, 0))) for c in plan.counters]  # type: ignore[misc]

    async def close(self) -> None:
        return None


# KEYS: counters..., deadlines (zset), records (hash: request id -> 'amount|key|key…', or 'd')
# ARGV: now, ttl, request id, amount, clamp fixed, clamp per token (0: no clamp), clamp minimum,
#       limits..., expire-at per counter (0: never)
# Amounts stay strings on the way to HINCRBY, and numbers come back through '%.0f': Lua would
# print large numbers as 1e+15. (Lua numbers are doubles: exact up to 2**53 nano-USD, $9M.)
# Expired reservations released per reserve (200): bounds one reserve's work after an outage.
_SWEEP = """
local function sweep(zset, recs, now)
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, 200)) do
    local rec = redis.call('HGET', recs, rid)
    if rec and rec ~= 'd' then
      local amount = string.match(rec, '^([^|]+)')
      for key in string.gmatch(rec, '|([^|]+)') do redis.call('HINCRBY', key, 'reserved', '-' .. amount) end
    end
    redis.call('HDEL', recs, rid)
    redis.call('ZREM', zset, rid)
  end
end
"""

_RESERVE = (
    _SWEEP
    + """
local n = #KEYS - 2
local zset, recs = KEYS[n + 1], KEYS[n + 2]
local now = tonumber(ARGV[1])
sweep(zset, recs, now)
if redis.call('HEXISTS', recs, ARGV[3]) == 1 then return {1, -1, '0', '0', -1} end
local amount = tonumber(ARGV[4])
local index, left = 0, nil
for i = 1, n do
  local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  local l = tonumber(ARGV[7 + i]) - (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0)
  if left == nil or l < left then index, left = i - 1, l end
end
local tokens = -1
if left < amount then
  local fixed, per_token = tonumber(ARGV[5]), tonumber(ARGV[6])
  if per_token <= 0 then return {0, index, string.format('%.0f', left), '0', -1} end
  tokens = math.floor((left - fixed) / per_token)
  amount = fixed + math.ceil(tokens * per_token)
  if amount > left then
    tokens = tokens - 1
    amount = fixed + math.ceil(tokens * per_token)
  end
  if tokens < tonumber(ARGV[7]) then return {0, index, string.format('%.0f', left), '0', -1} end
end
local s = string.format('%.0f', amount)
for i = 1, n do
  redis.call('HINCRBY', KEYS[i], 'reserved', s)
  local exp = tonumber(ARGV[7 + n + i])
  if exp > 0 then redis.call('EXPIREAT', KEYS[i], exp) end
end
redis.call('HSET', recs, ARGV[3], s .. '|' .. table.concat(KEYS, '|', 1, n))
redis.call('ZADD', zset, now + tonumber(ARGV[2]), ARGV[3])
return {1, index, string.format('%.0f', left - amount), s, tokens}
"""
)

# KEYS: counters..., deadlines, records
# ARGV: request id, now, dedup window, time of the first attempt, amount per counter...
_SETTLE = """
local n = #KEYS - 2
local zset, recs = KEYS[n + 1], KEYS[n + 2]
local now = tonumber(ARGV[2])
local rec = redis.call('HGET', recs, ARGV[1])
if rec == 'd' then return 0 end
if rec then
  local amount = string.match(rec, '^([^|]+)')
  for key in string.gmatch(rec, '|([^|]+)') do redis.call('HINCRBY', key, 'reserved', '-' .. amount) end
elseif now - tonumber(ARGV[4]) > tonumber(ARGV[3]) then
  return 2
end
for i = 1, n do
  if ARGV[4 + i] ~= '0' then redis.call('HINCRBY', KEYS[i], 'spent', ARGV[4 + i]) end
end
redis.call('HSET', recs, ARGV[1], 'd')
redis.call('ZADD', zset, now + tonumber(ARGV[3]), ARGV[1])
return 1
"""

SCRIPTS = (_RESERVE, _SETTLE)  # in this order: reserve, settle
_SHA = {script: hashlib.sha1(script.encode()).hexdigest() for script in SCRIPTS}


class RedisStore:
    """Counters in Redis, shared by every worker and replica.

    All keys of one org carry the hash tag `{org}`, so each script touches one Cluster slot. The
    client loads the scripts on every new connection; EVALSHA falls back to EVAL if a server
    forgot them anyway (SCRIPT FLUSH).
    """

    def __init__(self, redis: Client, prefix: str, dedup_s: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.dedup_s = dedup_s

    def _key(self, org: str, suffix: str) -> str:
        return f"{self.prefix}{{{org}}}:{suffix}"

    def _run(
        self, script: str, keys: list[str], args: list[object], convert: Callable[[Any], T] = _same
    ) -> asyncio.Future[T]:
        route = keys[0]
        reply = self.redis.call_nowait("EVALSHA", _SHA[script], len(keys), *keys, *args, key=route)
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def done(f: asyncio.Future[Any]) -> None:
            error = f.exception() if not f.cancelled() else None
            if isinstance(error, RedisError) and str(error).startswith("NOSCRIPT"):
                again = self.redis.call_nowait("EVAL", script, len(keys), *keys, *args, key=route)
                again.add_done_callback(lambda g: _pass(result, g, convert))
            else:
                _pass(result, f, convert)

        reply.add_done_callback(done)
        return result

    async def reserve(
        self, plan: Plan, request_id: str, amount: int, now: float, ttl_s: float, clamp: Clamp | None = None
    ) -> ReserveResult:
        org = plan.org_id
        keys = [self._key(org, "c:" + c.key) for c in plan.counters]
        keys += [self._key(org, "resv"), self._key(org, "recs")]
        expire = [int(c.resets_at + COUNTER_GRACE_S) if c.resets_at is not None else 0 for c in plan.counters]
        fixed, per_token, minimum = (clamp.fixed, clamp.per_token, clamp.min_tokens) if clamp else (0, 0, 0)
        args: list[object] = [f"{now:.3f}", f"{ttl_s:.3f}", request_id, amount, fixed, repr(float(per_token)), minimum]
        args += [*(c.limit for c in plan.counters), *expire]
        reply: list[Any] = await self._run(_RESERVE, keys, args)
        ok, index, headroom, reserved, tokens = reply
        return ReserveResult(ok == 1, int(index), int(headroom), int(reserved), int(tokens))

    def settle(
        self, org_id: str, request_id: str, amounts: dict[str, int], now: float, first_sent: float
    ) -> asyncio.Future[int]:
        keys = [self._key(org_id, "c:" + key) for key in amounts]
        keys += [self._key(org_id, "resv"), self._key(org_id, "recs")]
        args: list[object] = [request_id, f"{now:.3f}", f"{self.dedup_s:.3f}", f"{first_sent:.3f}", *amounts.values()]
        return self._run(_SETTLE, keys, args, int)

    async def usage(self, plan: Plan) -> list[tuple[int, int]]:
        out = []
        for c in plan.counters:
            key = self._key(plan.org_id, "c:" + c.key)
            spent, reserved = await self.redis.call("HMGET", key, "spent", "reserved", key=key)
            out.append((int(spent or 0), int(reserved or 0)))
        return out

    async def close(self) -> None:
        await self.redis.close()


def _pass(target: asyncio.Future[T], source: asyncio.Future[Any], convert: Callable[[Any], T]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(convert(source.result()))
