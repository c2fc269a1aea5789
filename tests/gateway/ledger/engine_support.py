"""Building engines for tests: prices of one currency unit per token, recorded events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.ledger.budgets import BudgetsConfig
from gateway.ledger.events import ThresholdCrossed, UsageEvent
from gateway.ledger.pricing import Price
from gateway.ledger.reservations import BudgetEngine, Subject
from gateway.ledger.store import ReservationStore
from tests.gateway.limits.redis_support import FakeClock

UNIT = Price.of(1_000_000, 1_000_000)
"""one currency unit per input or output token"""
SUBJECT = Subject("k1", "risk", "cc-42")


@dataclass
class Recorder:
    thresholds: list[ThresholdCrossed] = field(default_factory=list)
    usage: list[UsageEvent] = field(default_factory=list)


def make_engine(
    store: ReservationStore, clock: FakeClock, recorder: Recorder | None = None, /, **config: Any
) -> BudgetEngine:
    rec = recorder or Recorder()
    return BudgetEngine(
        BudgetsConfig.model_validate(config),
        store,
        clock=clock,
        on_threshold=rec.thresholds.append,
        on_usage=rec.usage.append,
    )
