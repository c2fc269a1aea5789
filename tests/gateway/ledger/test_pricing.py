"""Cost arithmetic is exact: no float drift in money."""

from __future__ import annotations

import random
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest

from gateway.config import Price as ConfigPrice
from gateway.ledger.pricing import (
    MAX_MICROS,
    Price,
    Usage,
    budget_micros,
    cost,
    from_micros,
    to_micros,
    worst_case_cost,
    worst_price,
)


def test_cost_uses_input_cached_and_output_prices() -> None:
    price = Price.of("2.50", "10.00", "1.25")
    usage = Usage(input_tokens=1000, output_tokens=200, cached_input_tokens=400)
    # 600 uncached x 2.50 + 400 cached x 1.25 + 200 x 10.00, per million
    assert cost(price, usage) == Decimal("0.004")


def test_cached_tokens_cost_the_input_price_when_no_cached_price() -> None:
    price = Price.of("3", "15")
    assert cost(price, Usage(1000, 0, 1000)) == cost(price, Usage(1000, 0, 0)) == Decimal("0.003")


def test_a_million_tiny_costs_sum_exactly() -> None:
    price = Price.of(0.1, 0.2)  # floats from the config go through their shortest repr
    one = cost(price, Usage(1, 1))
    assert one == Decimal("0.0000003")
    assert sum((one for _ in range(1_000_000)), Decimal(0)) == Decimal("0.3")
    # the same sum in binary floats drifts
    assert sum(0.1e-6 + 0.2e-6 for _ in range(1_000_000)) != 0.3


def test_config_prices_convert_without_float_noise() -> None:
    price = Price.from_config(
        ConfigPrice(input_per_mtok=0.15, output_per_mtok=0.6, cached_input_per_mtok=0.075)
    )
    assert price == Price(Decimal("0.15"), Decimal("0.6"), Decimal("0.075"))


def test_worst_case_counts_every_prompt_token_uncached() -> None:
    price = Price.of("1", "4", "0.1")
    assert worst_case_cost(price, 1000, 500) == Decimal("0.003")


def test_worst_price_is_the_elementwise_maximum() -> None:
    cheap_in = Price.of("1", "8")
    cheap_out = Price.of("3", "2", "0.5")
    assert worst_price([cheap_in, cheap_out]) == Price.of("3", "8", "1")
    with pytest.raises(ValueError, match="at least one price"):
        worst_price([])


def test_micro_units_round_against_overspend() -> None:
    assert to_micros(Decimal("0.0000001")) == 1  # a charge rounds up
    assert to_micros(Decimal("0.000002")) == 2
    assert budget_micros(Decimal("10.0000009")) == 10_000_000  # a budget rounds down
    assert from_micros(1_500_000) == Decimal("1.5")
    with pytest.raises(ValueError, match="largest budget"):
        budget_micros(Decimal(10) ** 10)


@pytest.mark.parametrize(
    "bad",
    [
        {"input_tokens": -1, "output_tokens": 0},
        {"input_tokens": 5, "output_tokens": 0, "cached_input_tokens": 6},
    ],
)
def test_impossible_usage_is_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Usage(**bad)


def test_negative_or_float_prices_are_refused() -> None:
    with pytest.raises(ValueError, match="input_per_mtok"):
        Price(Decimal("-1"), Decimal(1))
    with pytest.raises(ValueError, match="finite"):
        Price.of(float("nan"), 1)


def test_usage_reads_openai_shape() -> None:
    usage = Usage.from_openai(
        {
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 100},
        }
    )
    assert usage == Usage(120, 30, 100)
    assert usage.total_tokens == 150
    assert Usage.from_openai({"prompt_tokens": 7}) == Usage(7, 0, 0)


def test_micro_unit_conversions_match_exact_decimal_division() -> None:
    rng = random.Random(7)
    micro = Decimal("0.000001")
    for _ in range(5000):
        amount = Decimal(rng.randrange(10 ** rng.randrange(1, 20))).scaleb(-rng.randrange(0, 16))
        quotient = amount / micro
        assert to_micros(amount) == int(quotient.to_integral_value(rounding=ROUND_CEILING))
        if quotient < MAX_MICROS:
            assert budget_micros(amount) == int(quotient.to_integral_value(rounding=ROUND_FLOOR))
