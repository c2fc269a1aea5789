"""The interface both rate-limit backends implement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.limits.plan import Acquired, Buckets


class LimiterBackend(Protocol):
    """Atomic GCRA state for many quotas (see :func:`gateway.limits.gcra.advance`).

    Backends raise :class:`gateway.limits.store.StoreUnavailable` when their store cannot be
    reached; the :class:`gateway.limits.limiter.RateLimiter` applies the configured policy.
    """

    async def acquire(self, buckets: Buckets, costs: Sequence[int]) -> Acquired:
        """Admit the request only if every bucket has room for its cost (>= 0); consume all
        of them or none."""
        ...

    async def adjust(self, buckets: Buckets, costs: Sequence[int]) -> None:
        """Add (cost > 0) or refund (cost < 0) units without a check, e.g. to correct a
        token estimate to the usage the upstream reported."""
        ...
