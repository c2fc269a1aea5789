"""The event vocabulary: exact time format, no values, no secrets, reproducible bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from gateway.audit import AdminEvent, Principal, RequestEvent, StoredContent
from gateway.audit.canonical import canonical
from gateway.audit.events import event_payload
from tests.gateway.audit.support import request_event


def test_time_is_utc_rfc3339_with_milliseconds() -> None:
    cest = timezone(timedelta(hours=2))
    event = request_event(1, time=datetime(2025, 6, 1, 14, 3, 4, 987654, tzinfo=cest))
    assert event_payload(event)["time"] == "2025-06-01T12:03:04.987Z"


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        request_event(1, time=datetime(2025, 6, 1, 12, 0))


def test_request_event_records_the_decision() -> None:
    payload = event_payload(request_event(1, cost=Decimal("0.00125"), currency="EUR"))
    assert payload["principal"] == {
        "key_id": "key-1",
        "subject": None,
        "team": "payments",
        "cost_center": "cc-42",
    }
    assert payload["deployment"] == {
        "id": "aoai-sweden",
        "provider": "azure_openai",
        "region": "swedencentral",
        "jurisdiction": "SE",
    }
    assert payload["residency"] == {"decision": "allowed", "reason": None}
    assert payload["redaction"] == {"EMAIL_ADDRESS": 1}
    assert payload["tokens"] == {"input": 10, "output": 20}
    assert (payload["cost"], payload["currency"]) == ("0.00125", "EUR")
    assert payload["content"] is None


def test_cost_is_nullable_but_needs_a_currency_when_set() -> None:
    assert event_payload(request_event(1))["cost"] is None
    with pytest.raises(ValidationError, match="without a currency"):
        request_event(1, cost=Decimal("1"))


def test_redaction_findings_cannot_carry_values() -> None:
    with pytest.raises(ValidationError):
        request_event(1, redaction={"alice@example.com": 1})
    with pytest.raises(ValidationError):
        request_event(1, redaction={"EMAIL_ADDRESS": -1})


def test_admin_details_refuse_secret_looking_names() -> None:
    actor = Principal(subject="ops@example.com", team="platform")
    event = AdminEvent(actor=actor, action="key.create", target="key-9", details={"team": "x"})
    assert event_payload(event)["action"] == "key.create"
    for name in ("api_key", "secret", "client-secret", "token", "password", "apiKey"):
        with pytest.raises(ValidationError, match="looks like a secret"):
            AdminEvent(actor=actor, action="key.create", target="key-9", details={name: "v"})
    with pytest.raises(ValidationError):
        AdminEvent(actor=actor, action="Key Create", target="key-9")


def test_events_are_immutable_and_closed() -> None:
    event = request_event(1)
    with pytest.raises(ValidationError):
        event.status = 500  # type: ignore[misc]
    with pytest.raises(ValidationError):
        RequestEvent(request_id="r", status=200, latency_ms=1, prompt="hello")  # type: ignore[call-arg]


def test_canonical_bytes_do_not_depend_on_field_order() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    one = request_event(1, time=when, content=StoredContent(prompt={"b": 1, "a": 2}))
    two = request_event(1, time=when, content=StoredContent(prompt={"a": 2, "b": 1}))
    assert canonical(event_payload(one)) == canonical(event_payload(two))
    assert b'"prompt":{"a":2,"b":1}' in canonical(event_payload(one))
