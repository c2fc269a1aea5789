"""Wiring webhooks into the gateway.

:func:`build_webhooks_hook` (listed first in :data:`gateway.hooks.HOOK_FACTORIES`, so it
starts before and stops after every hook that publishes) returns ``None`` without a
``webhooks`` section. Otherwise it

* subscribes the dispatcher to the app's event bus: whatever the ledger (``budget.threshold``)
  or the audit trail (``audit.ship_failed``) publishes there is delivered;
* listens to every deployment's circuit breaker and publishes ``circuit.opened`` when a
  closed circuit opens (a failed half-open probe re-opening it is not news);
* publishes ``residency.refused`` for every 403 ``residency_violation`` (``on_refused``),
  at most once per caller and model every :data:`RESIDENCY_REPEAT_SECONDS`; the next report
  counts the refusals held back in ``suppressed``.
"""

from __future__ import annotations

import logging

from gateway.config import CircuitBreakerPolicy
from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.events import EventBus
from gateway.hooks import Hook, HookServices
from gateway.routing import Target
from gateway.routing.breaker import State
from gateway.webhooks.dead_letters import DeadLetterStore
from gateway.webhooks.delivery import Webhooks
from gateway.webhooks.events import (
    CIRCUIT_OPENED,
    RESIDENCY_CODE,
    RESIDENCY_REFUSED,
    Throttle,
    circuit_opened,
    residency_refused,
)

log = logging.getLogger("gateway.webhooks")

RESIDENCY_REPEAT_SECONDS = 300.0


class WebhooksHook(Hook):
    name = "webhooks"

    def __init__(self, webhooks: Webhooks, events: EventBus, throttle: Throttle) -> None:
        self.webhooks = webhooks
        self._events = events
        self._throttle = throttle

    async def startup(self) -> None:
        await self.webhooks.start()

    async def shutdown(self) -> None:
        await self.webhooks.aclose()

    async def on_refused(self, ctx: RequestContext, error: GatewayError) -> None:
        if error.code != RESIDENCY_CODE:
            return
        caller = ctx.identity.subject if ctx.identity is not None else ""
        suppressed = self._throttle.admit((caller, ctx.model or ""))
        if suppressed is not None:
            self._events.publish(RESIDENCY_REFUSED, residency_refused(ctx, error, suppressed))


def watch_circuit(target: Target, policy: CircuitBreakerPolicy, events: EventBus) -> None:
    """Publish ``circuit.opened`` each time ``target``'s breaker opens from closed."""
    previous: list[State] = [target.breaker.state]

    def changed(_name: str, state: State) -> None:
        if state == "open" and previous[0] == "closed":
            events.publish(CIRCUIT_OPENED, circuit_opened(target, policy))
        previous[0] = state

    target.breaker.subscribe(changed)


def build_webhooks_hook(services: HookServices) -> WebhooksHook | None:
    """The hook factory listed in ``HOOK_FACTORIES``; raises ConfigError for a missing
    secret, at start-up."""
    endpoints = services.config.webhooks
    if not endpoints:
        return None
    webhooks = Webhooks(
        endpoints,
        services.environ,
        DeadLetterStore(services.store.engine),
        registry=services.registry,
    )
    services.events.subscribe(webhooks.notify)
    for targets in services.routes.values():
        for target in targets:
            watch_circuit(target, services.config.circuit_breaker, services.events)
    return WebhooksHook(webhooks, services.events, Throttle(RESIDENCY_REPEAT_SECONDS))
