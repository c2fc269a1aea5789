"""The audit event vocabulary: one event per request decision and per admin change.

Events are frozen pydantic models. :func:`event_payload` turns one into the plain JSON
object that is hashed and stored; times are UTC in RFC 3339 with milliseconds
(``2025-01-31T09:15:02.123Z``) and money is a decimal string, so the canonical bytes are
reproducible in any language.

Nothing here ever holds a secret or a personal value: redaction findings are entity types and
counts only (a key that is not an upper-case entity name is rejected, so a value cannot be
smuggled in as a key), admin details refuse secret-looking names, and prompts/completions
appear only in :class:`StoredContent`, which the gateway fills for teams listed in
``audit.store_content_teams`` and for nobody else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    NonNegativeInt,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

EntityName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
ActionName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
DetailValue = str | int | float | bool | None

_SECRET_WORDS = frozenset(
    {"secret", "password", "passwd", "token", "credential", "credentials", "private", "apikey"}
)
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339_ms(value: datetime) -> str:
    """``value`` in UTC as RFC 3339 with exactly three fractional digits and ``Z``."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Principal(_Model):
    """Who acted: an API key id or a token subject, with the team and cost center."""

    key_id: str | None = None
    subject: str | None = None
    team: str | None = None
    cost_center: str | None = None


class DeploymentRef(_Model):
    """The deployment a request was routed to."""

    id: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    region: str = Field(min_length=1)
    jurisdiction: str = Field(min_length=1)


class Residency(_Model):
    """The residency decision: allowed, or refused with the reason."""

    decision: Literal["allowed", "refused"]
    reason: str | None = None


class Tokens(_Model):
    input: NonNegativeInt = 0
    output: NonNegativeInt = 0


class StoredContent(_Model):
    """Prompt and completion, stored only for teams that opted in explicitly."""

    prompt: JsonValue = None
    completion: JsonValue = None


class _Event(_Model):
    time: AwareDatetime = Field(default_factory=utc_now)

    @field_serializer("time")
    def _time(self, value: datetime) -> str:
        return rfc3339_ms(value)


class RequestEvent(_Event):
    """One request decision: served, refused or failed."""

    type: Literal["request"] = "request"
    request_id: str = Field(min_length=1)
    principal: Principal = Principal()
    model: str | None = None
    operation: str | None = None
    deployment: DeploymentRef | None = None
    residency: Residency | None = None
    redaction: dict[EntityName, NonNegativeInt] = Field(
        default_factory=dict, description="entity type -> count; never the values"
    )
    tokens: Tokens = Tokens()
    cost: Decimal | None = Field(None, ge=0, description="null until the ledger prices it")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    status: int = Field(ge=100, le=599)
    error_code: str | None = None
    latency_ms: float = Field(ge=0)
    content: StoredContent | None = None

    @model_validator(mode="after")
    def _cost_has_currency(self) -> RequestEvent:
        if self.cost is not None and self.currency is None:
            raise ValueError(f"cost {self.cost} was given without a currency (ISO 4217 code)")
        return self


class AdminEvent(_Event):
    """One admin change (``key.create``, ``key.revoke``, ``budget.set``, ...)."""

    type: Literal["admin"] = "admin"
    request_id: str | None = None
    actor: Principal
    action: ActionName
    target: str = Field(min_length=1)
    details: dict[str, DetailValue] = Field(default_factory=dict)

    @field_validator("details")
    @classmethod
    def _no_secrets(cls, value: dict[str, DetailValue]) -> dict[str, DetailValue]:
        for name in value:
            words = set(_WORD_SPLIT.split(name.lower()))
            joined = name.lower().replace("_", "").replace("-", "")
            if words & _SECRET_WORDS or joined.endswith("apikey"):
                raise ValueError(
                    f"details key {name!r} looks like a secret; audit details must be "
                    "non-secret (store a key id or a fingerprint instead)"
                )
        return value


AuditEvent = Annotated[RequestEvent | AdminEvent, Field(discriminator="type")]


def event_payload(event: RequestEvent | AdminEvent) -> dict[str, Any]:
    """The JSON object that is chained and stored for ``event``."""
    return event.model_dump(mode="json")
