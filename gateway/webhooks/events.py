"""The events webhooks carry, and the payloads of those this package publishes itself.

=======================  ==============================  ==========================================
type                     published by                    payload
=======================  ==============================  ==========================================
``budget.threshold``     the ledger (once per budget,    ``budget_id``, ``scope``, ``subject``,
                         period and threshold)           ``period``, ``amount``, ``spent``,
                                                         ``currency``, ``threshold`` (0.8, 1.0),
                                                         ``reason``, ``period_start``, ``resets_at``
``residency.refused``    the webhooks hook (403          ``request_id``, ``model``, ``allowed``,
                         ``residency_violation``)        ``source``, ``served_in``, ``team``,
                                                         ``cost_center``, ``key_id``,
                                                         ``suppressed`` (repeats not reported)
``circuit.opened``       the webhooks hook (a closed     ``deployment``, ``model``, ``provider``,
                         breaker opening)                ``region``, ``jurisdiction``,
                                                         ``failure_threshold``, ``cooldown_seconds``
``audit.ship_failed``    the audit trail's shipper       ``trail``, ``segment``, ``object_name``,
                                                         ``sink``, ``error``, ``attempt``,
                                                         ``conflict``
=======================  ==============================  ==========================================

Payloads never contain prompts, completions or credentials. For OIDC callers the subject
(often an e-mail address) is left out; API keys are named by their id.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from gateway.config import CircuitBreakerPolicy
from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.routing import Target
from gateway.webhooks.config import EventType

BUDGET_THRESHOLD: EventType = "budget.threshold"
RESIDENCY_REFUSED: EventType = "residency.refused"
CIRCUIT_OPENED: EventType = "circuit.opened"
AUDIT_SHIP_FAILED: EventType = "audit.ship_failed"

RESIDENCY_CODE = "residency_violation"


def residency_refused(ctx: RequestContext, error: GatewayError, suppressed: int) -> dict[str, Any]:
    decision = ctx.residency
    identity = ctx.identity
    return {
        "request_id": ctx.request_id,
        "model": ctx.model,
        "allowed": sorted(decision.allowed) if decision is not None else [],
        "source": decision.source if decision is not None else None,
        "served_in": sorted({j for _, j in decision.excluded}) if decision is not None else [],
        "team": identity.team if identity is not None else None,
        "cost_center": identity.cost_center if identity is not None else None,
        "key_id": identity.subject if identity is not None and identity.kind == "api_key" else None,
        "message": error.message,
        "suppressed": suppressed,
    }


def circuit_opened(target: Target, policy: CircuitBreakerPolicy) -> dict[str, Any]:
    deployment = target.deployment
    return {
        "deployment": target.id,
        "model": target.model,
        "provider": deployment.provider,
        "region": deployment.region,
        "jurisdiction": deployment.jurisdiction,
        "failure_threshold": policy.failure_threshold,
        "cooldown_seconds": policy.cooldown_seconds,
    }


class Throttle:
    """At most one report per key every ``window`` seconds; counts what it held back.

    Keeps at most ``capacity`` keys (the least recently reported are forgotten first), so a
    caller cycling through made-up values cannot grow it without bound.
    """

    def __init__(
        self,
        window: float,
        *,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[tuple[str, ...], tuple[float, int]] = OrderedDict()

    def admit(self, key: tuple[str, ...]) -> int | None:
        """``None``: hold this one back. Else the number held back since the last report."""
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._window:
            self._seen[key] = (last[0], last[1] + 1)
            return None
        self._seen[key] = (now, 0)
        self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return last[1] if last is not None else 0
