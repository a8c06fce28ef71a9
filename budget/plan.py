"""What a request must fit in: the counters of its org, team and agent, and the verdict.

Amounts are integers in nano-USD (1e-9 USD): prices per token are as small as 1e-8 USD, and
integer arithmetic keeps reserve, settle and release exact in every store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from budget.periods import PERIODS, period_key, resets_at
from budget.pricing import Price
from config.decision import Decision

NANO = 1_000_000_000
LEVELS = ("org", "team", "agent")  # outermost first
# What a refusal for budget gives as its reason: the counter that would go over (`team_daily`).
EXCEEDED_REASONS = frozenset(f"{level}_{period}" for level in LEVELS for period in PERIODS)


def to_nano(usd: float) -> int:
    return math.ceil(usd * NANO - 1e-6)  # round up: a reservation never undercounts


def to_usd(nano: int) -> float:
    return nano / NANO


@dataclass(frozen=True, slots=True)
class LevelLimits:
    """One level's limits in USD per period (None: no limit for that period)."""

    daily_usd: float | None = None
    monthly_usd: float | None = None
    total_usd: float | None = None

    def get(self, period: str) -> float | None:
        return getattr(self, f"{period}_usd")


@dataclass(frozen=True, slots=True)
class BudgetCounter:
    key: str  # unique within the org: level, id and period instance
    level: str  # one of LEVELS
    period: str  # one of PERIODS
    limit: int  # nano-USD
    resets_at: float | None

    @property
    def name(self) -> str:
        return f"{self.level}_{self.period}"  # one of EXCEEDED_REASONS


# eq=False: a plan is built once per budget and day and then keys the guard's per-plan state;
# identity hashing costs nothing, a field-wise hash of every counter cost ~2 µs per lookup.
@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    org_id: str
    counters: tuple[BudgetCounter, ...]


def make_plan(org_id: str, scopes: list[tuple[str, str, LevelLimits | None]], now: float) -> Plan:
    """`scopes`: (level, id, limits) from org down to agent."""
    counters = []
    for level, scope_id, limits in scopes:
        if limits is None:
            continue
        for period in PERIODS:
            usd = limits.get(period)
            if usd is not None:
                key = f"{level}:{scope_id}:{period_key(period, now)}"
                counters.append(BudgetCounter(key, level, period, to_nano(usd), resets_at(period, now)))
    return Plan(org_id, tuple(counters))


def worst_case(price: Price, prompt_tokens: int, max_output_tokens: int) -> int:
    return to_nano(price.cost_usd(prompt_tokens, max_output_tokens))


def clamp_for(price: Price, prompt_tokens: int, n: int, min_tokens: int) -> Clamp:
    """How the store may shrink a request that does not fit: the prompt, plus output tokens for n choices."""
    return Clamp(to_nano(price.cost_usd(prompt_tokens, 0)), price.output_usd_per_1m * 1000 * n, min_tokens)


@dataclass(frozen=True, slots=True)
class Clamp:
    """Shrink instead of refuse: cost = fixed + tokens x per_token, tokens >= min_tokens."""

    fixed: int  # nano-USD for the prompt
    per_token: float  # nano-USD per output token (times n choices)
    min_tokens: int


@dataclass(frozen=True, slots=True)
class BudgetDecision(Decision):
    """The budget's answer for one request. Reasons: "within_budget", "no_limits", "store_unavailable",
    or the counter that would go over ("team_monthly", one of EXCEEDED_REASONS)."""

    counter: BudgetCounter | None = None
    headroom: int | None = None  # nano-USD left on the tightest counter after this reservation
    unchecked: bool = False  # the store could not be asked: allowed by fail-open

    def retry_after(self, now: float) -> int | None:
        if self.counter is None or self.counter.resets_at is None:
            return None
        return max(1, math.ceil(self.counter.resets_at - now))
