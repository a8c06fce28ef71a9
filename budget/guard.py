"""The budget guard: reserve before the call, settle after, and survive a store that fails.

Around the store it adds the circuit breaker and the bookkeeping that keeps charging exact when
the network is not:

- A reserve that fails is passed (fail open, unless `fail_closed`), counted, and marked
  `unchecked` for the audit row. If it reached the wire, Redis may still apply it late; the
  request's settle goes to the store by request id anyway, which releases such a reservation.
- A settle that fails is parked with its request id and retried until the store answers. Retries
  are idempotent (see `budget.stores`): a settle that Redis applied but whose reply was lost is
  never charged twice.
- Spend that never had a reservation in the store (the reserve was not even sent: breaker open)
  is kept in local shadow counters and replayed as a settle of its own under a batch id, so a
  replay is deduplicated exactly like a request.

Everything parked is bounded: at most `MAX_PARKED` settles; beyond that the spend of settles that
never reached the wire goes to the shadow counters (their reservations then expire by TTL), and
the rest is counted as lost rather than kept without bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from budget.plan import BudgetDecision, LevelLimits, Plan, make_plan, to_usd
from budget.resp import RedisError, RedisUnavailable, connect
from budget.stores import SCRIPTS, UNKNOWABLE, Clamp, MemoryStore, RedisStore, Store
from config.schema import Budget, BudgetStore, Config, Org

log = logging.getLogger("tollgate.budget")

STORE_ERRORS = Counter("tollgate_budget_store_errors", "Budget store calls that failed or timed out", ["op"])
DENIALS = Counter("tollgate_budget_denials", "Requests refused for budget", ["level", "period"])
SPENT = Counter("tollgate_budget_spent_usd", "Settled LLM spend in USD", ["org"])
RESERVED = Gauge("tollgate_budget_reserved_usd", "USD reserved by requests in flight", multiprocess_mode="livesum")
PARKED = Gauge("tollgate_budget_settles_parked", "Settles waiting for the store to answer", multiprocess_mode="livesum")
UNRESOLVED = Counter(
    "tollgate_budget_settles_unresolved", "Settles whose outcome could not be established (not charged)"
)
# Spent and reserved are per-request quantities; Prometheus scrapes every 15 s or so, and one
# update a second keeps two shared-memory writes off every request.
METRICS_FLUSH_S = 1.0
# Settles kept for retry while the store is away: ~200 bytes each, a minute of a busy outage.
MAX_PARKED = 100_000
# Settles resent per round when the store is back: one pipelined write, not a thundering herd.
RETRY_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class AgentBudget:
    org_id: str
    scopes: tuple[tuple[str, str, LevelLimits | None], ...]  # (level, id, limits), org first
    clamp: bool

    @property
    def limited(self) -> bool:
        return any(limits is not None for _, _, limits in self.scopes)


def limits_of(b: Budget | None) -> LevelLimits | None:
    return LevelLimits(b.daily_usd, b.monthly_usd, b.total_usd) if b is not None else None


def agent_budgets(config: Config) -> dict[str, AgentBudget]:
    out = {}
    for org in config.orgs:
        for team in org.teams:
            for agent in team.agents:
                levels = (
                    ("org", org.id, org.budget),
                    ("team", team.id, team.budget),
                    ("agent", agent.id, agent.budget),
                )
                scopes = tuple((level, sid, limits_of(b)) for level, sid, b in levels)
                clamp = any(b is not None and b.clamp_max_tokens for _, _, b in levels)
                out[agent.id] = AgentBudget(org.id, scopes, clamp)
    return out


@dataclass(slots=True)
class Reservation:
    plan: Plan
    request_id: str
    amount: int
    unchecked: bool  # the store did not confirm the reservation
    sent: bool = True  # the reserve reached the wire, so the store may hold it
    tokens: int = -1  # output tokens per choice, when the store clamped the request


@dataclass(slots=True)
class _Parked:
    org_id: str
    amounts: dict[str, int]  # counter key -> nano-USD to add to spent
    first_sent: float | None  # when an attempt first reached the wire (its outcome is then unknown)


class Breaker:
    """Closed → open after `failures` consecutive errors → half-open after `cooldown_s`.

    Errors closer together than `window_s` are one incident: thirty calls queued behind one 30 ms
    stall of the store fail together, and that is one failure of the store, not thirty.
    """

    def __init__(self, failures: int, cooldown_s: float, window_s: float, clock: Callable[[], float]) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.window_s = window_s
        self.clock = clock
        self.consecutive = 0
        self.open_until = 0.0
        self._last_failure = float("-inf")

    def allow(self) -> bool:
        return self.consecutive < self.failures or self.clock() >= self.open_until

    def success(self) -> None:
        self.consecutive = 0

    def failure(self) -> None:
        now = self.clock()
        if now - self._last_failure < self.window_s:
            return
        self._last_failure = now
        self.consecutive += 1
        if self.consecutive >= self.failures:
            self.open_until = now + self.cooldown_s


def _store_failure(error: BaseException) -> bool:
    return isinstance(error, RedisError | TimeoutError | OSError)


class BudgetGuard:
    """Reserve and settle around a store, with a breaker, parked settles, shadow counters and batched metrics.

    The hot path awaits the store once per request (the reserve, clamping included) and nothing
    else: timeouts live in the Redis client (one watchdog per connection), settles are sent
    without a task and finish in a callback, plans are cached per agent and UTC day, and the
    spent/reserved metrics are flushed once a second instead of on every request.
    """

    def __init__(self, store: Store, settings: BudgetStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        window = settings.timeout_ms / 1000
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_cooldown_s, window, time.monotonic)
        self.shadow: dict[str, dict[str, int]] = {}  # org -> counter key -> nano-USD not yet in the store
        self._parked: dict[str, _Parked] = {}  # request id -> settle to retry
        self._plans: dict[AgentBudget, tuple[int, Plan]] = {}
        # plan -> [headroom, tightest counter] as the store last said, less what passed unchecked since
        self._allowance: dict[Plan, list[int]] = {}
        self._settling: set[asyncio.Future[int]] = set()
        self._retry_task: asyncio.Task[None] | None = None
        self._metrics_task: asyncio.Task[None] | None = None
        self._reserved = 0  # nano-USD held by this process's requests in flight
        self._spent: dict[str, int] = {}  # org -> nano-USD settled since the last metrics flush

    @classmethod
    def from_settings(cls, settings: BudgetStore) -> BudgetGuard:
        if settings.store == "redis":
            target = settings.redis_target(SCRIPTS)
            store: Store = RedisStore(connect(target), settings.key_prefix, settings.settle_dedup_s)
        else:
            store = MemoryStore(settings.settle_dedup_s)
        return cls(store, settings)

    def plan(self, budget: AgentBudget) -> Plan:
        now = self.clock()
        day = int(now // 86400)  # every period boundary (UTC day, month) is a day boundary
        cached = self._plans.get(budget)
        if cached is not None and cached[0] == day:
            return cached[1]
        if len(self._plans) > 10_000:
            self._plans.clear()
            self._allowance.clear()
        plan = make_plan(budget.org_id, list(budget.scopes), now)
        self._plans[budget] = (day, plan)
        return plan

    async def reserve(
        self, plan: Plan, request_id: str, amount: int, clamp: Clamp | None = None
    ) -> tuple[BudgetDecision, Reservation | None]:
        if not plan.counters:
            return BudgetDecision(True, "no_limits"), None
        if self._metrics_task is None:
            self._metrics_task = asyncio.get_running_loop().create_task(self._flush_metrics_forever())
        if not self.breaker.allow():
            return self._unavailable(plan, request_id, amount, sent=False)
        try:
            result = await self.store.reserve(
                plan, request_id, amount, self.clock(), self.settings.reservation_ttl_s, clamp
            )
        except asyncio.CancelledError:
            # The client left while the reserve was on the wire; the store may apply it: release it.
            self._reserved += amount
            self.settle(Reservation(plan, request_id, amount, unchecked=False, sent=True), 0)
            raise
        except Exception as e:
            if not _store_failure(e):
                raise
            self.breaker.failure()
            return self._unavailable(plan, request_id, amount, sent=not isinstance(e, RedisUnavailable) or e.sent)
        self.breaker.success()
        if result.index >= 0:
            self._allowance[plan] = [result.headroom, result.index]
        if not result.ok:
            counter = plan.counters[result.index]
            DENIALS.labels(counter.level, counter.period).inc()
            return BudgetDecision(False, counter.name, counter, headroom=max(0, result.headroom)), None
        self._reserved += result.amount
        verdict = BudgetDecision(True, "within_budget", headroom=result.headroom)
        return verdict, Reservation(plan, request_id, result.amount, False, tokens=result.tokens)

    def _unavailable(
        self, plan: Plan, request_id: str, amount: int, sent: bool
    ) -> tuple[BudgetDecision, Reservation | None]:
        """Fail open, but not blind: what the store last said is left, less what passed since, is
        all this worker lets through unchecked. A budget known to be spent stays closed through an
        outage; one never seen here passes (counted and audited)."""
        STORE_ERRORS.labels("reserve").inc()
        allowance = self._allowance.get(plan)
        spent_out = allowance is not None and allowance[0] < amount
        if spent_out or self.settings.fail_closed:
            if sent:  # the store may apply it late: release it by request id
                self._reserved += amount
                self.settle(Reservation(plan, request_id, amount, unchecked=False, sent=True), 0)
            if allowance is not None and spent_out:
                counter = plan.counters[allowance[1]]
                DENIALS.labels(counter.level, counter.period).inc()
                return BudgetDecision(False, counter.name, counter, headroom=max(0, allowance[0]), unchecked=True), None
            return BudgetDecision(False, "store_unavailable"), None
        if allowance is not None:
            allowance[0] -= amount
        self._reserved += amount
        return BudgetDecision(True, "store_unavailable", unchecked=True), Reservation(
            plan, request_id, amount, True, sent
        )

    def settle(self, reservation: Reservation, actual: int) -> None:
        """Charge `actual` (0 releases); the store call finishes in the background."""
        self._reserved -= reservation.amount
        plan = reservation.plan
        if reservation.unchecked and actual < reservation.amount and (allowance := self._allowance.get(plan)):
            allowance[0] += reservation.amount - actual  # give back what the request did not use
        if actual:
            self._spent[plan.org_id] = self._spent.get(plan.org_id, 0) + actual
        amounts = {c.key: actual for c in plan.counters}
        if not reservation.sent:
            self._shadow(plan.org_id, amounts)
        else:
            self._send(reservation.request_id, _Parked(plan.org_id, amounts, None))

    def _send(self, request_id: str, parked: _Parked) -> asyncio.Future[int] | None:
        if not self.breaker.allow():
            self._park(request_id, parked)
            return None
        now = self.clock()
        first_sent = parked.first_sent if parked.first_sent is not None else now
        fut = self.store.settle(parked.org_id, request_id, parked.amounts, now, first_sent)
        self._settling.add(fut)
        fut.add_done_callback(lambda f: self._settled(f, request_id, parked, first_sent))
        return fut

    def _settled(self, fut: asyncio.Future[int], request_id: str, parked: _Parked, first_sent: float) -> None:
        self._settling.discard(fut)
        if fut.cancelled():
            self._park(request_id, parked)
            return
        error = fut.exception()
        if error is None:
            self.breaker.success()
            if fut.result() == UNKNOWABLE:
                UNRESOLVED.inc()
                log.warning("budget settle of %s could not be established after an outage; not charged", request_id)
            return
        if not _store_failure(error):
            log.error("budget settle of %s failed: %s", request_id, error)
            return
        self.breaker.failure()
        STORE_ERRORS.labels("settle").inc()
        if not isinstance(error, RedisUnavailable) or error.sent:
            parked.first_sent = first_sent  # it may have been applied: from now on only an idempotent retry
        self._park(request_id, parked)

    def _park(self, request_id: str, parked: _Parked) -> None:
        if len(self._parked) >= MAX_PARKED and request_id not in self._parked:
            if parked.first_sent is None:
                self._shadow(parked.org_id, parked.amounts)
            else:
                UNRESOLVED.inc()
            return
        self._parked[request_id] = parked
        self._start_retrying()

    def _shadow(self, org_id: str, amounts: dict[str, int]) -> None:
        org = self.shadow.setdefault(org_id, {})
        for key, amount in amounts.items():
            if amount:
                org[key] = org.get(key, 0) + amount
        if not org:
            del self.shadow[org_id]
        else:
            self._start_retrying()

    def _start_retrying(self) -> None:
        if self._retry_task is None:
            self._retry_task = asyncio.get_running_loop().create_task(self._retry_forever())

    async def _retry_forever(self) -> None:
        """Resend parked settles and replay shadow spend until the store has taken all of it."""
        try:
            while self._parked or self.shadow:
                await asyncio.sleep(self.settings.breaker_cooldown_s)
                if self.breaker.allow():
                    await self._retry_round()
        finally:
            self._retry_task = None

    async def _retry_round(self) -> None:
        # Shadow spend becomes a settle of its own, under a batch id: retried like any other.
        shadow, self.shadow = self.shadow, {}
        for org, amounts in shadow.items():
            self._parked["replay:" + uuid.uuid4().hex] = _Parked(org, amounts, None)
        sent = []
        for request_id in list(self._parked)[:RETRY_BATCH]:
            fut = self._send(request_id, self._parked.pop(request_id))
            if fut is not None:
                sent.append(fut)
        if sent:
            await asyncio.wait(sent)

    def _flush_metrics(self) -> None:
        RESERVED.set(to_usd(self._reserved))
        PARKED.set(len(self._parked))
        spent, self._spent = self._spent, {}
        for org, amount in spent.items():
            SPENT.labels(org).inc(to_usd(amount))

    async def _flush_metrics_forever(self) -> None:
        while True:
            await asyncio.sleep(METRICS_FLUSH_S)
            self._flush_metrics()

    async def usage(self, plan: Plan) -> list[tuple[int, int]]:
        return await self.store.usage(plan)

    async def close(self) -> None:
        """Wait for settles in flight and one last retry of what is parked, then close the store."""
        if self._settling:
            await asyncio.wait(list(self._settling), timeout=5)
        if (self._parked or self.shadow) and self.breaker.allow():
            await asyncio.wait([asyncio.ensure_future(self._retry_round())], timeout=5)
        if self._retry_task is not None:
            self._retry_task.cancel()
        if self._metrics_task is not None:
            self._metrics_task.cancel()
        self._flush_metrics()
        lost = len(self._parked) + len(self.shadow)
        if lost:
            log.warning("budget store unreachable at shutdown: %d settles or shadow batches not recorded", lost)
        await self.store.close()


async def budget_report(guard: BudgetGuard, org: Org) -> list[dict[str, object]]:
    """Limit, spent, reserved and remaining of every counter of an org, its teams and agents."""
    scopes = [("org", org.id, org.budget)]
    for team in org.teams:
        scopes.append(("team", team.id, team.budget))
        scopes.extend(("agent", a.id, a.budget) for a in team.agents)
    rows: list[dict[str, object]] = []
    for level, scope_id, b in scopes:
        if b is None:
            continue
        plan = make_plan(org.id, [(level, scope_id, limits_of(b))], guard.clock())
        for counter, (spent, reserved) in zip(plan.counters, await guard.usage(plan), strict=True):
            rows.append(
                {
                    "level": level,
                    "id": scope_id,
                    "period": counter.period,
                    "limit_usd": to_usd(counter.limit),
                    "spent_usd": to_usd(spent),
                    "reserved_usd": to_usd(reserved),
                    "remaining_usd": to_usd(max(0, counter.limit - spent - reserved)),
                    "resets_at": counter.resets_at,
                }
            )
    return rows
