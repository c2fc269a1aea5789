"""Configuration of the rate limits: RPM and TPM per API key and per team.

A key's limits come from ``keys[<key id>]`` when present, else from ``default_key``; a team's
from ``teams[<team>]``, else ``default_team``. A missing ``rpm`` or ``tpm`` means that
dimension is not limited at that level. A request is admitted only when every applicable
limit (key requests, key tokens, team requests, team tokens) has room for it.

Store errors are a configured choice, never a silent one: ``on_store_error: fail_closed``
(the default) answers 503 ``rate_limiter_unavailable``; ``fail_open`` serves the request,
logs a warning and counts it in ``gatehouse_rate_limit_fail_open_total``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

StoreErrorPolicy = Literal["fail_closed", "fail_open"]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Model):
    """Per-minute limits of one key or one team."""

    rpm: int | None = Field(
        default=None, ge=1, description="requests per minute; default: requests are not limited"
    )
    tpm: int | None = Field(
        default=None,
        ge=1,
        description="tokens per minute (prompt estimate plus output cap at admission, "
        "corrected to the reported usage afterwards); default: tokens are not limited",
    )


class LimitsConfig(_Model):
    """Rate limits of the gateway (GCRA; see :mod:`gateway.limits.gcra`)."""

    enabled: bool = Field(default=True, description="default: limits are enforced")
    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="default: in process memory, correct for one replica only; use redis "
        "when several replicas serve the same keys",
    )
    redis_url_env: EnvName = Field(
        default="GATEHOUSE_REDIS_URL",
        description="environment variable holding the Redis URL (backend redis)",
    )
    key_prefix: str = Field(
        default="gatehouse:rl:",
        min_length=1,
        description="prefix of every Redis key the limiter writes",
    )
    on_store_error: StoreErrorPolicy = Field(
        default="fail_closed",
        description="default: a request is refused with 503 when the limiter's store "
        "cannot be reached; fail_open serves it unlimited, with a warning and a metric",
    )
    store_timeout_seconds: float = Field(
        default=0.5,
        gt=0,
        le=30,
        description="longest wait for the store on the request path before on_store_error applies",
    )
    burst_seconds: float = Field(
        default=60.0,
        gt=0,
        le=60,
        description="how many seconds' worth of the per-minute rate may be spent at once; "
        "default: a whole minute's quota (a token bucket of one minute)",
    )
    default_key: RateLimit = Field(
        default=RateLimit(), description="limits of a key not listed in keys; default: none"
    )
    default_team: RateLimit = Field(
        default=RateLimit(), description="limits of a team not listed in teams; default: none"
    )
    keys: dict[str, RateLimit] = Field(default_factory=dict, description="by key id")
    teams: dict[str, RateLimit] = Field(default_factory=dict, description="by team name")

    def for_key(self, key_id: str) -> RateLimit:
        """The limits of one API key."""
        return self.keys.get(key_id, self.default_key)

    def for_team(self, team: str) -> RateLimit:
        """The limits of one team."""
        return self.teams.get(team, self.default_team)
