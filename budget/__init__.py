"""Budgets: prices, worst-case estimates, and org → team → agent limits reserved atomically
before each LLM request and settled to the real cost after it (memory or Redis store)."""

from budget.guard import AgentBudget, BudgetGuard, Reservation, agent_budgets, budget_report, limits_of
from budget.plan import (
    BudgetCounter,
    Clamp,
    LevelLimits,
    Plan,
    Verdict,
    clamp_for,
    make_plan,
    to_nano,
    to_usd,
    worst_case,
)
from budget.pricing import Price
from budget.stores import MemoryStore, RedisStore, ReserveResult, Store

__all__ = [
    "AgentBudget",
    "BudgetCounter",
    "BudgetGuard",
    "Clamp",
    "LevelLimits",
    "MemoryStore",
    "Plan",
    "Price",
    "RedisStore",
    "Reservation",
    "ReserveResult",
    "Store",
    "Verdict",
    "agent_budgets",
    "budget_report",
    "clamp_for",
    "limits_of",
    "make_plan",
    "to_nano",
    "to_usd",
    "worst_case",
]
