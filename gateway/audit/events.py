"""The audit event vocabulary: one event per request decision and per admin change.

Events are frozen pydantic models. :func:`event_payload` turns one into the plain JSON
object that is hashed and stored; times are UTC in RFC 3339 with milliseconds
(``2025-01-31T09:15:02.123Z``) and money is a decimal string, so the canonical bytes are
reproducible in any language. The request path, which writes one event per request, uses
:func:`request_payload`: the same object, assembled without building the model when every
value is already plain and valid (the ``plain_*`` checks are those rules, which the audit
hook also applies when it builds the payload straight from a request's context), and
:class:`UnixTimeText` to format its times once per second.

Nothing here ever holds a secret or a personal value: redaction findings are entity types and
counts only (a key that is not an upper-case entity name is rejected, so a value cannot be
smuggled in as a key), admin details refuse secret-looking names, and prompts/completions
appear only in :class:`StoredContent`, which the gateway fills for teams listed in
``audit.store_content_teams`` and for nobody else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeGuard

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

ENTITY_NAME_PATTERN = r"^[A-Z][A-Z0-9_]{0,63}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
EntityName = Annotated[str, StringConstraints(pattern=ENTITY_NAME_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]
ActionName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
DetailValue = str | int | float | bool | None

_SECRET_WORDS = frozenset(
    {"secret", "password", "passwd", "token", "credential", "credentials", "private", "apikey"}
)
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339_ms(value: datetime) -> str:
    """``value`` in UTC as RFC 3339 with exactly three fractional digits and ``Z``.

    The milliseconds are truncated, not rounded (``isoformat`` drops the last three digits of
    the microseconds); a UTC ``isoformat`` always ends in ``+00:00``, which becomes ``Z``.
    """
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


_MILLISECONDS = tuple(f".{ms:03d}Z" for ms in range(1000))
"""the end of an RFC 3339 time with milliseconds, by millisecond"""


class UnixTimeText:
    """``rfc3339_ms(datetime.fromtimestamp(seconds, UTC))``, for Unix times that mostly come
    in order (a trail's events): the text up to the second is formatted once per second and
    remembered; only the milliseconds are formatted every time."""

    __slots__ = ("_prefix", "_second", "_whole")

    def __init__(self) -> None:
        self._whole: int | None = None
        self._second = -1
        self._prefix = ""

    def __call__(self, seconds: float) -> str:
        when = datetime.fromtimestamp(seconds, UTC)
        whole = int(seconds)
        # two times in the same whole second of the float are less than two seconds apart,
        # so when their seconds fields match too they are in the same second of the clock
        if whole != self._whole or when.second != self._second:
            self._whole, self._second, self._prefix = whole, when.second, rfc3339_ms(when)[:19]
        return self._prefix + _MILLISECONDS[when.microsecond // 1000]


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
    currency: Currency | None = None
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


# --- the request path's payload, without the model -------------------------------------------

_ENTITY_NAME = re.compile(ENTITY_NAME_PATTERN)
_CURRENCY = re.compile(CURRENCY_PATTERN)
_REQUEST_FIELDS = frozenset(RequestEvent.model_fields) - {"type"}
_PRINCIPAL_FIELDS = frozenset(Principal.model_fields)
_DEPLOYMENT_FIELDS = frozenset(DeploymentRef.model_fields)
_RESIDENCY_FIELDS = frozenset(Residency.model_fields)
_TOKENS_FIELDS = frozenset(Tokens.model_fields)
_DECISIONS = frozenset({"allowed", "refused"})


class _NotPlain(Exception):
    """A value the model would coerce or refuse: :class:`RequestEvent` decides."""


def _require(condition: bool) -> None:
    if not condition:
        raise _NotPlain


# Each check is one rule of the models above, made strict: a value passes only if it is
# exactly of its JSON type (no subclass, no bool for int) and the model would keep it as is.


def _text(value: object) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _NotPlain


def _name(value: object) -> str:
    if type(value) is str and value != "":
        return value
    raise _NotPlain


def _count(value: object) -> int:
    if type(value) is int and value >= 0:
        return value
    raise _NotPlain


def _record(
    value: object, fields: frozenset[str], check: Callable[[object], Any]
) -> dict[str, Any]:
    if type(value) is not dict or value.keys() != fields:
        raise _NotPlain
    return {name: check(item) for name, item in value.items()}


def _residency(value: object) -> dict[str, Any]:
    residency = _record(value, _RESIDENCY_FIELDS, _text)
    _require(residency["decision"] in _DECISIONS)
    return residency


def plain_findings(value: dict[Any, Any]) -> bool:
    """Whether the ``redaction`` dict ``value`` is plainly valid: entity names to counts."""
    for name, count in value.items():
        if type(name) is not str or _ENTITY_NAME.fullmatch(name) is None:
            return False
        if type(count) is not int or count < 0:
            return False
    return True


def plain_currency(value: object) -> TypeGuard[str | None]:
    """Whether ``value`` is plainly a valid ``currency``: ``None`` or an ISO 4217 code."""
    return value is None or (type(value) is str and _CURRENCY.fullmatch(value) is not None)


def plain_cost(value: object, currency: object) -> bool:
    """Whether ``value`` is plainly a valid ``cost`` beside ``currency``: ``None``, or a
    finite, non-negative ``Decimal`` with a currency (stored as its ``str``)."""
    if value is None:
        return True
    return type(value) is Decimal and value.is_finite() and value >= 0 and currency is not None


def _findings(value: object) -> dict[str, int]:
    if type(value) is not dict or not plain_findings(value):
        raise _NotPlain
    return dict(value)


def _currency(value: object) -> str | None:
    if plain_currency(value):
        return value
    raise _NotPlain


def _cost(value: Any, currency: str | None) -> str | None:
    _require(plain_cost(value, currency))
    return None if value is None else str(value)


def _request_payload(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of ``RequestEvent(**fields)`` built directly; raises :class:`_NotPlain`
    when a value is not plainly valid (stored content always goes through the model)."""
    _require(fields.keys() == _REQUEST_FIELDS and fields["content"] is None)
    when, deployment, residency = fields["time"], fields["deployment"], fields["residency"]
    status, latency = fields["status"], fields["latency_ms"]
    _require(type(when) is datetime and when.utcoffset() is not None)
    _require(type(status) is int and 100 <= status <= 599)
    _require(type(latency) is float and math.isfinite(latency) and latency >= 0)
    currency = _currency(fields["currency"])
    return {
        "time": rfc3339_ms(when),
        "type": "request",
        "request_id": _name(fields["request_id"]),
        "principal": _record(fields["principal"], _PRINCIPAL_FIELDS, _text),
        "model": _text(fields["model"]),
        "operation": _text(fields["operation"]),
        "deployment": None
        if deployment is None
        else _record(deployment, _DEPLOYMENT_FIELDS, _name),
        "residency": None if residency is None else _residency(residency),
        "redaction": _findings(fields["redaction"]),
        "tokens": _record(fields["tokens"], _TOKENS_FIELDS, _count),
        "cost": _cost(fields["cost"], currency),
        "currency": currency,
        "status": status,
        "error_code": _text(fields["error_code"]),
        "latency_ms": latency,
        "content": None,
    }


def request_payload(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``event_payload(RequestEvent(**fields))``, built without the model when it can be.

    ``fields`` names every field of :class:`RequestEvent` but ``type``, with the nested parts
    as plain dicts (``principal={"key_id": ..., "subject": ..., "team": ..., "cost_center":
    ...}``). When each value is already of its JSON type and within the model's rules (the
    request path's case) the payload is assembled directly; anything else (a value the model
    would coerce or refuse, stored content) goes through the model, which coerces it or
    raises its ``ValidationError`` exactly as it always did.
    """
    try:
        return _request_payload(fields)
    except _NotPlain:
        return event_payload(RequestEvent(**fields))
