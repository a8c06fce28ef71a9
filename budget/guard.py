"""The budget guard: reserve before the call, settle after, and survive a store that fails.

Around the store it adds millisecond timeouts and a circuit breaker. When the store cannot
answer, the request proceeds (fail open, unless `fail_closed`), the failure is counted, the
verdict says `unchecked` for the audit row, and the spend of such requests is kept in local
shadow counters that are written back once the store answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge

from budget.plan import Limits, Plan, Verdict, make_plan, to_usd
from budget.resp import Redis, RedisError
from budget.stores import MemoryStore, RedisStore, Store
from config.schema import Budget, BudgetStore, Config

log = logging.getLogger("tollgate.budget")

STORE_ERRORS = PromCounter("tollgate_budget_store_errors", "Budget store calls that failed or timed out", ["op"])
DENIALS = PromCounter("tollgate_budget_denials", "Requests refused for budget", ["level", "period"])
SPENT = PromCounter("tollgate_budget_spent_usd", "Settled LLM spend in USD", ["org"])
RESERVED = Gauge("tollgate_budget_reserved_usd", "USD reserved by requests in flight", multiprocess_mode="livesum")
# Spent and reserved are per-request quantities; Prometheus scrapes every 15 s or so, and one
# update a second keeps two shared-memory writes off every request.
METRICS_FLUSH_S = 1.0


@dataclass(frozen=True, slots=True)
class AgentBudget:
    org_id: str
    scopes: tuple[tuple[str, str, Limits | None], ...]  # (level, id, limits), org first
    clamp: bool

    @property
    def limited(self) -> bool:
        return any(limits is not None for _, _, limits in self.scopes)


def limits_of(b: Budget | None) -> Limits | None:
    return Limits(b.daily_usd, b.monthly_usd, b.total_usd) if b is not None else None


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
    unchecked: bool


class Breaker:
    """Closed → open after `failures` consecutive errors → half-open after `cooldown_s`."""

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float]) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.consecutive = 0
        self.open_until = 0.0

    def allow(self) -> bool:
        return self.consecutive < self.failures or self.clock() >= self.open_until

    def success(self) -> None:
        self.consecutive = 0

    def failure(self) -> None:
        self.consecutive += 1
        if self.consecutive >= self.failures:
            self.open_until = self.clock() + self.cooldown_s


class BudgetGuard:
    """Reserve and settle around a store, with a breaker, shadow counters and batched metrics.

    The hot path awaits the store once per request (the reserve) and nothing else: timeouts live
    in the Redis client (one timer per call, no nested `asyncio.timeout`), settles are sent
    without a task and finish in a callback, plans are cached per agent and UTC day, and the
    spent/reserved metrics are flushed once a second instead of on every request.
    """

    def __init__(self, store: Store, settings: BudgetStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_cooldown_s, time.monotonic)
        self.shadow: dict[str, dict[str, int]] = {}  # org -> counter key -> nano-USD spent unrecorded
        self._plans: dict[AgentBudget, tuple[int, Plan]] = {}
        self._settling: set[asyncio.Future[bool]] = set()
        self._reconcile_task: asyncio.Task[None] | None = None
        self._metrics_task: asyncio.Task[None] | None = None
        self._reserved = 0  # nano-USD held by this process's requests in flight
        self._spent: dict[str, int] = {}  # org -> nano-USD settled since the last metrics flush

    @classmethod
    def from_settings(cls, settings: BudgetStore) -> BudgetGuard:
        if settings.store == "redis":
            store: Store = RedisStore(Redis(settings.redis_url, settings.timeout_ms / 1000), settings.key_prefix)
        else:
            store = MemoryStore()
        return cls(store, settings)

    def plan(self, budget: AgentBudget) -> Plan:
        now = self.clock()
        day = int(now // 86400)  # every period boundary (UTC day, month) is a day boundary
        cached = self._plans.get(budget)
        if cached is not None and cached[0] == day:
            return cached[1]
        if len(self._plans) > 10_000:
            self._plans.clear()
        plan = make_plan(budget.org_id, list(budget.scopes), now)
        self._plans[budget] = (day, plan)
        return plan

    async def reserve(self, plan: Plan, request_id: str, amount: int) -> tuple[Verdict, Reservation | None]:
        if not plan.counters:
            return Verdict(True, "no_limits"), None
        if self._metrics_task is None:
            self._metrics_task = asyncio.get_running_loop().create_task(self._flush_metrics_forever())
        if not self.breaker.allow():
            return self._unavailable(plan, request_id, amount, "reserve")
        try:
            result = await self.store.reserve(plan, request_id, amount, self.clock(), self.settings.reservation_ttl_s)
        except (RedisError, TimeoutError, OSError, ValueError):
            self.breaker.failure()
            return self._unavailable(plan, request_id, amount, "reserve")
        self._succeeded()
        if not result.ok:
            counter = plan.counters[result.index]
            DENIALS.labels(counter.level, counter.period).inc()
            return Verdict(False, counter.name, counter, headroom=max(0, result.headroom)), None
        self._reserved += amount
        return Verdict(True, "within_budget", headroom=result.headroom), Reservation(plan, request_id, amount, False)

    def _unavailable(self, plan: Plan, request_id: str, amount: int, op: str) -> tuple[Verdict, Reservation | None]:
        STORE_ERRORS.labels(op).inc()
        if self.settings.fail_closed:
            return Verdict(False, "store_unavailable"), None
        self._reserved += amount
        return Verdict(True, "store_unavailable", unchecked=True), Reservation(plan, request_id, amount, True)

    def settle(self, reservation: Reservation, actual: int) -> None:
        """Charge `actual` (0 releases); the store call finishes in the background."""
        self._reserved -= reservation.amount
        if actual:
            org = reservation.plan.org_id
            self._spent[org] = self._spent.get(org, 0) + actual
        if reservation.unchecked or not self.breaker.allow():
            self._shadow(reservation.plan, actual)
            return
        plan = reservation.plan
        fut = self.store.settle(plan, reservation.request_id, actual, self.clock())
        self._settling.add(fut)
        fut.add_done_callback(lambda f: self._settled(f, plan, actual))

    def _settled(self, fut: asyncio.Future[bool], plan: Plan, actual: int) -> None:
        self._settling.discard(fut)
        if not fut.cancelled() and fut.exception() is None:
            self._succeeded()
            return
        self.breaker.failure()
        STORE_ERRORS.labels("settle").inc()
        # The reservation will expire by itself; the spend must not be lost.
        self._shadow(plan, actual)

    def _shadow(self, plan: Plan, actual: int) -> None:
        if actual:
            org = self.shadow.setdefault(plan.org_id, {})
            for c in plan.counters:
                org[c.key] = org.get(c.key, 0) + actual

    def _succeeded(self) -> None:
        self.breaker.success()
        if self.shadow and self._reconcile_task is None:
            self._reconcile_task = asyncio.get_running_loop().create_task(self._reconcile())

    async def _reconcile(self) -> None:
        try:
            while self.shadow:
                org, amounts = self.shadow.popitem()
                try:
                    await self.store.add_spent(org, amounts)
                except (RedisError, TimeoutError, OSError):
                    self._restore(org, amounts)
                    STORE_ERRORS.labels("reconcile").inc()
                    return
                log.info("budget store reachable again: reconciled shadow spend of org %s", org)
        finally:
            self._reconcile_task = None

    def _restore(self, org: str, amounts: dict[str, int]) -> None:
        current = self.shadow.setdefault(org, {})
        for key, amount in amounts.items():
            current[key] = current.get(key, 0) + amount

    def _flush_metrics(self) -> None:
        RESERVED.set(to_usd(self._reserved))
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
        """Wait for settles in flight (graceful shutdown), then close the store."""
        if self._settling:
            await asyncio.wait(list(self._settling), timeout=5)
        if self._reconcile_task is not None:
            await asyncio.wait([self._reconcile_task], timeout=5)
        if self._metrics_task is not None:
            self._metrics_task.cancel()
        self._flush_metrics()
        await self.store.close()
