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
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway.limits.backend import LimiterBackend
from gateway.limits.config import LimitsConfig, RateLimit
from gateway.limits.errors import RateLimiterUnavailable, RateLimitExceeded
from gateway.limits.gcra import Charge, Dimension, Quota, RateDecision, Scope
from gateway.limits.headers import rate_limit_headers
from gateway.limits.memory import MemoryBackend
from gateway.limits.redis_backend import RedisBackend
from gateway.limits.store import FailOpenMeter, StoreUnavailable

_log = logging.getLogger("gatehouse.limits")

QUOTA_CACHE_SIZE = 4096
"""(key, team, overrides) combinations whose quotas are kept built; the least recently used
is dropped first"""


@dataclass(frozen=True, slots=True)
class Admission:
    """A request the limiter let through, with what it was charged."""

    decision: RateDecision | None
    """None when no limit applies or the store was unreachable and limits fail open"""
    token_charges: tuple[Charge, ...] = ()
    failed_open: bool = False

    def headers(self) -> dict[str, str]:
        """``x-ratelimit-*`` headers for the successful answer (empty without a decision)."""
        return rate_limit_headers(self.decision) if self.decision is not None else {}


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
        # the quotas of a (key, team, overrides) combination never change: built once each
        self._unit_charges = functools.lru_cache(maxsize=QUOTA_CACHE_SIZE)(self._build_charges)

    def quotas(
        self,
        key_id: str,
        team: str | None,
        *,
        key_limit: RateLimit | None = None,
        team_limit: RateLimit | None = None,
    ) -> list[Quota]:
        """Every quota that applies; ``key_limit``/``team_limit`` override the config's."""
        return [c.quota for c in self._unit_charges(key_id, team, key_limit, team_limit)]

    def _build_charges(
        self,
        key_id: str,
        team: str | None,
        key_limit: RateLimit | None,
        team_limit: RateLimit | None,
    ) -> tuple[Charge, ...]:
        """One unit of every quota that applies (key before team, requests before tokens)."""
        found = self._subject_quotas("key", key_id, key_limit or self._config.for_key(key_id))
        if team is not None:
            found += self._subject_quotas("team", team, team_limit or self._config.for_team(team))
        return tuple(Charge(q, 1) for q in found)

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
        if not self._config.enabled:
            return Admission(None)
        units = self._unit_charges(key_id, team, key_limit, team_limit)
        if not units:
            return Admission(None)
        # one request per requests quota (the cached unit), the token estimate per tokens quota
        charges = [c if c.quota.dimension == "requests" else Charge(c.quota, tokens) for c in units]
        try:
            decision = await self._backend.acquire(charges)
        except StoreUnavailable as exc:
            return self._on_store_error("admit", exc)
        if not decision.allowed:
            raise RateLimitExceeded(decision)
        token_charges = tuple(c for c in charges if c.quota.dimension == "tokens")
        return Admission(decision, token_charges)

    def _on_store_error(self, operation: str, exc: StoreUnavailable) -> Admission:
        if self._config.on_store_error == "fail_closed":
            _log.error("rate limiter store unreachable, refusing the request: %s", exc)
            raise RateLimiterUnavailable(str(exc)) from exc
        self._meter.record(operation, exc)
        return Admission(None, failed_open=True)

    async def record_usage(self, admission: Admission, actual_tokens: int) -> None:
        """Correct the token charge to the usage the upstream reported.

        Never raises for an unreachable store: the request is already answered, so the
        failure is logged and counted instead.
        """
        corrections = [
            Charge(c.quota, actual_tokens - c.cost)
            for c in admission.token_charges
            if actual_tokens != c.cost
        ]
        if not corrections:
            return
        try:
            await self._backend.adjust(corrections)
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
