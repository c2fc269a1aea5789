"""The interface of the reservation stores (process memory, Redis).

A store keeps, per budget counter, the settled ``spent`` and the ``reserved`` amount of
requests in flight, both in integer micro-units, and, per request, the reservation that
holds an amount on some counters until it is settled, released or expired.

Reservation lifecycle (identical in both stores)::

    reserve ──► held ──settle──► gone (the spend is counted once)
                 │  └─release──► gone (nothing is counted)
                 └─expire──────► expired tombstone ──settle──► gone (late spend counted)

Settling or releasing a reservation that is gone does nothing, which makes both idempotent
by request id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """One budget counter as a store operation needs it."""

    counter: str
    """``<scope>:<subject>:<period>:<label>``"""
    limit: int
    """the budget's amount, in micro-units"""
    expires_at: float
    """epoch seconds after which the counter may be dropped (its period is long over)"""
    levels: tuple[tuple[str, int], ...] = ()
    """thresholds to report once each: (flag name, spend level in micro-units)"""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reservation did not fit: the first counter without room, as it stood."""

    index: int
    spent: int
    reserved: int
    first: bool
    """True for the first refusal on this counter (the period's 100% report)"""


@dataclass(frozen=True, slots=True)
class Crossing:
    """Settled spend on counter ``index`` reached level ``level`` (both 0-based)."""

    index: int
    level: int
    spent: int


@dataclass(frozen=True, slots=True)
class SettleOutcome:
    applied: bool
    crossings: tuple[Crossing, ...] = ()


APPLIED = SettleOutcome(applied=True)
"""a settlement counted, crossing no threshold"""
NOT_APPLIED = SettleOutcome(applied=False)
"""nothing to settle (already settled, released, or never reserved)"""


@dataclass(frozen=True, slots=True)
class CounterState:
    spent: int
    reserved: int


class ReservationConflict(Exception):
    """A different reservation already exists under this request id."""


class ReservationStore(Protocol):
    """Atomic budget counters and reservations. All amounts are micro-units.

    Stores raise :class:`gateway.limits.store.StoreUnavailable` when unreachable.
    """

    async def reserve(
        self,
        request_id: str,
        counters: Sequence[CounterSpec],
        amount: int,
        *,
        expires_at: float,
        refused_flag: str | None,
    ) -> Refusal | None:
        """Hold ``amount`` on every counter, or on none if one lacks room (returned).

        Repeating an identical reservation is a no-op; a different one under the same
        request id raises :class:`ReservationConflict`. ``refused_flag`` names the flag
        that makes :attr:`Refusal.first` true once per counter.
        """
        ...

    async def settle(
        self,
        request_id: str,
        counters: Sequence[CounterSpec],
        actual: int,
        *,
        unreserved_until: float | None = None,
    ) -> SettleOutcome:
        """Replace the held amount by ``actual`` spend and report threshold crossings.

        A request id without a reservation is ignored, unless ``unreserved_until`` is given
        (the request was served without a reservation because the store was unreachable):
        the spend is then counted and a tombstone kept until that time ignores repeats.
        """
        ...

    async def expire(self, now: float, *, tombstone_until: float) -> int:
        """Free the amounts of reservations whose expiry has passed; return how many."""
        ...

    async def seed(self, counter: str, spent: int, *, expires_at: float) -> int:
        """Raise the counter's spend to at least ``spent``; return the resulting spend."""
        ...

    async def read(self, counter: str) -> CounterState: ...
