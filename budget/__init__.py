"""Budgets: prices, worst-case estimates, and org → team → agent limits reserved atomically
before each LLM request and settled to the real cost after it (memory or Redis store)."""

from budget.guard import AgentBudget, BudgetGuard, Reservation, agent_budgets, budget_report, limits_of
from budget.plan import (
    EXCEEDED_REASONS,
    LEVELS,
    BudgetCounter,
    BudgetDecision,
    Clamp,
    LevelLimits,
    Plan,
    clamp_for,
    make_plan,
    to_nano,
    to_usd,
    worst_case,
)
from budget.pricing import Price
from budget.stores import MemoryStore, RedisStore, ReserveResult, Store

__all__ = [
    "EXCEEDED_REASONS",
    "LEVELS",
    "AgentBudget",
    "BudgetCounter",
    "BudgetDecision",
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
    "agent_budgets",
    "budget_report",
    "clamp_for",
    "limits_of",
    "make_plan",
    "to_nano",
    "to_usd",
    "worst_case",
]
