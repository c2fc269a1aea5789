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
:func:`evaluate`, so both backends report identically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Dimension = Literal["requests", "tokens"]
Scope = Literal["key", "team"]

MICROS = 1_000_000
SLACK_US = 1.0
"""Rounding allowance in microseconds, far below any interval a per-minute limit yields."""


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit of one subject: e.g. team ``risk`` may spend 100 000 tokens per minute."""

    scope: Scope
    subject: str
    dimension: Dimension
    limit: int
    burst: int
    period_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.burst < 1 or self.period_seconds <= 0:
            raise ValueError(f"invalid quota {self!r}: limit, burst and period must be > 0")

    @property
    def storage_key(self) -> str:
        """The name of this quota's state, unique per scope, subject and dimension."""
        return f"{self.scope}:{self.subject}:{self.dimension}"

    @property
    def interval_us(self) -> float:
        """Microseconds one unit moves the TAT."""
        return self.period_seconds * MICROS / self.limit

    @property
    def tolerance_us(self) -> float:
        """How far ahead of now the TAT may run: the bucket's capacity, in time."""
        return self.burst * self.interval_us

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


def evaluate(charge: Charge, tat: float | None, now: float, *, commit: bool) -> QuotaState:
    """Decide one charge against a stored TAT (None: never used) at ``now`` (µs).

    ``commit`` says whether the whole request is admitted: only then do ``remaining`` and
    ``reset_after`` include this request's cost.
    """
    quota = charge.quota
    base = _base(tat, now)
    new_tat = base + charge.cost * quota.interval_us
    allowed = fits(charge, tat, now)
    after = new_tat if commit else base
    remaining = math.floor((quota.tolerance_us - (after - now) + SLACK_US) / quota.interval_us)
    retry_after: float | None
    if allowed:
        retry_after = 0.0
    elif charge.cost > quota.burst:
        retry_after = None
    else:
        retry_after = (new_tat - now - quota.tolerance_us) / MICROS
    return QuotaState(
        quota=quota,
        cost=charge.cost,
        allowed=allowed,
        remaining=max(0, min(quota.burst, remaining)),
        reset_after=max(0.0, after - now) / MICROS,
        retry_after=retry_after,
    )


def fits(charge: Charge, tat: float | None, now: float) -> bool:
    """Whether ``charge`` fits the bucket whose TAT is ``tat`` at ``now`` (µs)."""
    new_tat = _base(tat, now) + charge.cost * charge.quota.interval_us
    return new_tat - now <= charge.quota.tolerance_us + SLACK_US


def adjusted(charge: Charge, tat: float | None, now: float) -> float:
    """The TAT after adding (cost > 0) or refunding (cost < 0) units without a check.

    A refund never makes the bucket fuller than full: the TAT never goes below ``now``.
    """
    return max(now, _base(tat, now) + charge.cost * charge.quota.interval_us)


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
        candidates = [s for s in self.states if s.quota.dimension == dimension]
        if not candidates:
            return None
        return min(candidates, key=lambda s: (s.remaining, -s.reset_after))

    def refusing(self) -> tuple[QuotaState, ...]:
        """The quotas that refused the request."""
        return tuple(s for s in self.states if not s.allowed)


def decide(
    charges: list[Charge],
    tats: list[float | None],
    now: float,
    *,
    admitted: bool | None = None,
) -> tuple[RateDecision, list[float]]:
    """Evaluate every charge; the request is admitted only when all of them fit.

    ``admitted`` passes a verdict already reached atomically elsewhere (the Redis script,
    which runs this same arithmetic); otherwise it is computed here. Returns the decision
    and, for an admitted request, the TATs to store.
    """
    pairs = list(zip(charges, tats, strict=True))
    if admitted is None:
        admitted = all(fits(c, t, now) for c, t in pairs)
    states = tuple(evaluate(c, t, now, commit=admitted) for c, t in pairs)
    return RateDecision(admitted, states), [adjusted(c, t, now) for c, t in pairs]
