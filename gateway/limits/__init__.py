"""Rate limits: requests and tokens per minute, per API key and per team (GCRA).

Build one with :func:`create_rate_limiter` from a :class:`LimitsConfig`; call
:meth:`RateLimiter.admit` before forwarding and :meth:`RateLimiter.record_usage` once the
usage is known.
"""

from gateway.limits.config import LimitsConfig, RateLimit, StoreErrorPolicy
from gateway.limits.errors import RateLimiterUnavailable, RateLimitExceeded
from gateway.limits.gcra import Charge, Quota, QuotaState, RateDecision
from gateway.limits.headers import format_duration, rate_limit_headers
from gateway.limits.limiter import Admission, RateLimiter, create_rate_limiter
from gateway.limits.memory import MemoryBackend
from gateway.limits.redis_backend import RedisBackend
from gateway.limits.store import StoreUnavailable

__all__ = [
    "Admission",
    "Charge",
    "LimitsConfig",
    "MemoryBackend",
    "Quota",
    "QuotaState",
    "RateDecision",
    "RateLimit",
    "RateLimitExceeded",
    "RateLimiter",
    "RateLimiterUnavailable",
    "RedisBackend",
    "StoreErrorPolicy",
    "StoreUnavailable",
    "create_rate_limiter",
    "format_duration",
    "rate_limit_headers",
]
