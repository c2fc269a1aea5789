"""The admin API: ``POST/GET /admin/keys`` and ``DELETE /admin/keys/{id}``.

Authorised by the bootstrap admin key (:mod:`gateway.auth.admin`); disabled (404) when
none is configured. A created key is returned once and stored only as its hash. A key may be
created with a budget (``"budget": {"amount": 50, "period": "monthly"}``), which is stored
before the key, so the key never works without it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.asgi import AnyResponse, Request, json_response
from gateway.audit.events import DetailValue
from gateway.audit.recorder import ADMIN_ACTOR, AdminRecorder
from gateway.auth.admin import AdminGuard
from gateway.auth.api_keys import KeyCache, generate_key
from gateway.body import parse_object
from gateway.context import RequestContext
from gateway.errors import bad_request, not_found
from gateway.ledger.budgets import BudgetSpec
from gateway.routing.residency import normalise
from gateway.store import KeyStore, NewKey
from gateway.validation import problems

KEYS_PATH = "/admin/keys"
_ADMIN_BODY_LIMIT = 64 * 1024

RedactionMode = Literal["redact", "mask", "block", "off"]
KeyBudgetSetter = Callable[[str, BudgetSpec, RequestContext], Awaitable[dict[str, Any]]]
"""stores the budget of a key about to be created (key id, budget, request); returns it"""


class KeyRequest(BaseModel):
    """Body of ``POST /admin/keys``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str = Field(min_length=1, max_length=200)
    cost_center: str | None = Field(None, min_length=1, max_length=200)
    jurisdictions: list[str] = Field(
        default_factory=list, description="empty: the config default applies"
    )
    models: list[str] | None = Field(None, description="null: every configured model")
    expires_at: AwareDatetime | None = None
    redaction: RedactionMode | None = Field(None, description="per-key redaction mode override")
    budget: BudgetSpec | None = Field(None, description="the key's budget; default: none")

    @field_validator("jurisdictions")
    @classmethod
    def _jurisdictions(cls, value: list[str]) -> list[str]:
        return sorted(normalise(value))

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("a time in the future (ISO 8601 with a timezone)")
        # stored in UTC: SQLite keeps no offset, so a +05:00 time would expire 5 hours late
        return None if value is None else value.astimezone(UTC)


class AdminAPI:
    def __init__(
        self,
        guard: AdminGuard,
        keys: KeyStore,
        cache: KeyCache | None,
        models: Collection[str],
        *,
        key_budgets: KeyBudgetSetter | None = None,
        audit: AdminRecorder | None = None,
    ) -> None:
        self._audit = audit
        self._guard = guard
        self._keys = keys
        self._cache = cache
        self._models = models
        self._key_budgets = key_budgets

    async def _request(self, request: Request) -> KeyRequest:
        data = parse_object(await request.json_body(_ADMIN_BODY_LIMIT))
        try:
            parsed = KeyRequest.model_validate(data)
        except ValidationError as exc:
            first = problems(exc, data)[0]
            raise bad_request(str(first), first.path or None) from None
        for i, name in enumerate(parsed.models or ()):
            if name not in self._models:
                known = ", ".join(sorted(self._models))
                raise bad_request(
                    f"models[{i}]: got {name!r}; expected a configured model ({known})",
                    f"models[{i}]",
                )
        return parsed

    async def create_key(self, request: Request, ctx: RequestContext) -> AnyResponse:
        self._guard.check(request.headers)
        spec = await self._request(request)
        issued = generate_key()
        await self._record(
            ctx,
            "key.create",
            issued.id,
            {
                "team": spec.team,
                "cost_center": spec.cost_center,
                "jurisdictions": ",".join(spec.jurisdictions or ()),
                "models": ",".join(spec.models or ()),
                "redaction": spec.redaction,
            },
        )
        budget: dict[str, Any] = {}
        if spec.budget is not None:
            if self._key_budgets is None:
                raise bad_request("budget: key budgets are not available", "budget")
            budget["budget"] = await self._key_budgets(issued.id, spec.budget, ctx)
        record = await self._keys.create(
            NewKey(
                id=issued.id,
                key_hash=issued.key_hash,
                team=spec.team,
                cost_center=spec.cost_center,
                jurisdictions=spec.jurisdictions,
                models=spec.models,
                redaction=spec.redaction,
                expires_at=spec.expires_at,
            )
        )
        if self._cache is not None:
            self._cache.put(record)
        return json_response(201, {"id": record.id, "key": issued.key, **record.public(), **budget})

    async def _record(
        self, ctx: RequestContext, action: str, target: str, details: dict[str, DetailValue]
    ) -> None:
        """Record the change in the audit trail before making it; 503 if it cannot be."""
        if self._audit is not None:
            await self._audit.admin_change(
                actor=ADMIN_ACTOR,
                action=action,
                target=target,
                details={k: v for k, v in details.items() if v is not None},
                request_id=ctx.request_id,
            )

    async def list_keys(self, request: Request, ctx: RequestContext) -> AnyResponse:
        self._guard.check(request.headers)
        records = await self._keys.all()
        return json_response(200, {"object": "list", "data": [r.public() for r in records]})

    async def revoke_key(self, request: Request, ctx: RequestContext) -> AnyResponse:
        self._guard.check(request.headers)
        key_id = request.path[len(KEYS_PATH) + 1 :]
        if key_id:
            await self._record(ctx, "key.revoke", key_id, {})
        record = await self._keys.revoke(key_id) if key_id else None
        if record is None:
            raise not_found(f"no API key with id {key_id!r}", code="key_not_found")
        if self._cache is not None:
            self._cache.put(record)
        return json_response(200, {"revoked": True, **record.public()})
