"""Money: prices, usage and cost, in exact decimals.

Prices are per million tokens, in the gateway's currency. Costs are computed with
:class:`decimal.Decimal`, so summing millions of tiny costs never drifts the way binary
floats do. Budget counters (memory or Redis) hold integer **micro-units** (10⁻⁶ of the
currency); a cost is converted with :func:`to_micros`, which rounds *up*, so a counter never
under-states spend by more than one micro-unit per request and never lets a budget overshoot
by rounding. The durable usage record keeps the exact decimal cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

MICROS_PER_UNIT = 1_000_000
_MICRO = Decimal(1) / MICROS_PER_UNIT
_PER_MTOK = Decimal(1_000_000)
MAX_MICROS = 2**53
"""Counters are exact up to 2⁵³ micro-units (about 9 billion currency units), the range in
which the Redis scripts' Lua numbers are exact integers."""

Money = Decimal | int | str


class ConfigPrice(Protocol):
    """The shape of a deployment's price in the gateway config."""

    @property
    def input_per_mtok(self) -> float: ...

    @property
    def output_per_mtok(self) -> float: ...

    @property
    def cached_input_per_mtok(self) -> float | None: ...


def money(value: Money | float) -> Decimal:
    """A Decimal from a config value; floats go through their shortest repr (0.1 → 0.1)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"price must be a finite number, got {value}")
        return Decimal(repr(value))
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class Price:
    """Per-million-token prices of one deployment.

    ``cached_input_per_mtok`` None means cached prompt tokens cost the normal input price.
    """

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Decimal) or value < 0):
                raise ValueError(f"{name} must be a Decimal >= 0, got {value!r}")

    @classmethod
    def of(
        cls, input: Money | float, output: Money | float, cached: Money | float | None = None
    ) -> Price:
        return cls(money(input), money(output), None if cached is None else money(cached))

    @classmethod
    def from_config(cls, price: ConfigPrice) -> Price:
        """From the config's ``Price`` model (whose fields are floats)."""
        return cls.of(price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok)

    @property
    def cached_rate(self) -> Decimal:
        if self.cached_input_per_mtok is None:
            return self.input_per_mtok
        return self.cached_input_per_mtok


def worst_price(prices: Iterable[Price]) -> Price:
    """The element-wise maximum: what a request may cost on whichever deployment serves it."""
    found = list(prices)
    if not found:
        raise ValueError("worst_price needs at least one price")
    return Price(
        max(p.input_per_mtok for p in found),
        max(p.output_per_mtok for p in found),
        max(p.cached_rate for p in found),
    )


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one request used, as the upstream reported them.

    ``input_tokens`` counts every prompt token, cached ones included (OpenAI's
    ``prompt_tokens``); ``cached_input_tokens`` says how many of them were cache hits.
    """

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0

    def __post_init__(self) -> None:
        if self.input_tokens < 0 or self.output_tokens < 0 or self.cached_input_tokens < 0:
            raise ValueError(f"token counts must be >= 0, got {self!r}")
        if self.cached_input_tokens > self.input_tokens:
            raise ValueError(
                f"cached_input_tokens ({self.cached_input_tokens}) cannot exceed "
                f"input_tokens ({self.input_tokens})"
            )

    @classmethod
    def from_openai(cls, usage: Mapping[str, Any]) -> Usage:
        """From an OpenAI ``usage`` object (``prompt_tokens_details.cached_tokens``)."""
        details = usage.get("prompt_tokens_details") or {}
        return cls(
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            int(details.get("cached_tokens") or 0),
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _cost(price: Price, uncached: int, cached: int, output: int) -> Decimal:
    cached_rate = price.cached_input_per_mtok
    total = (
        uncached * price.input_per_mtok
        + cached * (price.input_per_mtok if cached_rate is None else cached_rate)
        + output * price.output_per_mtok
    )
    return total / _PER_MTOK


def cost(price: Price, usage: Usage) -> Decimal:
    """The exact cost of ``usage`` at ``price``."""
    cached = usage.cached_input_tokens
    return _cost(price, usage.input_tokens - cached, cached, usage.output_tokens)


def worst_case_cost(price: Price, prompt_tokens: int, max_output_tokens: int) -> Decimal:
    """The most a request can cost: every prompt token uncached, every output token used."""
    if prompt_tokens < 0 or max_output_tokens < 0:
        raise ValueError(
            f"token counts must be >= 0, got prompt_tokens={prompt_tokens}, "
            f"max_output_tokens={max_output_tokens}"
        )
    return _cost(price, prompt_tokens, 0, max_output_tokens)


def to_micros(amount: Decimal) -> int:
    """Micro-units, rounded up: what a counter charges for ``amount``."""
    return math.ceil(amount * MICROS_PER_UNIT)


def budget_micros(amount: Decimal) -> int:
    """Micro-units, rounded down: what a counter allows for a budget of ``amount``."""
    micros = math.floor(amount * MICROS_PER_UNIT)
    if micros >= MAX_MICROS:
        raise ValueError(f"amount {amount} exceeds the largest budget a counter holds")
    return micros


def from_micros(micros: int) -> Decimal:
    return Decimal(micros) * _MICRO
