"""The rate-limit hook: admit or refuse each request, then correct TPM to the real usage.

Registered as ``gateway.limits.hook:build_limits_hook``; it is active when the gateway config
has a ``limits`` section (a :class:`LimitsConfig`). The "key" limits apply to the caller's
credential: the API key id, or the token subject of an OIDC caller.

* ``on_admitted`` charges one request and the token estimate (prompt estimate plus output
  cap, see :mod:`gateway.ledger.estimate`) to the key and team quotas, all or nothing;
  a refusal is a 429 with ``Retry-After`` and ``x-ratelimit-*`` headers. The headers for the
  successful answer are left in ``ctx.state["limits.headers"]`` and added to
  ``ctx.response_headers`` (the gateway sends them with the answer).
* ``on_complete`` and ``on_failed`` correct the token charge to the reported usage (a failed
  request without usage is refunded).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.hooks import Hook, HookServices
from gateway.ledger.estimate import (
    DEFAULT_BYTES_PER_TOKEN,
    DEFAULT_OUTPUT_CAP,
    request_estimate,
)
from gateway.ledger.pricing import Usage
from gateway.limits.config import LimitsConfig
from gateway.limits.limiter import Admission, RateLimiter, create_rate_limiter
from gateway.limits.store import redis_for

ADMISSION_KEY = "limits.admission"
HEADERS_KEY = "limits.headers"
"""``x-ratelimit-*`` headers for the successful answer (a ``dict[str, str]``)"""


class LimitsHook(Hook):
    name = "limits"

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        default_output_cap: int = DEFAULT_OUTPUT_CAP,
        bytes_per_token: float = DEFAULT_BYTES_PER_TOKEN,
        redis: Redis | None = None,
    ) -> None:
        self.limiter = limiter
        self._cap = default_output_cap
        self._bytes_per_token = bytes_per_token
        self._redis = redis

    async def shutdown(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def on_admitted(self, ctx: RequestContext) -> None:
        if ctx.identity is None or ctx.body is None:
            return
        prompt, cap = request_estimate(ctx, self._bytes_per_token, self._cap)
        tokens = prompt + cap
        admission = await self.limiter.admit(ctx.identity.subject, ctx.identity.team, tokens)
        ctx.state[ADMISSION_KEY] = admission
        ctx.state[HEADERS_KEY] = headers = admission.headers()
        ctx.response_headers.update(headers)

    async def on_complete(self, ctx: RequestContext) -> None:
        await self._correct(ctx)

    async def on_failed(self, ctx: RequestContext, error: GatewayError) -> None:
        await self._correct(ctx)

    async def _correct(self, ctx: RequestContext) -> None:
        admission = ctx.state.get(ADMISSION_KEY)
        if not isinstance(admission, Admission):
            return
        used = Usage.from_openai(ctx.usage).total_tokens if ctx.usage else 0
        await self.limiter.record_usage(admission, used)


def build_limits_hook(services: HookServices) -> LimitsHook | None:
    """The hook factory listed in ``gateway.hooks.HOOK_FACTORIES``; None without limits."""
    config: LimitsConfig | None = getattr(services.config, "limits", None)
    if config is None or not config.enabled:
        return None
    redis = None
    if config.backend == "redis":
        redis = redis_for(
            "limits", config.redis_url_env, services.environ, config.store_timeout_seconds
        )
    registry: CollectorRegistry | None = getattr(services, "registry", None)
    budgets: Any = getattr(services.config, "budgets", None)
    return LimitsHook(
        create_rate_limiter(config, redis=redis, registry=registry),
        default_output_cap=getattr(budgets, "default_max_output_tokens", DEFAULT_OUTPUT_CAP),
        bytes_per_token=getattr(budgets, "prompt_bytes_per_token", DEFAULT_BYTES_PER_TOKEN),
        redis=redis,
    )
