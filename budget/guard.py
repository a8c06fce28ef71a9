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


@dataclass(frozen=True, slots=True)
class AgentBudget:
    org_id: str
    scopes: tuple[tuple[str, str, Limits | None], ...]  # (level, id, limits), org first
    clamp: bool

    @property
    def limited(self) -> bool:
        return any(limits is not None for _, _, limits in self.scopes)


def agent_budgets(config: Config) -> dict[str, AgentBudget]:
    def limits(b: Budget | None) -> Limits | None:
        return Limits(b.daily_usd, b.monthly_usd, b.total_usd) if b is not None else None

    out = {}
    for org in config.orgs:
        for team in org.teams:
            for agent in team.agents:
                levels = (
                    ("org", org.id, org.budget),
                    ("team", team.id, team.budget),
                    ("agent", agent.id, agent.budget),
                )
                scopes = tuple((level, sid, limits(b)) for level, sid, b in levels)
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
    def __init__(self, store: Store, settings: BudgetStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.timeout_s = settings.timeout_ms / 1000
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_cooldown_s, time.monotonic)
        self.shadow: dict[str, dict[str, int]] = {}  # org -> counter key -> nano-USD spent unrecorded
        self._tasks: set[asyncio.Task[None]] = set()
        self._reconciling = False

    @classmethod
    def from_settings(cls, settings: BudgetStore) -> BudgetGuard:
        if settings.store == "redis":
            store: Store = RedisStore(Redis(settings.redis_url, settings.timeout_ms / 1000), settings.key_prefix)
        else:
            store = MemoryStore()
        return cls(store, settings)

    def plan(self, budget: AgentBudget) -> Plan:
        return make_plan(budget.org_id, list(budget.scopes), self.clock())

    async def reserve(self, plan: Plan, request_id: str, amount: int) -> tuple[Verdict, Reservation | None]:
        if not plan.counters:
            return Verdict(True, "no_limits"), None
        now = self.clock()
        if not self.breaker.allow():
            return self._unavailable(plan, request_id, amount, "reserve")
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self.store.reserve(plan, request_id, amount, now, self.settings.reservation_ttl_s)
        except (RedisError, TimeoutError, OSError):
            self.breaker.failure()
            return self._unavailable(plan, request_id, amount, "reserve")
        self._succeeded()
        if not result.ok:
            counter = plan.counters[result.index]
            DENIALS.labels(counter.level, counter.period).inc()
            return Verdict(False, counter.name, counter, headroom=max(0, result.headroom)), None
        RESERVED.inc(to_usd(amount))
        return Verdict(True, "within_budget", headroom=result.headroom), Reservation(plan, request_id, amount, False)

    def _unavailable(self, plan: Plan, request_id: str, amount: int, op: str) -> tuple[Verdict, Reservation | None]:
        STORE_ERRORS.labels(op).inc()
        if self.settings.fail_closed:
            return Verdict(False, "store_unavailable"), None
        RESERVED.inc(to_usd(amount))
        return Verdict(True, "store_unavailable", unchecked=True), Reservation(plan, request_id, amount, True)

    def settle(self, reservation: Reservation, actual: int) -> None:
        """Charge `actual` (0 releases); runs in the background so the response is not delayed."""
        RESERVED.dec(to_usd(reservation.amount))
        if actual:
            SPENT.labels(reservation.plan.org_id).inc(to_usd(actual))
        if reservation.unchecked:
            self._shadow(reservation.plan, actual)
            return
        task = asyncio.get_running_loop().create_task(self._settle(reservation, actual))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, reservation: Reservation, actual: int) -> None:
        if self.breaker.allow():
            try:
                async with asyncio.timeout(self.timeout_s * 4):  # off the request path: more patience
                    await self.store.settle(reservation.plan, reservation.request_id, actual, self.clock())
                self._succeeded()
                return
            except (RedisError, TimeoutError, OSError):
                self.breaker.failure()
        STORE_ERRORS.labels("settle").inc()
        # The reservation will expire by itself; the spend must not be lost.
        self._shadow(reservation.plan, actual)

    def _shadow(self, plan: Plan, actual: int) -> None:
        if actual:
            org = self.shadow.setdefault(plan.org_id, {})
            for c in plan.counters:
                org[c.key] = org.get(c.key, 0) + actual

    def _succeeded(self) -> None:
        self.breaker.success()
        if self.shadow and not self._reconciling:
            self._reconciling = True
            task = asyncio.get_running_loop().create_task(self._reconcile())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _reconcile(self) -> None:
        try:
            while self.shadow:
                org, amounts = self.shadow.popitem()
                try:
                    async with asyncio.timeout(self.timeout_s * 4):
                        await self.store.add_spent(org, amounts)
                except (RedisError, TimeoutError, OSError):
                    self._restore(org, amounts)
                    STORE_ERRORS.labels("reconcile").inc()
                    return
                log.info("budget store reachable again: reconciled shadow spend of org %s", org)
        finally:
            self._reconciling = False

    def _restore(self, org: str, amounts: dict[str, int]) -> None:
        current = self.shadow.setdefault(org, {})
        for key, amount in amounts.items():
            current[key] = current.get(key, 0) + amount

    async def usage(self, plan: Plan) -> list[tuple[int, int]]:
        async with asyncio.timeout(self.timeout_s * 4):
            return await self.store.usage(plan)

    async def close(self) -> None:
        """Wait for settles in flight (graceful shutdown), then close the store."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self.store.close()
