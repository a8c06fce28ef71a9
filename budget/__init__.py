"""Budgets. Built so far: the price table's arithmetic. Reservations and stores are not built yet
(issue: spending limits); the LLM door calls nothing here beyond `Price`.
"""

from budget.pricing import Price

__all__ = ["Price"]
