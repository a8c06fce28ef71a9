"""Prices and cost arithmetic: pure, shared by the LLM door's accounting and (later) reservations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Price:
    input_usd_per_1m: float
    output_usd_per_1m: float

    def cost_usd(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_usd_per_1m + tokens_out * self.output_usd_per_1m) / 1_000_000
