"""Counter specs are built once per budget and period, and are what a fresh build gives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.ledger import reservations
from gateway.ledger.budgets import Budget, BudgetsConfig
from gateway.ledger.memory_store import MemoryReservationStore
from gateway.ledger.pricing import Usage
from gateway.ledger.reservations import BudgetEngine, Reservation
from gateway.ledger.store import CounterSpec, Refusal, SettleOutcome
from tests.gateway.ledger.engine_support import SUBJECT, UNIT, make_engine
from tests.gateway.limits.redis_support import FakeClock

BUDGETS: dict[str, Any] = {
    "keys": {"k1": [{"amount": 100, "period": "daily"}, {"amount": 900, "period": "monthly"}]},
    "teams": {"risk": {"amount": 50}},
}


class RecordingStore(MemoryReservationStore):
    """The memory store, recording the counter specs of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[CounterSpec]]] = []

    async def reserve(
        self,
        request_id: str,
        counters: Sequence[CounterSpec],
        amount: int,
        *,
        expires_at: float,
        refused_flag: str | None,
    ) -> Refusal | None:
        self.calls.append(("reserve", list(counters)))
        return await super().reserve(
            request_id, counters, amount, expires_at=expires_at, refused_flag=refused_flag
        )

    async def settle(
        self,
        request_id: str,
        counters: Sequence[CounterSpec],
        actual: int,
        *,
        unreserved_until: float | None = None,
    ) -> SettleOutcome:
        kind = "release" if actual == 0 else "settle"
        self.calls.append((kind, list(counters)))
        return await super().settle(request_id, counters, actual, unreserved_until=unreserved_until)


async def reserve(engine: BudgetEngine, request_id: str, worst: int = 1) -> Reservation:
    return await engine.reserve(
        request_id, SUBJECT, price=UNIT, prompt_tokens=worst, max_output_tokens=0
    )


async def settle(engine: BudgetEngine, reservation: Reservation, actual: int = 1) -> None:
    await engine.settle(
        reservation, Usage(actual, 0), price=UNIT, model_alias="gpt", deployment="d1"
    )


async def fresh_specs(clock: FakeClock, reservation: Reservation) -> list[tuple[str, Any]]:
    """The specs an engine that never saw these budgets sends for ``reservation``."""
    store = RecordingStore()
    engine = make_engine(store, clock, **BUDGETS)
    await settle(engine, reservation)
    await engine.release(reservation)
    return store.calls


async def test_holds_are_shared_within_a_period_and_specs_match_a_fresh_build() -> None:
    clock = FakeClock(datetime(2030, 11, 14, 12, 0, tzinfo=UTC).timestamp())
    store = RecordingStore()
    engine = make_engine(store, clock, **BUDGETS)
    first, second = await reserve(engine, "r1"), await reserve(engine, "r2")
    assert [h.counter for h in first.holds] == [
        "key:k1:daily:2030-11-14",
        "key:k1:monthly:2030-11",
        "team:risk:monthly:2030-11",
    ]
    assert all(a is b for a, b in zip(first.holds, second.holds, strict=True))
    assert store.calls[0] == store.calls[1]
    store.calls.clear()
    await settle(engine, first)
    await engine.release(second)
    [(_, settled), (_, released)] = store.calls
    assert [s.levels for s in settled] == [
        (("t0.8", 80_000_000), ("t1", 100_000_000)),
        (("t0.8", 720_000_000), ("t1", 900_000_000)),
        (("t0.8", 40_000_000), ("t1", 50_000_000)),
    ]
    assert [s.levels for s in released] == [(), (), ()]
    assert store.calls == await fresh_specs(clock, first)


async def test_a_reservation_from_the_last_period_settles_with_its_own_specs() -> None:
    clock = FakeClock(datetime(2030, 11, 30, 23, 59, 59, tzinfo=UTC).timestamp())
    store = RecordingStore()
    engine = make_engine(store, clock, **BUDGETS)
    before = await reserve(engine, "r1")
    clock.advance(1)
    after = await reserve(engine, "r2")
    assert [h.counter for h in after.holds] == [
        "key:k1:daily:2030-12-01",
        "key:k1:monthly:2030-12",
        "team:risk:monthly:2030-12",
    ]
    store.calls.clear()
    await settle(engine, before)
    await engine.release(before)
    assert [s.counter for s in store.calls[0][1]] == [h.counter for h in before.holds]
    assert store.calls == await fresh_specs(clock, before)
    clock.advance(-1)  # a clock that steps back gets the earlier period again
    assert (await reserve(engine, "r3")).holds == before.holds


async def test_a_changed_budget_amount_is_enforced_at_once() -> None:
    class Mutable:
        amount = Decimal(10)

        def budgets_for(self, key_id: str, team: str | None, cost_center: str | None) -> Any:
            return [Budget("key", key_id, "daily", self.amount)]

    clock = FakeClock(datetime(2030, 11, 14, 12, 0, tzinfo=UTC).timestamp())
    source = Mutable()
    store = RecordingStore()
    engine = BudgetEngine(BudgetsConfig(), store, budgets=source, clock=clock)
    await reserve(engine, "r1", 10)
    source.amount = Decimal(20)
    await reserve(engine, "r2", 10)
    assert [calls[0].limit for _, calls in store.calls] == [10_000_000, 20_000_000]


async def test_past_the_cache_bound_specs_are_rebuilt_identically(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock(datetime(2030, 11, 14, 12, 0, tzinfo=UTC).timestamp())
    monkeypatch.setattr(reservations, "MAX_CACHED_PERIODS", 1)
    store = RecordingStore()
    engine = make_engine(store, clock, **BUDGETS)
    reservation = await reserve(engine, "r1")
    await settle(engine, reservation)
    await engine.release(await reserve(engine, "r2"))
    monkeypatch.setattr(reservations, "MAX_CACHED_PERIODS", 65_536)
    expected = RecordingStore()
    reference = make_engine(expected, clock, **BUDGETS)
    await settle(reference, await reserve(reference, "r1"))
    await reference.release(await reserve(reference, "r2"))
    assert store.calls == expected.calls


async def test_a_request_settled_after_midnight_is_recorded_in_the_period_it_was_charged_to() -> (
    None
):
    # The counters are charged in the reservation's period; the usage event that chargeback
    # and the start-up re-seed read must carry the same time, not the settle's.
    clock = FakeClock(datetime(2030, 11, 30, 23, 59, 59, tzinfo=UTC).timestamp())
    engine = make_engine(RecordingStore(), clock, **BUDGETS)
    reservation = await reserve(engine, "r1")
    clock.advance(5)
    settlement = await engine.settle(
        reservation, Usage(1, 0), price=UNIT, model_alias="chat-eu", deployment=None
    )
    assert settlement.event is not None
    assert settlement.event.time == reservation.reserved_at
    assert settlement.event.time.month == 11
