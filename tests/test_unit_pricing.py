"""budget.Price: cost arithmetic per million tokens."""

from __future__ import annotations

import pytest

from budget import Price


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def test_cost_combines_input_and_output_prices():
    price = Price(input_usd_per_1m=2.5, output_usd_per_1m=10.0)
    assert price.cost_usd(1_000_000, 1_000_000) == pytest.approx(12.5)


def test_cost_scales_per_token():
    price = Price(input_usd_per_1m=2.5, output_usd_per_1m=10.0)
    assert price.cost_usd(1000, 500) == pytest.approx(0.0025 + 0.005)


def test_input_and_output_are_not_swapped():
    price = Price(input_usd_per_1m=1.0, output_usd_per_1m=100.0)
    assert price.cost_usd(10, 0) == pytest.approx(0.00001)
    assert price.cost_usd(0, 10) == pytest.approx(0.001)


def test_zero_tokens_cost_nothing():
    assert Price(3.0, 15.0).cost_usd(0, 0) == 0


def test_free_model_costs_nothing():
    assert Price(0.0, 0.0).cost_usd(123_456, 7_890) == 0
