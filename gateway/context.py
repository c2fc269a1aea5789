"""Per-request state shared by the request path and its hooks.

:class:`Identity` is who is calling (from an API key or an OIDC token).
:class:`RequestContext` follows one request from arrival to the last byte; hooks
(:mod:`gateway.hooks`) read it and write to it. Nothing here touches I/O.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gateway.providers.base import JSON, Operation

if TYPE_CHECKING:
    from gateway.config import Deployment

IdentityKind = Literal["api_key", "oidc"]
ResidencySource = Literal["key", "claim", "default"]


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller, as established by authentication.

    ``jurisdictions`` is ``None`` when the credential names none (the config default then
    applies); ``models`` is ``None`` when every configured model is allowed. ``redaction``
    is a per-key override of the redaction mode (``redact``/``mask``/``block``/``off``).
    """

    kind: IdentityKind
    subject: str
    team: str | None = None
    cost_center: str | None = None
    jurisdictions: frozenset[str] | None = None
    models: frozenset[str] | None = None
    redaction: str | None = None
    issuer: str | None = None

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True, slots=True)
class ResidencyDecision:
    """Which deployments of the requested model the caller's jurisdictions allow."""

    source: ResidencySource
    allowed: frozenset[str]
    eligible: tuple[str, ...]
    """ids of the deployments inside ``allowed``, in config order"""
    excluded: tuple[tuple[str, str], ...]
    """(deployment id, its jurisdiction) for every deployment ruled out"""


@dataclass(slots=True)
class Attempt:
    """One upstream try: which deployment, how it ended and how long it took."""

    deployment_id: str
    status: int | None
    error: str | None
    seconds: float


@dataclass(slots=True)
class RequestContext:
    """Everything known about one request; hooks may read all of it and add to ``state``."""

    method: str
    path: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.perf_counter)
    received_at: float = field(default_factory=time.time)
    identity: Identity | None = None
    op: Operation | None = None
    model: str | None = None
    body: JSON | None = None
    stream: bool = False
    include_usage: bool = False
    residency: ResidencyDecision | None = None
    deployment_id: str | None = None
    deployment: Deployment | None = None
    attempts: list[Attempt] = field(default_factory=list)
    usage: JSON | None = None
    status: int | None = None
    upstream_seconds: float = 0.0
    backoff_seconds: float = 0.0
    finished: float | None = None
    state: dict[str, Any] = field(default_factory=dict)
    """scratch space for hooks, keyed by hook name (a reservation id, a redaction map...)"""
    response_headers: dict[str, str] = field(default_factory=dict)
    """headers hooks add to the answer, streamed or not (``x-ratelimit-*``...)"""

    @property
    def region(self) -> str | None:
        return self.deployment.region if self.deployment is not None else None

    @property
    def jurisdiction(self) -> str | None:
        return self.deployment.jurisdiction if self.deployment is not None else None

    def overhead_ms(self) -> float:
        """Time spent in the gateway so far, excluding upstream waits and retry back-off."""
        elapsed = time.perf_counter() - self.started
        return max(0.0, (elapsed - self.upstream_seconds - self.backoff_seconds) * 1000.0)
