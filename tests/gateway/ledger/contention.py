"""Many concurrent requests against one budget (used in-process and by worker processes)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from decimal import Decimal

from gateway.ledger import BudgetExceeded, Usage
from gateway.ledger.reservations import BudgetEngine, Subject
from tests.gateway.ledger.engine_support import UNIT

WORST = 1000  # prompt tokens + output cap of every request, in currency units at UNIT
BUDGET = Decimal(10 * WORST)  # fits exactly 10 worst cases


@dataclass
class Tally:
    admitted: int = 0
    refused: int = 0
    settled: Decimal = Decimal(0)
    unjustified: int = 0
    """refusals where the budget, as the store saw it atomically, had room"""


async def one_request(engine: BudgetEngine, request_id: str, actual: int, tally: Tally) -> None:
    subject = Subject("k1", "risk", "cc-42")
    try:
        reservation = await engine.reserve(
            request_id, subject, price=UNIT, prompt_tokens=600, max_output_tokens=WORST - 600
        )
    except BudgetExceeded as err:
        tally.refused += 1
        if err.spent + err.reserved + err.needed <= err.budget.amount:
            tally.unjustified += 1
        return
    tally.admitted += 1
    await asyncio.sleep(random.uniform(0, 0.005))  # the upstream call
    settlement = await engine.settle(
        reservation,
        Usage(actual // 2, actual - actual // 2),
        price=UNIT,
        model_alias="m",
        deployment="d",
    )
    assert settlement.event is not None
    tally.settled += settlement.event.cost


async def contend(engine: BudgetEngine, prefix: str, count: int, actual: int) -> Tally:
    tally = Tally()
    await asyncio.gather(
        *(one_request(engine, f"{prefix}-{i}", actual, tally) for i in range(count))
    )
    return tally
