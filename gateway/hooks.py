"""Governance hook points on the request path.

Redaction, audit, the ledger and budgets, rate limits, telemetry and webhooks plug into the
gateway here, without editing the core. A hook subclasses :class:`Hook` and overrides only
the methods it needs; the gateway runs hooks as an onion, in the order given:

request phase, in list order
    ``on_admitted(ctx)``
        after authentication, body parsing, model authorisation and the residency
        decision, before any upstream call. ``ctx.identity``, ``ctx.model``, ``ctx.body``
        and ``ctx.residency`` are set. Limits and budget reservations go here; raising a
        :class:`~gateway.errors.GatewayError` refuses the request (no upstream call).
    ``transform_request(ctx)``
        may rewrite ``ctx.body`` (redaction of the outgoing prompt); runs once, before
        routing.

response phase, in reverse list order
    ``transform_response(ctx, body) -> body``
        the complete OpenAI-shaped response (non-streaming).
    ``transform_chunk(ctx, chunk) -> [chunks]`` and ``finish_stream(ctx) -> [chunks]``
        each streamed ``chat.completion.chunk``; a hook may hold chunks back (return ``[]``)
        and release them later or in ``finish_stream`` (restoring a placeholder split
        across chunks). Chunks flushed by one hook still pass through the hooks after it.
    ``on_complete(ctx)``
        the upstream answered and ``ctx.usage``, ``ctx.deployment`` and ``ctx.attempts``
        are final. Called BEFORE the final bytes leave: the body of a non-streaming
        response, or the closing ``data: [DONE]`` of a stream. Settling the ledger and
        writing the audit event go here; raising turns the answer into an error (a stream
        then ends with an error event instead of ``[DONE]``).
    ``on_failed(ctx, error)``
        the request failed after ``on_admitted`` succeeded (upstream failure, a hook
        refusing, a stream broken midway). Release reservations here. Exceptions raised
        here are logged and do not hide the original error. A refusal in ``on_admitted``
        reaches every hook listed before the refusing one (whether or not it overrides
        ``on_admitted``: one that does not was admitted by the no-op), innermost first.
    ``on_refused(ctx, error)``
        the request was refused before ``on_admitted`` (bad credential, bad body, unknown
        or forbidden model, residency violation): nothing was reserved, but the refusal is
        worth recording. ``ctx`` holds whatever was known (identity, model, residency).

lifecycle
    ``startup()`` / ``shutdown()`` run with the ASGI lifespan, after the store is migrated
    and before the connection pools close.

endpoints
    ``routes()`` returns ``{path: {method: handler}}`` for endpoints a hook serves itself
    (``/metrics``, ``/admin/budgets``); handlers take ``(request, ctx)`` and return a
    response, and raise :class:`~gateway.errors.GatewayError` like the core's. A path that
    is already taken fails at start-up.

Hooks are listed in :data:`HOOK_FACTORIES` as ``"module:function"``; each function takes a
:class:`HookServices` and returns a :class:`Hook`, or ``None`` when its config section is
absent. Outermost first: audit wraps the ledger, so it records the settled cost.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from gateway.asgi import AnyResponse, Request
from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.events import EventBus
from gateway.providers.base import JSON

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.routing import Target
    from gateway.store import Store

log = logging.getLogger("gateway.hooks")

HOOK_FACTORIES: tuple[str, ...] = (
    # webhooks first: started before and shut down after every hook that publishes events
    "gateway.webhooks.hook:build_webhooks_hook",
    # telemetry outermost on the request path: its on_complete runs last, every refusal
    # reaches it
    "gateway.telemetry.hook:build_telemetry_hook",
    # audit wraps the ledger, so it records the settled cost
    "gateway.audit.hook:build_audit_hook",
    # limits before the ledger: a request over its rate never holds budget
    "gateway.limits.hook:build_limits_hook",
    "gateway.ledger.hook:build_ledger_hook",
    # redaction innermost: it rewrites the prompt last before it leaves, and sees the
    # model's answer first
    "gateway.redaction.hook:build_redaction_hook",
)
"""``"module:function"`` entries, outermost first; later issues add theirs here."""


@dataclass(frozen=True, slots=True)
class HookServices:
    """What a hook factory may use to build its hook."""

    config: GatewayConfig
    environ: Mapping[str, str]
    store: Store
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    """the app's Prometheus registry, served on ``GET /metrics``: register metrics here"""
    events: EventBus = field(default_factory=EventBus)
    """operational events: ``events.publish("budget.threshold", {...})`` reaches webhooks"""
    routes: Mapping[str, Sequence[Target]] = field(default_factory=dict)
    """model alias -> its deployments (with their circuit breakers), in config order"""


HookFactory = Callable[[HookServices], "Hook | None"]
Handler = Callable[[Request, RequestContext], Awaitable[AnyResponse]]
Routes = Mapping[str, Mapping[str, Handler]]


class Hook:
    """A no-op hook; subclasses override what they need (see the module docstring)."""

    name: str = "hook"

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def on_admitted(self, ctx: RequestContext) -> None:
        return None

    async def transform_request(self, ctx: RequestContext) -> None:
        return None

    async def transform_response(self, ctx: RequestContext, body: JSON) -> JSON:
        return body

    async def transform_chunk(self, ctx: RequestContext, chunk: JSON) -> list[JSON]:
        return [chunk]

    async def finish_stream(self, ctx: RequestContext) -> list[JSON]:
        return []

    async def on_complete(self, ctx: RequestContext) -> None:
        return None

    async def on_failed(self, ctx: RequestContext, error: GatewayError) -> None:
        return None

    async def on_refused(self, ctx: RequestContext, error: GatewayError) -> None:
        return None

    def problem(self) -> str | None:
        """Why this hook cannot serve right now (for ``/readyz``); ``None`` when ready."""
        return None

    def routes(self) -> Routes:
        return {}


def _overrides(hook: Hook, *methods: str) -> bool:
    return any(getattr(type(hook), m) is not getattr(Hook, m) for m in methods)


class HookChain:
    """Runs an ordered list of hooks; methods nobody overrides cost nothing."""

    def __init__(self, hooks: Sequence[Hook] = ()) -> None:
        self.hooks = tuple(hooks)
        rev = self.hooks[::-1]
        admitting = [i for i, h in enumerate(self.hooks) if _overrides(h, "on_admitted")]
        self._admitted = [self.hooks[i] for i in admitting]
        # for each admitting hook, the hooks before it to tell if it refuses, innermost first
        self._admitted_before = [
            [h for h in self.hooks[:i][::-1] if _overrides(h, "on_failed")] for i in admitting
        ]
        self._request = [h for h in self.hooks if _overrides(h, "transform_request")]
        self._response = [h for h in rev if _overrides(h, "transform_response")]
        self._chunk = [h for h in rev if _overrides(h, "transform_chunk", "finish_stream")]
        self._complete = [h for h in rev if _overrides(h, "on_complete")]
        self._failed = [h for h in rev if _overrides(h, "on_failed")]
        self._refused = [h for h in rev if _overrides(h, "on_refused")]

    @property
    def transforms_chunks(self) -> bool:
        return bool(self._chunk)

    def routes(self, taken: Sequence[str] = ()) -> dict[str, Mapping[str, Handler]]:
        """Every hook's endpoints; a path served twice is a start-up error."""
        merged: dict[str, Mapping[str, Handler]] = {}
        for hook in self.hooks:
            for path, methods in hook.routes().items():
                if path in merged or path in taken:
                    raise ValueError(f"hook {hook.name!r} serves {path}, which is already taken")
                merged[path] = methods
        return merged

    def problems(self) -> list[str]:
        """Every hook's readiness problem."""
        return [p for p in (hook.problem() for hook in self.hooks) if p]

    async def startup(self) -> None:
        for hook in self.hooks:
            await hook.startup()

    async def shutdown(self) -> None:
        for hook in self.hooks[::-1]:
            try:
                await hook.shutdown()
            except Exception:
                log.exception("hook %s failed to shut down", hook.name)

    async def admitted(self, ctx: RequestContext) -> None:
        """Admit in order; if one refuses, the hooks before it get ``on_failed``."""
        for i, hook in enumerate(self._admitted):
            try:
                await hook.on_admitted(ctx)
            except GatewayError as err:
                await _notify(self._admitted_before[i], "on_failed", ctx, err)
                raise

    async def request(self, ctx: RequestContext) -> None:
        for hook in self._request:
            await hook.transform_request(ctx)

    async def response(self, ctx: RequestContext, body: JSON) -> JSON:
        for hook in self._response:
            body = await hook.transform_response(ctx, body)
        return body

    async def chunk(self, ctx: RequestContext, chunk: JSON) -> list[JSON]:
        chunks = [chunk]
        for hook in self._chunk:
            chunks = [out for c in chunks for out in await hook.transform_chunk(ctx, c)]
        return chunks

    async def finish(self, ctx: RequestContext) -> list[JSON]:
        carried: list[JSON] = []
        for hook in self._chunk:
            processed = [out for c in carried for out in await hook.transform_chunk(ctx, c)]
            processed.extend(await hook.finish_stream(ctx))
            carried = processed
        return carried

    async def complete(self, ctx: RequestContext) -> None:
        for hook in self._complete:
            await hook.on_complete(ctx)

    async def failed(self, ctx: RequestContext, error: GatewayError) -> None:
        await _notify(self._failed, "on_failed", ctx, error)

    async def refused(self, ctx: RequestContext, error: GatewayError) -> None:
        await _notify(self._refused, "on_refused", ctx, error)


async def _notify(
    hooks: Sequence[Hook], method: str, ctx: RequestContext, error: GatewayError
) -> None:
    """Tell every hook; one failing is logged and does not stop the others."""
    for hook in hooks:
        try:
            await getattr(hook, method)(ctx, error)
        except Exception:
            log.exception("hook %s failed in %s", hook.name, method)


def _load_factory(ref: str) -> HookFactory:
    module_name, _, attr = ref.partition(":")
    factory: HookFactory = getattr(importlib.import_module(module_name), attr)
    return factory


def build_hooks(services: HookServices, factories: Sequence[str] = HOOK_FACTORIES) -> list[Hook]:
    """Instantiate the registered hooks whose config section is present."""
    hooks = (_load_factory(ref)(services) for ref in factories)
    return [h for h in hooks if h is not None]
