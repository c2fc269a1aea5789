"""What the ledger reports: usage events (to be persisted) and budget threshold crossings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from gateway.ledger.budgets import Budget


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One settled request: the durable record of spend, keyed by ``request_id``.

    Persisting it is idempotent by ``request_id``; totals of these events per period are what
    :meth:`gateway.ledger.reservations.BudgetEngine.seed` restores counters from.
    """

    request_id: str
    time: datetime
    key_id: str
    team: str | None
    cost_center: str | None
    model_alias: str
    deployment: str | None
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost: Decimal
    currency: str
    region: str | None = None


@dataclass(frozen=True, slots=True)
class ThresholdCrossed:
    """A budget reached ``threshold`` (a fraction) of its amount in one period.

    Reported exactly once per budget, period and threshold, across all replicas.
    ``reason`` is ``spend`` when settled spend reached the threshold, or ``refused`` for the
    100% threshold when the budget first refused a request in the period (with reservations
    in place, spend itself may stop short of exactly 100%).
    """

    budget: Budget
    period_start: datetime
    resets_at: datetime
    threshold: float
    spent: Decimal
    reason: Literal["spend", "refused"]
