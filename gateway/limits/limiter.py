"""The rate limiter the request path calls: resolve the quotas, ask the backend, apply policy.

At admission a request is charged one request and its token estimate (prompt estimate plus
the output cap) against every quota of its key and team, all or nothing. Once the upstream
reports usage, :meth:`RateLimiter.record_usage` corrects the token charge to the real count
(refunding or adding the difference), so TPM follows real usage while concurrent requests
can never overrun it on optimistic guesses.
"""

from __future__ import annotations

import functools
import logging
import math

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway.limits.backend import LimiterBackend
from gateway.limits.config import LimitsConfig, RateLimit
from gateway.limits.errors import RateLimiterUnavailable, RateLimitExceeded
from gateway.limits.gcra import Charge, Dimension, Quota, RateDecision, Scope
from gateway.limits.headers import admitted_headers
from gateway.limits.memory import MemoryBackend
from gateway.limits.plan import Acquired, Buckets, QuotaPlan
from gateway.limits.redis_backend import RedisBackend
from gateway.limits.store import FailOpenMeter, StoreUnavailable

_log = logging.getLogger("gatehouse.limits")

QUOTA_CACHE_SIZE = 4096
"""(key, team, overrides) combinations whose quotas are kept built; the least recently used
is dropped first"""


class Admission:
    """A request the limiter let through, with what it was charged.

    The decision and the charges are derived from the backend's answer only when asked for:
    the request path itself reads just the headers and the token correction.
    """

    __slots__ = ("_charged", "_failed_open")

    def __init__(
        self,
        charged: tuple[QuotaPlan, int, Acquired] | None = None,
        *,
        failed_open: bool = False,
    ) -> None:
        """``charged``: the quotas, the token estimate and the backend's answer; None when
        no limit applies or the store was unreachable and limits fail open."""
        self._charged = charged
        self._failed_open = failed_open

    @property
    def failed_open(self) -> bool:
        """Served although the store was unreachable (``on_store_error: fail_open``)."""
        return self._failed_open

    @property
    def decision(self) -> RateDecision | None:
        """None when no limit applies or the store was unreachable and limits fail open"""
        if self._charged is None:
            return None
        plan, tokens, acquired = self._charged
        return plan.decision(tokens, acquired)

    @property
    def token_charges(self) -> tuple[Charge, ...]:
        """The token estimate, charged to each tokens quota."""
        if self._charged is None:
            return ()
        plan, tokens, _ = self._charged
        return tuple(Charge(q, tokens) for q in plan.tokens.quotas)

    def headers(self) -> dict[str, str]:
        """``x-ratelimit-*`` headers for the successful answer (empty without a decision)."""
        if self._charged is None:
            return {}
        plan, _, acquired = self._charged
        buckets = plan.buckets
        return admitted_headers(buckets.quotas, buckets.headers, acquired.after, acquired.now)

    def correction(self, actual_tokens: int) -> tuple[Buckets, list[int]] | None:
        """The tokens quotas and the units to add to each (negative: refund) so that they are
        charged ``actual_tokens`` instead of the estimate; None when nothing changes."""
        if self._charged is None:
            return None
        plan, tokens, _ = self._charged
        buckets = plan.tokens
        if actual_tokens == tokens or not buckets.quotas:
            return None
        return buckets, [actual_tokens - tokens] * len(buckets.quotas)

    def __repr__(self) -> str:
        return (
            f"Admission(decision={self.decision!r}, token_charges={self.token_charges!r}, "
            f"failed_open={self._failed_open!r})"
        )


class RateLimiter:
    """RPM and TPM per key and per team over one backend (memory or Redis)."""

    def __init__(
        self,
        config: LimitsConfig,
        backend: LimiterBackend,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._config = config
        self._backend = backend
        self._meter = FailOpenMeter(
            "gatehouse_rate_limit_fail_open",
            "Requests served without a rate-limit decision because the store was unreachable",
            logger=_log,
            registry=registry,
        )
        self._enabled = config.enabled
        # the quotas of a (key, team, overrides) combination never change: built once each
        self._plans = functools.lru_cache(maxsize=QUOTA_CACHE_SIZE)(self._build_plan)

    def quotas(
        self,
        key_id: str,
        team: str | None,
        *,
        key_limit: RateLimit | None = None,
        team_limit: RateLimit | None = None,
    ) -> list[Quota]:
        """Every quota that applies; ``key_limit``/``team_limit`` override the config's."""
        plan = self._plans(key_id, team, key_limit, team_limit)
        return [] if plan is None else list(plan.buckets.quotas)

    def _build_plan(
        self,
        key_id: str,
        team: str | None,
        key_limit: RateLimit | None,
        team_limit: RateLimit | None,
    ) -> QuotaPlan | None:
        """Every quota that applies (key before team, requests before tokens); None: none."""
        found = self._subject_quotas("key", key_id, key_limit or self._config.for_key(key_id))
        if team is not None:
            found += self._subject_quotas("team", team, team_limit or self._config.for_team(team))
        return QuotaPlan.of(found) if found else None

    def _subject_quotas(self, scope: Scope, subject: str, limit: RateLimit) -> list[Quota]:
        dims: list[tuple[Dimension, int | None]] = [("requests", limit.rpm), ("tokens", limit.tpm)]
        return [
            Quota(scope, subject, dim, value, self._burst(value))
            for dim, value in dims
            if value is not None
        ]

    def _burst(self, limit: int) -> int:
        return max(1, math.floor(limit * self._config.burst_seconds / 60))

    async def admit(
        self,
        key_id: str,
        team: str | None,
        tokens: int,
        *,
        key_limit: RateLimit | None = None,
        team_limit: RateLimit | None = None,
    ) -> Admission:
        """Charge one request and ``tokens`` estimated tokens, or raise.

        Raises :class:`RateLimitExceeded` (429) when a quota has no room, and
        :class:`RateLimiterUnavailable` (503) when the store is unreachable and the policy
        is ``fail_closed``.
        """
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        if not self._enabled:
            return Admission()
        plan = self._plans(key_id, team, key_limit, team_limit)
        if plan is None:
            return Admission()
        try:
            acquired = await self._backend.acquire(plan.buckets, plan.costs(tokens))
        except StoreUnavailable as exc:
            return self._on_store_error("admit", exc)
        if not acquired.admitted:
            raise RateLimitExceeded(plan.decision(tokens, acquired))
        return Admission((plan, tokens, acquired))

    def _on_store_error(self, operation: str, exc: StoreUnavailable) -> Admission:
        if self._config.on_store_error == "fail_closed":
            _log.error("rate limiter store unreachable, refusing the request: %s", exc)
            raise RateLimiterUnavailable(str(exc)) from exc
        self._meter.record(operation, exc)
        return Admission(failed_open=True)

    async def record_usage(self, admission: Admission, actual_tokens: int) -> None:
        """Correct the token charge to the usage the upstream reported.

        Never raises for an unreachable store: the request is already answered, so the
        failure is logged and counted instead.
        """
        correction = admission.correction(actual_tokens)
        if correction is None:
            return
        try:
            await self._backend.adjust(*correction)
        except StoreUnavailable as exc:
            self._meter.record("record_usage", exc)


def create_rate_limiter(
    config: LimitsConfig,
    *,
    redis: Redis | None = None,
    registry: CollectorRegistry | None = None,
) -> RateLimiter:
    """The limiter ``config`` describes; ``redis`` is required for the redis backend."""
    backend: LimiterBackend
    if config.backend == "redis":
        if redis is None:
            raise ValueError(
                "limits.backend is 'redis' but no Redis client was given; configure the "
                "gateway's Redis connection or set limits.backend to 'memory'"
            )
        backend = RedisBackend(
            redis, prefix=config.key_prefix, timeout=config.store_timeout_seconds
        )
    else:
        backend = MemoryBackend()
    return RateLimiter(config, backend, registry=registry)
