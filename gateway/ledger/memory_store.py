"""Budget counters and reservations in process memory: for a single replica.

Every method runs without awaiting, so each is atomic within the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from gateway.ledger.store import (
    APPLIED,
    NOT_APPLIED,
    CounterSpec,
    CounterState,
    Crossing,
    Refusal,
    ReservationConflict,
    SettleOutcome,
)


@dataclass(slots=True)
class _Counter:
    expires_at: float
    spent: int = 0
    reserved: int = 0
    flags: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Reservation:
    amount: int
    counters: tuple[CounterSpec, ...]
    state: Literal["held", "expired", "settled"]
    until: float
    """held: when it expires; expired/settled: when the tombstone is dropped"""


class MemoryReservationStore:
    def __init__(self) -> None:
        self._counters: dict[str, _Counter] = {}
        self._reservations: dict[str, _Reservation] = {}

    def _counter(self, name: str, expires_at: float) -> _Counter:
        found = self._counters.get(name)
        if found is None:
            found = self._counters[name] = _Counter(expires_at)
        elif expires_at > found.expires_at:
            found.expires_at = expires_at
        return found

    async def reserve(
        self,
        request_id: str,
        counters: Sequence[CounterSpec],
        amount: int,
        *,
        expires_at: float,
        refused_flag: str | None,
    ) -> Refusal | None:
        existing = self._reservations.get(request_id)
        if existing is not None:
            if existing.state == "held" and existing.amount == amount:
                return None
            raise ReservationConflict(request_id)
        for index, spec in enumerate(counters):
            c = self._counters.get(spec.counter)
            spent, reserved = (c.spent, c.reserved) if c else (0, 0)
            if spent + reserved + amount > spec.limit:
                first = False
                if refused_flag is not None:
                    flags = self._counter(spec.counter, spec.expires_at).flags
                    first = refused_flag not in flags
                    flags.add(refused_flag)
                return Refusal(index, spent, reserved, first)
        for spec in counters:
            self._counter(spec.counter, spec.expires_at).reserved += amount
        self._reservations[request_id] = _Reservation(amount, tuple(counters), "held", expires_at)
        return None

    async def settle(
        self,
        request_id: str,
        counters: Sequence[CounterSpec],
        actual: int,
        *,
        unreserved_until: float | None = None,
    ) -> SettleOutcome:
        held = self._reservations.get(request_id)
        if (held is None and unreserved_until is None) or (held and held.state == "settled"):
            return NOT_APPLIED
        crossings: list[Crossing] = []
        for index, spec in enumerate(counters):
            c = self._counter(spec.counter, spec.expires_at)
            if held is not None and held.state == "held":
                c.reserved = max(0, c.reserved - held.amount)
            c.spent += actual
            for level_index, (flag, level) in enumerate(spec.levels):
                if c.spent >= level and flag not in c.flags:
                    c.flags.add(flag)
                    crossings.append(Crossing(index, level_index, c.spent))
        if unreserved_until is not None:
            self._reservations[request_id] = _Reservation(0, (), "settled", unreserved_until)
        else:
            del self._reservations[request_id]
        return SettleOutcome(True, tuple(crossings)) if crossings else APPLIED

    async def expire(self, now: float, *, tombstone_until: float) -> int:
        expired = 0
        for request_id, r in list(self._reservations.items()):
            if r.state == "held" and r.until <= now:
                for spec in r.counters:
                    c = self._counters.get(spec.counter)
                    if c is not None:
                        c.reserved = max(0, c.reserved - r.amount)
                r.state, r.until = "expired", tombstone_until
                expired += 1
            elif r.state != "held" and r.until <= now:
                del self._reservations[request_id]
        for name, c in list(self._counters.items()):
            if c.expires_at <= now:
                del self._counters[name]
        return expired

    async def seed(self, counter: str, spent: int, *, expires_at: float) -> int:
        c = self._counter(counter, expires_at)
        c.spent = max(c.spent, spent)
        return c.spent

    async def read(self, counter: str) -> CounterState:
        c = self._counters.get(counter)
        return CounterState(c.spent, c.reserved) if c else CounterState(0, 0)
