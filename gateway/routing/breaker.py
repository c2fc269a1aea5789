"""A per-deployment circuit breaker.

closed
    calls flow; ``failure_threshold`` consecutive failures open it.
open
    calls are refused (the router skips the deployment) until ``cooldown`` has passed.
half-open
    exactly one probe call is let through: success closes the breaker, failure re-opens it
    for another cool-down.

Listeners added with :meth:`CircuitBreaker.subscribe` hear every state change (telemetry
keeps a gauge, webhooks announce an opened circuit); one that raises is logged and ignored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

log = logging.getLogger("gateway.routing")

State = Literal["closed", "open", "half_open"]
Listener = Callable[[str, State], None]
"""called with the breaker's name and its new state"""


class CircuitBreaker:
    __slots__ = (
        "_clock",
        "_cooldown",
        "_failures",
        "_listeners",
        "_name",
        "_opened_at",
        "_probing",
        "_state",
        "_threshold",
    )

    def __init__(
        self,
        name: str,
        failure_threshold: int,
        cooldown: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._threshold = failure_threshold
        self._cooldown = cooldown
        self._clock = clock
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _enter(self, state: State) -> None:
        if state == self._state:
            return
        self._state = state
        for listener in self._listeners:
            try:
                listener(self._name, state)
            except Exception:
                log.exception("circuit %s: a state listener failed", self._name)

    @property
    def state(self) -> State:
        return self._state

    def allow(self) -> bool:
        """May a call go to this deployment now? Grants the single probe when half-open."""
        if self._state == "closed":
            return True
        if self._state == "open":
            if self._clock() - self._opened_at < self._cooldown:
                return False
            self._enter("half_open")
            log.info("circuit %s half-open: probing", self._name)
        if self._probing:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        if self._state != "closed":
            log.info("circuit %s closed", self._name)
        self._enter("closed")
        self._failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self._probing = False
        if self._state == "open":
            return
        self._failures += 1
        if self._state == "half_open" or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._enter("open")
            log.warning(
                "circuit %s open after %d consecutive failure(s)", self._name, self._failures
            )

    def release(self) -> None:
        """A granted call ended without an outcome (cancelled): let another probe."""
        self._probing = False
