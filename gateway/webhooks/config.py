"""The ``webhooks:`` section of the gateway config: a list of endpoints.

Example::

    webhooks:
      - url: https://hooks.example.com/gatehouse
        secret_env: GATEHOUSE_WEBHOOK_SECRET     # HMAC key, at least 24 characters
        events: [budget.threshold, circuit.opened]
      - url: https://example.service-now.com/api/now/table/incident
        format: servicenow
        authorization_env: SERVICENOW_AUTH       # "Basic ..." or "Bearer ..."
        events: [residency.refused, audit.ship_failed]
        servicenow: {assignment_group: "AI Platform", category: software}

Secure defaults: the URL must be https (plain http only on loopback), JSON endpoints must
have a signing secret, ServiceNow endpoints an authorization header. Secrets live in
environment variables, never in the config.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.telemetry.config import env_name, secure_url

EventType = Literal[
    "budget.threshold",
    "residency.refused",
    "circuit.opened",
    "audit.ship_failed",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
Format = Literal["json", "servicenow"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceNowOptions(_Model):
    """Fixed fields of the incidents created with ``format: servicenow``."""

    category: str = Field(default="software", min_length=1)
    subcategory: str | None = None
    assignment_group: str | None = Field(
        default=None, description="name or sys_id of the group; default: the instance's rules"
    )
    caller_id: str | None = Field(
        default=None, description="user name or sys_id of the caller; default: the API user"
    )


class WebhookEndpoint(_Model):
    url: str = Field(description="https, or http on loopback")
    events: list[EventType] = Field(
        default_factory=lambda: list(EVENT_TYPES),
        min_length=1,
        description="which events are sent here; default: all of them",
    )
    format: Format = Field(default="json", description="json, or servicenow (Table API)")
    secret_env: str | None = Field(
        default=None,
        description="variable holding the HMAC-SHA256 signing secret; required for json",
    )
    authorization_env: str | None = Field(
        default=None,
        description="variable holding the whole Authorization header value; required for "
        "servicenow",
    )
    servicenow: ServiceNowOptions = ServiceNowOptions()
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_attempts: int = Field(
        default=6, ge=1, le=30, description="tries before the delivery is dead-lettered"
    )
    backoff_initial_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=60.0, ge=0)
    queue_size: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="deliveries waiting for this endpoint; beyond it new events are dropped "
        "(logged with their payload and counted)",
    )
    concurrency: int = Field(default=2, ge=1, le=64, description="deliveries in flight")

    _env = field_validator("secret_env", "authorization_env")(env_name)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return secure_url(value, "a webhook")

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[EventType]) -> list[EventType]:
        if len(set(value)) != len(value):
            raise ValueError(f"each event at most once (got {value})")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> WebhookEndpoint:
        if self.format == "json" and self.secret_env is None:
            raise ValueError("secret_env (the variable holding the signing secret) for json")
        if self.format == "servicenow" and self.authorization_env is None:
            raise ValueError(
                "authorization_env (the variable holding the Authorization header) for servicenow"
            )
        return self
