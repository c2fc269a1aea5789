"""Request bodies: the JSON envelope, or a ServiceNow incident for the Table API.

``format: json`` posts::

    {"id": "<event id>", "type": "budget.threshold", "time": "2026-11-27T09:30:00.123Z",
     "source": "gatehouse", "data": {...the event's payload...}}

``format: servicenow`` posts one incident record, for ``POST /api/now/table/incident``
(https://www.servicenow.com/docs/r/zurich/api-reference/rest-api-explorer/t_GetStartedCreateInt.html):

=====================  ==================================================================
incident field         value
=====================  ==================================================================
short_description      one line naming the event (at most 160 characters)
description            the event type, id and time, then one ``key: value`` line per
                       payload field
urgency, impact        from :data:`SEVERITY` below ("1" high, "2" medium, "3" low; the
                       instance derives the priority from the two)
category               ``servicenow.category`` (default ``software``)
subcategory            ``servicenow.subcategory``, when set
assignment_group       ``servicenow.assignment_group``, when set
caller_id              ``servicenow.caller_id``, when set
correlation_id         the event id (the same on every retry, so duplicates can be found)
correlation_display    ``Gatehouse``
=====================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import orjson

from gateway.events import Event
from gateway.webhooks.config import ServiceNowOptions
from gateway.webhooks.events import (
    AUDIT_SHIP_FAILED,
    BUDGET_THRESHOLD,
    CIRCUIT_OPENED,
    RESIDENCY_REFUSED,
)

SOURCE = "gatehouse"
SHORT_DESCRIPTION_MAX = 160

Severity = tuple[str, str]
"""(urgency, impact): "1" high, "2" medium, "3" low"""

# Impact and urgency take 1 (high), 2 (medium) or 3 (low); the base system's priority
# lookup combines them (2/2 -> 3 moderate, 3/3 -> 5 planning, 1/1 -> 1 critical):
# https://www.servicenow.com/docs/r/it-service-management/incident-management/def-prio-lookup-rules.html
# correlation_id / correlation_display are the task table's fields for an external system's
# identifier: https://servicenow-prod.fluidtopics.net/r/yokohama/integrate-applications/integration-hub-remote-process-sync/correlation.html
LOW: Severity = ("3", "3")
MEDIUM: Severity = ("2", "2")
HIGH: Severity = ("1", "1")


def _budget_severity(data: Mapping[str, Any]) -> Severity:
    # 100%: requests are being refused; 80%: a warning
    return MEDIUM if float(data.get("threshold") or 0) >= 1.0 else LOW


def _audit_severity(data: Mapping[str, Any]) -> Severity:
    # a conflict means an archived segment differs from the local one: possible tampering
    return HIGH if data.get("conflict") else MEDIUM


SEVERITY: Mapping[str, Callable[[Mapping[str, Any]], Severity]] = MappingProxyType(
    {
        BUDGET_THRESHOLD: _budget_severity,
        RESIDENCY_REFUSED: lambda _: ("2", "3"),  # the control worked; someone should look
        CIRCUIT_OPENED: lambda _: MEDIUM,  # a deployment is failing; fallback may cover
        AUDIT_SHIP_FAILED: _audit_severity,
    }
)
"""event type -> (urgency, impact); other event types are LOW"""


def _percent(value: Any) -> str:
    return f"{float(value) * 100:g}%" if isinstance(value, int | float) else "?"


SUMMARY: Mapping[str, Callable[[Mapping[str, Any]], str]] = MappingProxyType(
    {
        BUDGET_THRESHOLD: lambda d: (
            f"{str(d.get('scope', '')).replace('_', ' ')} budget {d.get('subject')!r} reached "
            f"{_percent(d.get('threshold'))} of its {d.get('period')} amount"
        ),
        RESIDENCY_REFUSED: lambda d: (
            f"residency refusal: model {d.get('model')!r} requested by team {d.get('team')!r}"
        ),
        CIRCUIT_OPENED: lambda d: (
            f"circuit opened for deployment {d.get('deployment')} "
            f"({d.get('provider')}, {d.get('region')})"
        ),
        AUDIT_SHIP_FAILED: lambda d: (
            f"audit shipping to {d.get('sink')} failing (segment {d.get('segment')}"
            f"{', CONFLICT' if d.get('conflict') else ''})"
        ),
    }
)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def iso_time(epoch: float) -> str:
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def envelope(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "time": iso_time(event.time),
        "source": SOURCE,
        "data": event.payload,
    }


def json_body(event: Event) -> bytes:
    return dumps(envelope(event))


def _line(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else dumps(value).decode()
    return f"{key}: {text}"


def servicenow_incident(event: Event, options: ServiceNowOptions) -> dict[str, str]:
    data = event.payload
    severity = SEVERITY.get(event.type)
    urgency, impact = severity(data) if severity is not None else LOW
    describe = SUMMARY.get(event.type)
    summary = describe(data) if describe is not None else event.type
    short = f"Gatehouse: {summary}"
    if len(short) > SHORT_DESCRIPTION_MAX:
        short = short[: SHORT_DESCRIPTION_MAX - 3] + "..."
    lines = [
        f"Gatehouse event {event.type}",
        _line("event_id", event.id),
        _line("time", iso_time(event.time)),
        "",
        *(_line(key, value) for key, value in data.items()),
    ]
    record = {
        "short_description": short,
        "description": "\n".join(lines),
        "urgency": urgency,
        "impact": impact,
        "category": options.category,
        "subcategory": options.subcategory,
        "assignment_group": options.assignment_group,
        "caller_id": options.caller_id,
        "correlation_id": event.id,
        "correlation_display": "Gatehouse",
    }
    return {k: v for k, v in record.items() if v is not None}


def servicenow_body(event: Event, options: ServiceNowOptions) -> bytes:
    return dumps(servicenow_incident(event, options))
