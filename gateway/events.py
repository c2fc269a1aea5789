"""Operational events: one in-process bus per gateway, for facts others must hear about.

A budget crossing a threshold, a residency refusal, a circuit opening, audit shipping failing:
the code that notices calls :meth:`EventBus.publish`; subscribers (the webhook dispatcher,
telemetry) are told synchronously and must only enqueue, never block. A subscriber that
raises is logged and never disturbs the publisher or the other subscribers.

The bus lives on the app (:class:`gateway.hooks.HookServices` ``events``); there is no
global instance.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("gateway.events")


@dataclass(frozen=True, slots=True)
class Event:
    """One published fact. ``payload`` must be JSON-serialisable (Decimal and datetime are
    accepted and rendered as strings by the webhook dispatcher)."""

    type: str
    payload: Mapping[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time: float = field(default_factory=time.time)
    """seconds since the epoch"""


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> Event:
        """Tell every subscriber; never raises. Returns the event (with its id)."""
        event = Event(event_type, payload)
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s %s", event.type, event.id)
        return event
