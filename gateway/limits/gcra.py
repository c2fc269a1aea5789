"""The Generic Cell Rate Algorithm (GCRA), shared by the memory and Redis backends.

Why GCRA: it keeps one number per limit (the *theoretical arrival time*, TAT), needs no
background refill and no per-request log, and one atomic read-modify-write decides a
request. It behaves exactly like a token bucket that holds ``burst`` units and refills at
``limit / period`` units per second:

* every unit (one request, or one token) moves the TAT ``interval = period / limit`` later;
* a request costing ``n`` units fits when ``max(TAT, now) + n * interval - now`` is at most
  the tolerance ``burst * interval``;
* over any window of ``W`` seconds at most ``burst + limit * W / period`` units are
  admitted; a sustained load is held to exactly ``limit`` units per ``period``.

Times are microseconds held in IEEE doubles (exact for epoch microseconds until the year
2255); :data:`SLACK_US` absorbs the rounding of ``interval`` so that a bucket of ``burst``
units really admits ``burst`` back-to-back requests. The Redis Lua script in
:mod:`gateway.limits.redis_backend` performs the same arithmetic; the Python side of that
backend derives remaining counts and reset times from the TATs the script returns with
:func:`advance` and :func:`decide`, so both backends report identically.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Dimension = Literal["requests", "tokens"]
Scope = Literal["key", "team"]

MICROS = 1_000_000
SLACK_US = 1.0
"""Rounding allowance in microseconds, far below any interval a per-minute limit yields."""


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit of one subject: e.g. team ``risk`` may spend 100 000 tokens per minute.

    ``storage_key``, ``interval_us`` and ``tolerance_us`` are derived once, at construction.
    """

    scope: Scope
    subject: str
    dimension: Dimension
    limit: int
    burst: int
    period_seconds: float = 60.0
    storage_key: str = field(init=False, repr=False, compare=False)
    """The name of this quota's state, unique per scope, subject and dimension."""
    interval_us: float = field(init=False, repr=False, compare=False)
    """Microseconds one unit moves the TAT."""
    tolerance_us: float = field(init=False, repr=False, compare=False)
    """How far ahead of now the TAT may run: the bucket's capacity, in time."""

    def __post_init__(self) -> None:
        if self.limit < 1 or self.burst < 1 or self.period_seconds <= 0:
            raise ValueError(f"invalid quota {self!r}: limit, burst and period must be > 0")
        interval = self.period_seconds * MICROS / self.limit
        # frozen: the derived fields are set the way dataclasses document for __post_init__
        object.__setattr__(self, "storage_key", f"{self.scope}:{self.subject}:{self.dimension}")
        object.__setattr__(self, "interval_us", interval)
        object.__setattr__(self, "tolerance_us", self.burst * interval)

    def describe(self) -> str:
        """Human wording, e.g. ``key 'k1' allows 60 requests per minute``."""
        per = "minute" if self.period_seconds == 60 else f"{self.period_seconds:g} seconds"
        return f"{self.scope} '{self.subject}' allows {self.limit} {self.dimension} per {per}"


@dataclass(frozen=True, slots=True)
class Charge:
    """``cost`` units of one quota, requested (or, for corrections, added or refunded)."""

    quota: Quota
    cost: int


@dataclass(frozen=True, slots=True)
class QuotaState:
    """What one quota said about one request."""

    quota: Quota
    cost: int
    allowed: bool
    remaining: int
    """Units still available right after the decision."""
    reset_after: float
    """Seconds until the bucket is full again (OpenAI's ``x-ratelimit-reset-*``)."""
    retry_after: float | None
    """Seconds until this request would fit: 0 when allowed, None when it never can."""


def _base(tat: float | None, now: float) -> float:
    return now if tat is None or tat < now else tat


def advance(
    tats: Sequence[float | None],
    costs: Sequence[int],
    intervals: Sequence[float],
    tolerances: Sequence[float],
    now: float,
) -> tuple[list[float], bool]:
    """Charge bucket ``i`` (TAT ``tats[i]``, None: never used) ``costs[i]`` units at ``now``.

    Returns every bucket's TAT after its charge, and whether every charge fits. A refund
    (cost < 0) never makes a bucket fuller than full: no TAT comes out before ``now``. This
    loop is the GCRA step of every decision, on either backend (:func:`settle` is the same
    step for corrections held in memory); it reads plain columns of equal length, so the
    request path builds no object per quota.
    """
    after: list[float] = []
    fit = True
    for i, tat in enumerate(tats):
        # the base is never before now: an idle bucket is full, not fuller
        new_tat = (now if tat is None or tat < now else tat) + costs[i] * intervals[i]
        if new_tat < now:
            new_tat = now
        elif new_tat - now > tolerances[i] + SLACK_US:
            fit = False
        after.append(new_tat)
    return after, fit


def settle(
    tats: MutableMapping[str, float],
    keys: Sequence[str],
    costs: Sequence[int],
    intervals: Sequence[float],
    now: float,
) -> None:
    """:func:`advance` without the check, applied in place to the TATs held in ``tats``.

    For corrections, which add (cost > 0) or refund (cost < 0) units whether they fit or
    not: the same step as :func:`advance`, written as one loop over the table because it
    runs once per answered request.
    """
    for i, key in enumerate(keys):
        tat = tats.get(key)
        new_tat = (now if tat is None or tat < now else tat) + costs[i] * intervals[i]
        tats[key] = now if new_tat < now else new_tat


def standing(quota: Quota, tat: float, now: float) -> tuple[int, float]:
    """(units still available, seconds until full) of ``quota``'s bucket whose TAT is ``tat``."""
    ahead = tat - now
    remaining = math.floor((quota.tolerance_us - ahead + SLACK_US) / quota.interval_us)
    if remaining > quota.burst:
        remaining = quota.burst
    elif remaining < 0:
        remaining = 0
    return remaining, (ahead if ahead > 0.0 else 0.0) / MICROS


def _advance_one(charge: Charge, tat: float | None, now: float) -> tuple[float, bool]:
    quota = charge.quota
    after, fit = advance((tat,), (charge.cost,), (quota.interval_us,), (quota.tolerance_us,), now)
    return after[0], fit


def _state(
    charge: Charge, tat: float | None, new_tat: float, allowed: bool, now: float, commit: bool
) -> QuotaState:
    """:func:`evaluate`, from the TAT after the charge and the verdict already computed."""
    quota = charge.quota
    remaining, reset_after = standing(quota, new_tat if commit else _base(tat, now), now)
    retry_after: float | None
    if allowed:
        retry_after = 0.0
    elif charge.cost > quota.burst:
        retry_after = None
    else:
        retry_after = (new_tat - now - quota.tolerance_us) / MICROS
    return QuotaState(quota, charge.cost, allowed, remaining, reset_after, retry_after)


def evaluate(charge: Charge, tat: float | None, now: float, *, commit: bool) -> QuotaState:
    """Decide one charge against a stored TAT (None: never used) at ``now`` (µs).

    ``commit`` says whether the whole request is admitted: only then do ``remaining`` and
    ``reset_after`` include this request's cost.
    """
    new_tat, allowed = _advance_one(charge, tat, now)
    return _state(charge, tat, new_tat, allowed, now, commit)


def fits(charge: Charge, tat: float | None, now: float) -> bool:
    """Whether ``charge`` fits the bucket whose TAT is ``tat`` at ``now`` (µs)."""
    return _advance_one(charge, tat, now)[1]


def adjusted(charge: Charge, tat: float | None, now: float) -> float:
    """The TAT after adding (cost > 0) or refunding (cost < 0) units without a check.

    A refund never makes the bucket fuller than full: the TAT never goes below ``now``.
    """
    return _advance_one(charge, tat, now)[0]


def _tightness(state: QuotaState) -> tuple[int, float]:
    """Orders states tightest first: least remaining, then longest reset."""
    return state.remaining, -state.reset_after


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The all-or-nothing verdict on every quota that applies to one request."""

    allowed: bool
    states: tuple[QuotaState, ...]

    @property
    def retry_after(self) -> float | None:
        """Seconds until every refusing quota has room; None when one never will."""
        waits = [s.retry_after for s in self.states if not s.allowed]
        if any(w is None for w in waits):
            return None
        return max((w for w in waits if w is not None), default=0.0)

    def binding(self, dimension: Dimension) -> QuotaState | None:
        """The tightest quota of a dimension: least remaining, then longest reset."""
        return self.tightest().get(dimension)

    def tightest(self) -> dict[Dimension, QuotaState]:
        """The binding quota of every dimension that has one, in one pass over the states.

        Ties go to the first state, as with ``min``.
        """
        found: dict[Dimension, QuotaState] = {}
        for state in self.states:
            dimension = state.quota.dimension
            best = found.get(dimension)
            if best is None or _tightness(state) < _tightness(best):
                found[dimension] = state
        return found

    def refusing(self) -> tuple[QuotaState, ...]:
        """The quotas that refused the request."""
        return tuple(s for s in self.states if not s.allowed)


def decide(
    charges: Sequence[Charge],
    tats: Sequence[float | None],
    now: float,
    *,
    admitted: bool | None = None,
) -> tuple[RateDecision, list[float]]:
    """Evaluate every charge; the request is admitted only when all of them fit.

    ``admitted`` passes a verdict already reached atomically elsewhere (the Redis script,
    which runs this same arithmetic); otherwise it is computed here. Returns the decision
    and, for an admitted request, the TATs to store (those :func:`adjusted` gives).
    """
    steps = [_advance_one(c, tat, now) for c, tat in zip(charges, tats, strict=True)]
    if admitted is None:
        admitted = all(ok for _, ok in steps)
    states = tuple(
        [
            _state(c, tat, new_tat, ok, now, admitted)
            for c, tat, (new_tat, ok) in zip(charges, tats, steps, strict=True)
        ]
    )
    return RateDecision(admitted, states), [new_tat for new_tat, _ in steps]
