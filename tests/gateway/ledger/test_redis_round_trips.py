"""With Redis, a reservation, a settlement and a release are one round trip each."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.ledger.pricing import Usage
from gateway.ledger.redis_store import RedisReservationStore
from tests.gateway.ledger.engine_support import SUBJECT, UNIT, make_engine
from tests.gateway.limits.redis_support import FakeClock, record_commands

BUDGETS: dict[str, Any] = {
    "keys": {"k1": [{"amount": 100, "period": "daily"}, {"amount": 900, "period": "monthly"}]},
    "teams": {"risk": {"amount": 50}},
    "cost_centers": {"cc-42": {"amount": 1000}},
}


@pytest.mark.services
async def test_reserve_settle_and_release_are_one_script_call_each(
    redis_prefix: tuple[Redis, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, prefix = redis_prefix
    engine = make_engine(RedisReservationStore(client, prefix=prefix, timeout=5), clock, **BUDGETS)

    async def reserve(request_id: str) -> Any:
        return await engine.reserve(
            request_id, SUBJECT, price=UNIT, prompt_tokens=5, max_output_tokens=0
        )

    async def settle(reservation: Any, actual: int) -> Any:
        return await engine.settle(
            reservation, Usage(actual, 0), price=UNIT, model_alias="gpt", deployment="d1"
        )

    await engine.release(await reserve("warm-up"))  # loads the scripts once
    await settle(await reserve("warm-up-2"), 1)
    sent = record_commands(client, monkeypatch)
    settled = await reserve("r1")
    assert [a[0] for a in sent] == ["EVALSHA"]
    assert len(settled.holds) == 4
    settlement = await settle(settled, 41)  # the team's 50 passes 80%
    assert [a[0] for a in sent] == ["EVALSHA"] * 2
    assert settlement.applied
    assert [(t.budget.budget_id, t.threshold) for t in settlement.thresholds] == [
        ("team:risk:monthly", 0.8)
    ]
    assert not (await settle(settled, 41)).applied  # a repeat: one call, nothing counted
    assert await engine.release(await reserve("r2"))
    assert [a[0] for a in sent] == ["EVALSHA"] * 5
