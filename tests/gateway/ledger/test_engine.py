"""Reserve, settle, release, expiry, periods and thresholds, on both stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.errors import GatewayError
from gateway.ledger import BudgetExceeded, Usage
from gateway.ledger.errors import RESET_HEADER
from gateway.ledger.reservations import BudgetEngine, Reservation, Settlement, Subject
from gateway.ledger.store import ReservationStore
from tests.gateway.ledger.conftest import START
from tests.gateway.ledger.engine_support import SUBJECT, UNIT, Recorder, make_engine
from tests.gateway.limits.redis_support import FakeClock

ALL_SCOPES = {
    "keys": {"k1": {"amount": 100, "period": "daily"}},
    "teams": {"risk": [{"amount": 50, "period": "monthly"}]},
    "cost_centers": {"cc-42": {"amount": 1000}},
}


async def reserve(engine: BudgetEngine, request_id: str, worst: int, **kw: object) -> Reservation:
    """Reserve a worst case of ``worst`` units (prompt tokens only, no output)."""
    subject = kw.pop("subject", SUBJECT)
    assert isinstance(subject, Subject)
    return await engine.reserve(
        request_id, subject, price=UNIT, prompt_tokens=worst, max_output_tokens=0
    )


async def settle(engine: BudgetEngine, reservation: Reservation, actual: int) -> Settlement:
    return await engine.settle(
        reservation, Usage(actual, 0), price=UNIT, model_alias="gpt", deployment="d1"
    )


async def states(engine: BudgetEngine, subject: Subject = SUBJECT) -> dict[str, tuple[int, int]]:
    return {s.budget.scope: (int(s.spent), int(s.reserved)) for s in await engine.status(subject)}


async def test_reserve_holds_on_every_applicable_budget(
    store: ReservationStore, clock: FakeClock
) -> None:
    engine = make_engine(store, clock, **ALL_SCOPES)
    reservation = await reserve(engine, "r1", 30)
    assert reservation.amount == 30
    assert {h.budget.scope for h in reservation.holds} == {"key", "team", "cost_center"}
    assert await states(engine) == {"key": (0, 30), "team": (0, 30), "cost_center": (0, 30)}


async def test_a_budget_without_room_refuses_and_holds_nothing_anywhere(
    store: ReservationStore, clock: FakeClock
) -> None:
    engine = make_engine(store, clock, **ALL_SCOPES)
    await reserve(engine, "r1", 30)
    with pytest.raises(BudgetExceeded) as info:
        await reserve(engine, "r2", 21)  # the team's 50 has only 20 left
    err = info.value
    assert (err.status, err.code) == (429, "budget_exceeded")
    assert err.budget.budget_id == "team:risk:monthly"
    assert err.resets_at == datetime(2030, 12, 1, tzinfo=UTC)
    assert err.headers[RESET_HEADER] == "2030-12-01T00:00:00Z"
    assert int(err.headers["retry-after"]) == int(
        (datetime(2030, 12, 1, tzinfo=UTC) - START).total_seconds()
    )
    assert "team 'risk' has a monthly budget of 50 USD" in err.message
    assert "resets at 2030-12-01T00:00:00Z" in err.message
    assert "may cost up to 21 USD" in err.message
    # the key and cost-center budgets had room but hold nothing for the refused request
    assert await states(engine) == {"key": (0, 30), "team": (0, 30), "cost_center": (0, 30)}
    await reserve(engine, "r3", 20)  # exactly fits


async def test_settle_counts_actual_cost_once_and_yields_the_usage_event(
    store: ReservationStore, clock: FakeClock
) -> None:
    recorder = Recorder()
    engine = make_engine(store, clock, recorder, **ALL_SCOPES)
    reservation = await reserve(engine, "r1", 30)
    settlement = await engine.settle(
        reservation, Usage(8, 4, 2), price=UNIT, model_alias="gpt", deployment="d1"
    )
    assert settlement.applied
    event = settlement.event
    assert event is not None
    assert (event.request_id, event.key_id, event.team, event.cost_center) == (
        "r1",
        "k1",
        "risk",
        "cc-42",
    )
    assert (event.model_alias, event.deployment) == ("gpt", "d1")
    assert (event.input_tokens, event.output_tokens, event.cached_input_tokens) == (8, 4, 2)
    assert event.cost == Decimal(12)
    assert event.currency == "USD"
    assert event.time == START
    assert recorder.usage == [event]
    assert await states(engine) == {"key": (12, 0), "team": (12, 0), "cost_center": (12, 0)}

    again = await settle(engine, reservation, 12)
    assert not again.applied
    assert again.event is None
    assert recorder.usage == [event]
    assert await states(engine) == {"key": (12, 0), "team": (12, 0), "cost_center": (12, 0)}


async def test_concurrent_retried_settles_apply_once(
    store: ReservationStore, clock: FakeClock
) -> None:
    recorder = Recorder()
    engine = make_engine(store, clock, recorder, **ALL_SCOPES)
    reservation = await reserve(engine, "r1", 30)
    results = await asyncio.gather(*(settle(engine, reservation, 10) for _ in range(5)))
    assert sum(r.applied for r in results) == 1
    assert len(recorder.usage) == 1
    assert await states(engine) == {"key": (10, 0), "team": (10, 0), "cost_center": (10, 0)}


async def test_release_frees_the_hold_and_is_idempotent(
    store: ReservationStore, clock: FakeClock
) -> None:
    recorder = Recorder()
    engine = make_engine(store, clock, recorder, **ALL_SCOPES)
    reservation = await reserve(engine, "r1", 30)
    assert await engine.release(reservation)
    assert not await engine.release(reservation)
    assert await states(engine) == {"key": (0, 0), "team": (0, 0), "cost_center": (0, 0)}
    late = await settle(engine, reservation, 5)  # a settle after release does nothing
    assert not late.applied
    assert recorder.usage == []


async def test_a_crashed_request_leaks_nothing_after_expiry(
    store: ReservationStore, clock: FakeClock
) -> None:
    engine = make_engine(store, clock, reservation_ttl_seconds=60, teams={"risk": {"amount": 10}})
    crashed = await reserve(engine, "crashed", 10)  # reserved, never settled
    with pytest.raises(BudgetExceeded):
        await reserve(engine, "r2", 1)
    clock.advance(59)
    assert await engine.expire_stale() == 0
    clock.advance(1)
    # a replica restarting on the same store frees it at start-up
    restarted = make_engine(
        store, clock, reservation_ttl_seconds=60, teams={"risk": {"amount": 10}}
    )
    assert await restarted.expire_stale() == 1
    assert await restarted.expire_stale() == 0
    assert await states(restarted) == {"team": (0, 0)}
    fresh = await reserve(restarted, "r3", 7)
    # a request that outlived its hold still has its spend counted, once
    late = await settle(restarted, crashed, 3)
    assert late.applied
    assert not (await settle(restarted, crashed, 3)).applied
    assert await states(restarted) == {"team": (3, 7)}
    await settle(restarted, fresh, 7)
    assert await states(restarted) == {"team": (10, 0)}


async def test_daily_budget_resets_at_midnight_utc(store: ReservationStore) -> None:
    clock = FakeClock(datetime(2030, 11, 14, 23, 59, 30, tzinfo=UTC).timestamp())
    engine = make_engine(store, clock, keys={"k1": {"amount": 10, "period": "daily"}})
    r1 = await reserve(engine, "r1", 10)
    with pytest.raises(BudgetExceeded) as info:
        await reserve(engine, "r2", 10)
    assert info.value.resets_at == datetime(2030, 11, 15, tzinfo=UTC)
    assert info.value.headers["retry-after"] == "30"
    clock.advance(30)
    r3 = await reserve(engine, "r3", 10)  # a new period, a new counter
    # a request reserved before midnight settles into the period it started in
    await settle(engine, r1, 4)
    await settle(engine, r3, 6)
    [today] = await engine.status(SUBJECT)
    assert (today.period_start, today.spent, today.reserved) == (
        datetime(2030, 11, 15, tzinfo=UTC),
        Decimal(6),
        Decimal(0),
    )
    clock.advance(-60)
    [yesterday] = await engine.status(SUBJECT)
    assert yesterday.spent == 4


async def test_monthly_budget_resets_on_the_first_across_a_year(store: ReservationStore) -> None:
    clock = FakeClock(datetime(2030, 12, 31, 18, 0, tzinfo=UTC).timestamp())
    engine = make_engine(store, clock, cost_centers={"cc-42": {"amount": 5}})
    await settle(engine, await reserve(engine, "r1", 5), 5)
    with pytest.raises(BudgetExceeded) as info:
        await reserve(engine, "r2", 1)
    assert info.value.resets_at == datetime(2031, 1, 1, tzinfo=UTC)
    clock.advance(6 * 3600)
    await reserve(engine, "r3", 5)


async def test_thresholds_are_reported_once_each(store: ReservationStore, clock: FakeClock) -> None:
    recorder = Recorder()
    engine = make_engine(store, clock, recorder, teams={"risk": {"amount": 100}})
    await settle(engine, await reserve(engine, "r1", 50), 50)
    assert recorder.thresholds == []
    settlement = await settle(engine, await reserve(engine, "r2", 40), 35)
    [crossed] = settlement.thresholds
    assert (crossed.threshold, crossed.spent, crossed.reason) == (0.8, Decimal(85), "spend")
    assert crossed.budget.budget_id == "team:risk:monthly"
    assert crossed.resets_at == datetime(2030, 12, 1, tzinfo=UTC)
    await settle(engine, await reserve(engine, "r3", 5), 5)  # 90%: nothing new
    assert recorder.thresholds == [crossed]
    # the first refusal reports the budget as exhausted, once
    for request_id in ("r4", "r5"):
        with pytest.raises(BudgetExceeded):
            await reserve(engine, request_id, 20)
    assert [(t.threshold, t.reason, t.spent) for t in recorder.thresholds] == [
        (0.8, "spend", Decimal(85)),
        (1.0, "refused", Decimal(90)),
    ]
    await settle(engine, await reserve(engine, "r6", 10), 10)  # 100% spent: already reported
    assert len(recorder.thresholds) == 2


async def test_spend_reaching_the_amount_reports_100_percent(
    store: ReservationStore, clock: FakeClock
) -> None:
    recorder = Recorder()
    engine = make_engine(store, clock, recorder, keys={"k1": {"amount": 10}})
    await settle(engine, await reserve(engine, "r1", 10), 10)
    assert [(t.threshold, t.reason) for t in recorder.thresholds] == [
        (0.8, "spend"),
        (1.0, "spend"),
    ]


async def test_seed_restores_spend_and_never_lowers_it(
    store: ReservationStore, clock: FakeClock
) -> None:
    engine = make_engine(store, clock, teams={"risk": {"amount": 100}})
    month = datetime(2030, 11, 1, tzinfo=UTC)
    assert await engine.seed("team:risk:monthly", month, Decimal("60.5")) == Decimal("60.5")
    assert await engine.seed("team:risk:monthly", month, Decimal(10)) == Decimal("60.5")
    [status] = await engine.status(SUBJECT)
    assert status.spent == Decimal("60.5")
    assert status.remaining == Decimal("39.5")
    with pytest.raises(BudgetExceeded):
        await reserve(engine, "r1", 40)
    await reserve(engine, "r2", 39)
    with pytest.raises(ValueError, match="not the start of a monthly period"):
        await engine.seed("team:risk:monthly", month + timedelta(days=1), Decimal(1))
    with pytest.raises(ValueError, match="is not '<scope>:<subject>:<period>'"):
        await engine.seed("group:risk:monthly", month, Decimal(1))


async def test_no_applicable_budget_touches_no_store(clock: FakeClock) -> None:
    class Unusable:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"store.{name} used")

    recorder = Recorder()
    engine = make_engine(Unusable(), clock, recorder, teams={"other": {"amount": 1}})  # type: ignore[arg-type]
    reservation = await reserve(engine, "r1", 10**6)
    assert reservation.holds == ()
    settlement = await settle(engine, reservation, 10)
    assert settlement.applied
    assert recorder.usage[0].cost == 10
    assert not await engine.release(reservation)


async def test_disabled_budgets_hold_nothing(store: ReservationStore, clock: FakeClock) -> None:
    engine = make_engine(store, clock, enabled=False, keys={"k1": {"amount": 0}})
    assert (await reserve(engine, "r1", 10)).holds == ()


async def test_reusing_a_request_id_for_another_amount_is_refused(
    store: ReservationStore, clock: FakeClock
) -> None:
    engine = make_engine(store, clock, keys={"k1": {"amount": 100}})
    await reserve(engine, "r1", 10)
    await reserve(engine, "r1", 10)  # a retried reserve is a no-op
    assert await states(engine) == {"key": (0, 10)}
    with pytest.raises(GatewayError) as info:
        await reserve(engine, "r1", 20)
    assert (info.value.status, info.value.code) == (409, "duplicate_request_id")


async def test_reserve_request_uses_the_body_estimates(
    store: ReservationStore, clock: FakeClock
) -> None:
    engine = make_engine(store, clock, keys={"k1": {"amount": 1000}}, default_max_output_tokens=50)
    body = {"model": "gpt", "messages": [{"role": "user", "content": "x" * 40}]}
    reservation = await engine.reserve_request("r1", SUBJECT, body, price=UNIT)
    assert reservation.amount == 10 + 50
    capped = await engine.reserve_request("r2", SUBJECT, {**body, "max_tokens": 5}, price=UNIT)
    assert capped.amount == 10 + 5
