"""Budgets: prices, worst-case estimates, and org → team → agent limits reserved atomically
before each LLM request and settled to the real cost after it (memory or Redis store)."""

from budget.guard import AgentBudget, BudgetGuard, Reservation, agent_budgets, limits_of
from budget.plan import Counter, Limits, Plan, Verdict, affordable_output, make_plan, to_nano, to_usd, worst_case
from budget.pricing import Price
from budget.stores import MemoryStore, RedisStore, ReserveResult, Store

__all__ = [
    "AgentBudget",
    "BudgetGuard",
    "Counter",
    "Limits",
    "MemoryStore",
    "Plan",
    "Price",
    "RedisStore",
    "Reservation",
    "ReserveResult",
    "Store",
    "Verdict",
    "affordable_output",
    "agent_budgets",
    "limits_of",
    "make_plan",
    "to_nano",
    "to_usd",
    "worst_case",
]
