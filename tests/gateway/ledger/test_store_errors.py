"""An unreachable budget store: fail closed by default, fail open only when opted in."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway.ledger import BudgetsConfig, BudgetUnavailable, Usage
from gateway.ledger.redis_store import RedisReservationStore
from gateway.ledger.reservations import BudgetEngine, create_budget_engine
from gateway.limits.store import StoreUnavailable
from tests.gateway.ledger.engine_support import SUBJECT, UNIT, Recorder
from tests.gateway.limits.redis_support import FakeClock, closed_port_url, make_client

BUDGETS = {"teams": {"risk": {"amount": 100}}}


def unreachable(policy: str, registry: CollectorRegistry, recorder: Recorder) -> BudgetEngine:
    config = BudgetsConfig.model_validate({"backend": "redis", "on_store_error": policy, **BUDGETS})
    return create_budget_engine(
        config,
        redis=make_client(closed_port_url()),
        registry=registry,
        on_usage=recorder.usage.append,
    )


def fail_open_count(registry: CollectorRegistry) -> float:
    value = registry.get_sample_value("gatehouse_budget_fail_open_total", {"operation": "reserve"})
    return value or 0.0


def test_budgets_fail_closed_by_default_and_fail_open_has_an_unsafe_name() -> None:
    assert BudgetsConfig().on_store_error == "fail_closed"
    with pytest.raises(ValueError, match="on_store_error"):
        BudgetsConfig.model_validate({"on_store_error": "fail_open"})


async def test_unreachable_store_refuses_with_503() -> None:
    registry = CollectorRegistry()
    engine = unreachable("fail_closed", registry, Recorder())
    with pytest.raises(BudgetUnavailable) as info:
        await engine.reserve("r1", SUBJECT, price=UNIT, prompt_tokens=1, max_output_tokens=1)
    assert (info.value.status, info.value.code) == (503, "budget_unavailable")
    assert "fail_closed" in info.value.message
    assert fail_open_count(registry) == 0


async def test_fail_open_unsafe_serves_with_a_metric_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    recorder = Recorder()
    engine = unreachable("fail_open_unsafe", registry, recorder)
    with caplog.at_level(logging.WARNING, logger="gatehouse.ledger"):
        reservation = await engine.reserve(
            "r1", SUBJECT, price=UNIT, prompt_tokens=10**6, max_output_tokens=0
        )
    assert reservation.failed_open
    assert fail_open_count(registry) == 1
    assert any("failing open on reserve" in r.getMessage() for r in caplog.records)
    # the store is still down at settlement: the usage event is produced all the same
    settlement = await engine.settle(
        reservation, Usage(3, 2), price=UNIT, model_alias="m", deployment="d"
    )
    assert not settlement.applied
    assert settlement.store_error is not None
    assert recorder.usage == [settlement.event]
    assert not await engine.release(reservation)


@pytest.mark.services
async def test_fail_open_spend_is_counted_once_when_the_store_is_back(
    redis_prefix: tuple[Redis, str], clock: FakeClock
) -> None:
    client, prefix = redis_prefix
    config = BudgetsConfig.model_validate({"on_store_error": "fail_open_unsafe", **BUDGETS})
    down = BudgetEngine(
        config,
        RedisReservationStore(make_client(closed_port_url()), prefix=prefix),
        clock=clock,
    )
    reservation = await down.reserve(
        "r1", SUBJECT, price=UNIT, prompt_tokens=10, max_output_tokens=0
    )
    assert reservation.failed_open
    up = BudgetEngine(config, RedisReservationStore(client, prefix=prefix), clock=clock)
    first = await up.settle(reservation, Usage(7, 0), price=UNIT, model_alias="m", deployment="d")
    again = await up.settle(reservation, Usage(7, 0), price=UNIT, model_alias="m", deployment="d")
    assert (first.applied, again.applied) == (True, False)
    [status] = await up.status(SUBJECT)
    assert (status.spent, status.reserved) == (Decimal(7), Decimal(0))


async def test_expiry_reports_an_unreachable_store(clock: FakeClock) -> None:
    config = BudgetsConfig.model_validate(BUDGETS)
    engine = BudgetEngine(
        config, RedisReservationStore(make_client(closed_port_url())), clock=clock
    )
    with pytest.raises(StoreUnavailable):
        await engine.expire_stale()
