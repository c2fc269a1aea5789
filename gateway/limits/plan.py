"""The quotas of one (key, team) combination, laid out once for the request path.

A request is charged against every quota of its key and team; which quotas those are, their
storage keys and their GCRA parameters only change with the configuration. The limiter
builds one :class:`QuotaPlan` per combination and keeps it, so admitting a request reads
prepared columns instead of building an object per quota.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from gateway.limits.gcra import Charge, Quota, RateDecision, decide
from gateway.limits.headers import HeaderLayout, header_layout


@dataclass(frozen=True, slots=True, eq=False)
class Buckets:
    """Some quotas, in order, as the columns a backend reads: storage key, interval, tolerance."""

    quotas: tuple[Quota, ...]
    keys: tuple[str, ...]
    intervals: tuple[float, ...]
    tolerances: tuple[float, ...]
    headers: HeaderLayout
    """which quotas compete for each dimension's ``x-ratelimit-*`` headers"""

    @classmethod
    def of(cls, quotas: Sequence[Quota]) -> Buckets:
        return cls(
            tuple(quotas),
            tuple(q.storage_key for q in quotas),
            tuple(q.interval_us for q in quotas),
            tuple(q.tolerance_us for q in quotas),
            header_layout(quotas),
        )


class Acquired(NamedTuple):
    """A backend's answer to one admission; times in µs on the backend's clock."""

    admitted: bool
    now: float
    before: list[float | None]
    """the stored TAT of every bucket before this request (None: never used)"""
    after: list[float]
    """the TAT of every bucket after this request's charge (stored only when admitted)"""


@dataclass(frozen=True, slots=True, eq=False)
class QuotaPlan:
    """Every quota one request is charged against (key before team, requests before tokens).

    A request costs one unit of each requests quota and its token estimate of each tokens
    quota; only the tokens quotas are corrected once the usage is known.
    """

    buckets: Buckets
    tokens: Buckets
    """the tokens quotas, in the same order"""
    charges_tokens: tuple[bool, ...]
    """per quota: whether it is charged tokens (else one request)"""

    @classmethod
    def of(cls, quotas: Sequence[Quota]) -> QuotaPlan:
        charges_tokens = tuple(q.dimension == "tokens" for q in quotas)
        return cls(
            Buckets.of(quotas),
            Buckets.of([q for q, t in zip(quotas, charges_tokens, strict=True) if t]),
            charges_tokens,
        )

    def costs(self, tokens: int) -> list[int]:
        """What a request with a ``tokens`` estimate costs each quota."""
        return list(map((1, tokens).__getitem__, self.charges_tokens))

    def charges(self, tokens: int) -> tuple[Charge, ...]:
        """:meth:`costs` as charges, for decisions and reports."""
        return tuple(map(Charge, self.buckets.quotas, self.costs(tokens)))

    def decision(self, tokens: int, acquired: Acquired) -> RateDecision:
        """The full decision (every quota's state) behind ``acquired``."""
        charges = self.charges(tokens)
        return decide(charges, acquired.before, acquired.now, admitted=acquired.admitted)[0]
