"""The gateway hook that writes one audit event per request decision.

Registered as ``gateway.audit.hook:build_audit_hook`` (outermost, so it sees the settled
ledger cost and the final status). It never returns ``None``: without an ``audit`` section
the trail lives beside the store, and a gateway never runs unaudited.

* ``on_complete`` (before the final bytes leave) appends the request's event and awaits its
  fsync; if that fails it raises :class:`~gateway.audit.errors.AuditUnavailable`, so the
  client gets 503 ``audit_unavailable`` instead of the answer. The event's payload is built
  straight from the context (:class:`RequestPayloads`), byte for byte what
  ``request_payload(request_fields(ctx, ...))`` gives.
* ``on_failed`` appends the failure (status and error code), including a refusal by a later
  hook's ``on_admitted``; ``on_refused`` a refusal before admission (bad credential, unknown
  or forbidden model, residency violation).
* Shipping failures are published on the gateway's event bus as ``audit.ship_failed`` (the
  webhook dispatcher subscribes there).
* Admin changes go through :meth:`AuditHook.admin_change`.

Other hooks hand facts to the audit in ``ctx.state``:

* ``"redaction.findings"``: ``Mapping[str, int]``, entity type -> count (never values);
* ``"ledger.usage"``: an object with ``cost`` (Decimal) and ``currency`` (e.g. the ledger's
  ``UsageEvent``); until the ledger sets it the event's cost is null.

Prompts and completions are stored only for teams listed in ``audit.store_content_teams``;
only then is :class:`ContentAuditHook` (which watches responses and stream chunks) used.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from gateway.audit.config import AuditConfig, default_audit_dir
from gateway.audit.events import (
    AdminEvent,
    DetailValue,
    Principal,
    RequestEvent,
    UnixTimeText,
    plain_cost,
    plain_currency,
    plain_findings,
    request_payload,
)
from gateway.audit.shipper import ShipFailure
from gateway.audit.trail import AuditTrail
from gateway.audit.wal import Receipt
from gateway.context import Identity, RequestContext, ResidencyDecision
from gateway.errors import GatewayError
from gateway.hooks import Hook, HookServices
from gateway.providers.base import JSON

SHIP_FAILED_EVENT = "audit.ship_failed"
FINDINGS_KEY = "redaction.findings"
USAGE_KEY = "ledger.usage"
_RECORDED = "audit.recorded"
_COMPLETION = "audit.completion"
_STREAMED = "audit.streamed"


def principal(identity: Identity | None) -> dict[str, str | None]:
    """The ``principal`` of :class:`~gateway.audit.events.RequestEvent` as a plain dict."""
    if identity is None:
        return {"key_id": None, "subject": None, "team": None, "cost_center": None}
    is_key = identity.kind == "api_key"
    return {
        "key_id": identity.subject if is_key else None,
        "subject": None if is_key else identity.subject,
        "team": identity.team,
        "cost_center": identity.cost_center,
    }


def residency(decision: ResidencyDecision | None) -> dict[str, str] | None:
    """The ``residency`` of :class:`~gateway.audit.events.RequestEvent` as a plain dict."""
    if decision is None:
        return None
    allowed = ", ".join(sorted(decision.allowed)) or "none"
    reason = f"allowed jurisdictions: {allowed} (from the {decision.source})"
    if decision.eligible:
        return {"decision": "allowed", "reason": reason}
    served = ", ".join(sorted({j for _, j in decision.excluded})) or "none"
    return {"decision": "refused", "reason": f"{reason}; the model is served in: {served}"}


def deployment_ref(ctx: RequestContext) -> dict[str, str | None] | None:
    """The ``deployment`` of :class:`~gateway.audit.events.RequestEvent` as a plain dict."""
    deployment = ctx.deployment
    if deployment is None or ctx.deployment_id is None:
        return None
    return {
        "id": ctx.deployment_id,
        "provider": deployment.provider,
        "region": deployment.region,
        "jurisdiction": deployment.jurisdiction,
    }


def _findings(ctx: RequestContext) -> dict[Any, Any]:
    findings = ctx.state.get(FINDINGS_KEY)
    # dict first: checking the Mapping ABC costs more than the dict it usually is
    return dict(findings) if isinstance(findings, (dict, Mapping)) else {}


def _tokens(usage: JSON | None) -> dict[str, Any]:
    usage = usage or {}
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return {
        "input": prompt if isinstance(prompt, int) else 0,
        "output": completion if isinstance(completion, int) else 0,
    }


def _latency_ms(ctx: RequestContext) -> float:
    return round((time.perf_counter() - ctx.started) * 1000.0, 3)


def request_fields(
    ctx: RequestContext,
    *,
    status: int,
    error_code: str | None = None,
    content: dict[str, JsonValue] | None = None,
) -> dict[str, Any]:
    """The fields of the audit event for ``ctx`` as it stands now, nested parts as plain
    dicts: what :func:`~gateway.audit.events.request_payload` and ``RequestEvent`` take."""
    usage = ctx.state.get(USAGE_KEY)
    return {
        "time": datetime.fromtimestamp(ctx.received_at, UTC),
        "request_id": ctx.request_id,
        "principal": principal(ctx.identity),
        "model": ctx.model,
        "operation": ctx.op,
        "deployment": deployment_ref(ctx),
        "residency": residency(ctx.residency),
        "redaction": _findings(ctx),
        "tokens": _tokens(ctx.usage),
        "cost": getattr(usage, "cost", None),
        "currency": getattr(usage, "currency", None),
        "status": status,
        "error_code": error_code,
        "latency_ms": _latency_ms(ctx),
        "content": content,
    }


def _text(value: object) -> bool:
    return value is None or type(value) is str


class RequestPayloads:
    """The stored payloads of request events without content, built straight from ``ctx``.

    ``payloads(ctx, status=..., error_code=...)`` is
    ``request_payload(request_fields(ctx, status=..., error_code=...))`` made without the
    intermediate fields: the nested parts come from the same helpers (so they have exactly the
    model's fields), each value that could be of another type is checked against the rules of
    ``request_payload``'s fast path, and if one is not plainly valid the event goes through
    ``request_payload(request_fields(...))`` after all, where the model coerces or refuses it.
    The time's text is formatted once per second (:class:`~gateway.audit.events.UnixTimeText`).
    """

    def __init__(self) -> None:
        self._time = UnixTimeText()

    def __call__(
        self, ctx: RequestContext, *, status: int, error_code: str | None = None
    ) -> dict[str, Any]:
        payload = self._plain(ctx, status, error_code)
        if payload is None:
            payload = request_payload(request_fields(ctx, status=status, error_code=error_code))
        return payload

    def _plain(
        self, ctx: RequestContext, status: int, error_code: str | None
    ) -> dict[str, Any] | None:
        """The payload, or ``None`` when a value is not plainly valid (read in the order of
        :func:`request_fields`, so a broken context raises what it raised there)."""
        when = self._time(ctx.received_at)
        request_id, identity = ctx.request_id, ctx.identity
        who = principal(identity)
        model, operation = ctx.model, ctx.op
        deployment = deployment_ref(ctx)
        decision = residency(ctx.residency)
        findings = _findings(ctx)
        tokens = _tokens(ctx.usage)
        usage = ctx.state.get(USAGE_KEY)
        cost, currency = getattr(usage, "cost", None), getattr(usage, "currency", None)
        latency = _latency_ms(ctx)
        plain = (
            type(request_id) is str
            and request_id != ""
            and (
                identity is None
                or (
                    _text(identity.subject) and _text(identity.team) and _text(identity.cost_center)
                )
            )
            and _text(model)
            and _text(operation)
            and (deployment is None or all(type(v) is str and v for v in deployment.values()))
            and plain_findings(findings)
            and type(tokens["input"]) is int
            and tokens["input"] >= 0
            and type(tokens["output"]) is int
            and tokens["output"] >= 0
            and plain_currency(currency)
            and plain_cost(cost, currency)
            and type(status) is int
            and 100 <= status <= 599
            and _text(error_code)
            and type(latency) is float
            and math.isfinite(latency)
            and latency >= 0
        )
        if not plain:
            return None
        return {
            "time": when,
            "type": "request",
            "request_id": request_id,
            "principal": who,
            "model": model,
            "operation": operation,
            "deployment": deployment,
            "residency": decision,
            "redaction": findings,
            "tokens": tokens,
            "cost": None if cost is None else str(cost),
            "currency": currency,
            "status": status,
            "error_code": error_code,
            "latency_ms": latency,
            "content": None,
        }


def request_event(
    ctx: RequestContext,
    *,
    status: int,
    error_code: str | None = None,
    content: dict[str, JsonValue] | None = None,
) -> RequestEvent:
    """The audit event for ``ctx`` as it stands now, as the model (the hook itself writes
    the same payload through :class:`RequestPayloads` or
    :func:`~gateway.audit.events.request_payload`)."""
    return RequestEvent(
        **request_fields(ctx, status=status, error_code=error_code, content=content)
    )


class AuditHook(Hook):
    """Appends the audit event of every admitted request (see the module docstring)."""

    name = "audit"

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail
        self._payloads = RequestPayloads()

    async def startup(self) -> None:
        await self.trail.start()

    async def shutdown(self) -> None:
        await self.trail.aclose()

    def _content(self, ctx: RequestContext) -> dict[str, JsonValue] | None:
        return None

    async def _record(self, ctx: RequestContext, status: int, code: str | None) -> Receipt:
        content = self._content(ctx)
        if content is None:
            payload = self._payloads(ctx, status=status, error_code=code)
        else:
            fields = request_fields(ctx, status=status, error_code=code, content=content)
            payload = request_payload(fields)
        receipt = await self.trail.append_payload(payload)
        ctx.state[_RECORDED] = receipt
        return receipt

    async def on_complete(self, ctx: RequestContext) -> None:
        await self._record(ctx, ctx.status or 200, None)

    async def on_failed(self, ctx: RequestContext, error: GatewayError) -> None:
        if _RECORDED not in ctx.state:
            await self._record(ctx, error.status, error.code)

    async def on_refused(self, ctx: RequestContext, error: GatewayError) -> None:
        await self.on_failed(ctx, error)

    def problem(self) -> str | None:
        problem = self.trail.problem
        return f"audit trail: {problem}" if problem else None

    async def admin_change(
        self,
        *,
        actor: Principal,
        action: str,
        target: str,
        details: Mapping[str, DetailValue] | None = None,
        request_id: str | None = None,
    ) -> Receipt:
        """Durably record one admin change; raises ``AuditUnavailable`` (503) when it cannot."""
        event = AdminEvent(
            actor=actor,
            action=action,
            target=target,
            details=dict(details or {}),
            request_id=request_id,
        )
        return await self.trail.append(event)


class ContentAuditHook(AuditHook):
    """:class:`AuditHook` that also stores prompt and completion for opted-in teams."""

    def _team_opted_in(self, ctx: RequestContext) -> bool:
        team = ctx.identity.team if ctx.identity is not None else None
        return self.trail.stores_content(team)

    def _content(self, ctx: RequestContext) -> dict[str, JsonValue] | None:
        if not self._team_opted_in(ctx):
            return None
        streamed: dict[int, str] | None = ctx.state.get(_STREAMED)
        completion: JsonValue = (
            {"choices": [{"index": i, "text": streamed[i]} for i in sorted(streamed)]}
            if streamed is not None
            else ctx.state.get(_COMPLETION)
        )
        prompt: JsonValue = ctx.body
        return {"prompt": prompt, "completion": completion}

    async def transform_response(self, ctx: RequestContext, body: JSON) -> JSON:
        if self._team_opted_in(ctx):
            ctx.state[_COMPLETION] = body
        return body

    async def transform_chunk(self, ctx: RequestContext, chunk: JSON) -> list[JSON]:
        if self._team_opted_in(ctx):
            text: dict[int, str] = ctx.state.setdefault(_STREAMED, {})
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if isinstance(content, str):
                    index = int(choice.get("index", 0))
                    text[index] = text.get(index, "") + content
        return [chunk]


def build_audit_hook(services: HookServices) -> AuditHook:
    """The hook factory listed in ``gateway.hooks.HOOK_FACTORIES``."""
    config: AuditConfig = services.config.audit

    def publish(failure: ShipFailure) -> None:
        services.events.publish(SHIP_FAILED_EVENT, asdict(failure))

    trail = AuditTrail(
        config,
        default_dir=default_audit_dir(services.config.store),
        environ=services.environ,
        on_ship_failure=publish,
    )
    return ContentAuditHook(trail) if config.store_content_teams else AuditHook(trail)
