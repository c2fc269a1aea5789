"""The request path's payload is the model's, byte for byte, and refuses what the model refuses.

:func:`request_payload` skips pydantic when every value is already plain and valid. These
tests hold it to ``event_payload(RequestEvent(**fields))`` (the model path, the reference)
over the contexts the hook sees and over many random mixes of valid, coercible and invalid
values, and hold the fast time format to the one it replaced.
"""

from __future__ import annotations

import enum
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from gateway.audit import AuditTrail, DeploymentRef, Principal, verify
from gateway.audit.canonical import canonical
from gateway.audit.events import (
    RequestEvent,
    Residency,
    Tokens,
    _NotPlain,
    _request_payload,
    event_payload,
    request_payload,
    rfc3339_ms,
)
from gateway.audit.hook import FINDINGS_KEY, USAGE_KEY, AuditHook, request_fields
from gateway.context import Identity, RequestContext, ResidencyDecision
from tests.gateway.audit.support import DEPLOYMENT, config, public_b64


def model_outcome(fields: dict[str, Any]) -> tuple[str, Any]:
    """What the model path gives: the payload and its canonical bytes, or the errors."""
    try:
        payload = event_payload(RequestEvent(**fields))
    except ValidationError as exc:
        return "refused", exc.errors(include_url=False, include_context=False)
    return "stored", (payload, canonical(payload))


def takes_the_fast_path(fields: dict[str, Any]) -> bool:
    try:
        _request_payload(fields)
    except _NotPlain:
        return False
    return True


def fast_outcome(fields: dict[str, Any]) -> tuple[str, Any]:
    try:
        payload = request_payload(fields)
    except ValidationError as exc:
        return "refused", exc.errors(include_url=False, include_context=False)
    return "stored", (payload, canonical(payload))


# --- the contexts the hook sees ---------------------------------------------------------------


class Usage:
    def __init__(self, cost: Decimal, currency: str) -> None:
        self.cost, self.currency = cost, currency


IDENTITIES = [
    None,
    Identity(kind="api_key", subject="key-1", team="payments"),
    Identity(kind="oidc", subject="alice@corp", team="risk", cost_center="cc-1"),
]
RESIDENCIES = [
    None,
    ResidencyDecision("claim", frozenset({"DE"}), ("vllm-de",), ()),
    ResidencyDecision("default", frozenset(), (), ()),
    ResidencyDecision("key", frozenset({"US", "CA"}), (), (("vllm-de", "DE"), ("x", "FR"))),
]


def contexts() -> list[RequestContext]:
    made = []
    for number, (identity, decision) in enumerate((i, r) for i in IDENTITIES for r in RESIDENCIES):
        ctx = RequestContext(method="POST", path="/v1/chat/completions")
        ctx.received_at += number * 0.0004  # walk across millisecond boundaries
        ctx.identity, ctx.residency = identity, decision
        if number % 2:
            ctx.model, ctx.op = "chat-eu", "chat"
            ctx.deployment_id, ctx.deployment = "vllm-de", DEPLOYMENT
            ctx.usage = {"prompt_tokens": 7, "completion_tokens": 9}
        if number % 3 == 0:
            ctx.state[FINDINGS_KEY] = {"EMAIL_ADDRESS": 2, "IBAN_CODE": 1}
        if number % 3 == 1:
            ctx.state[USAGE_KEY] = Usage(Decimal("0.0042"), "EUR")
        if number % 4 == 1:
            ctx.usage = {"prompt_tokens": 3}  # a stream cut short: no completion count
        made.append(ctx)
    return made


ENDINGS: list[dict[str, Any]] = [
    {"status": 200},
    {"status": 403, "error_code": "residency_violation"},
    {"status": 502, "error_code": "upstream_unavailable"},
]


@pytest.mark.parametrize("ending", ENDINGS)
def test_hook_contexts_take_the_fast_path_and_match_the_model(ending: dict[str, Any]) -> None:
    for ctx in contexts():
        fields = request_fields(ctx, **ending)
        fast = _request_payload(fields)  # no fallback: the hook's values are all plain
        assert fast == event_payload(RequestEvent(**fields))
        assert canonical(fast) == canonical(event_payload(RequestEvent(**fields)))


def test_hook_payload_matches_the_model_built_from_nested_models() -> None:
    """The model as the hook built it before: nested models, not dicts."""
    ctx = contexts()[7]
    fields = request_fields(ctx, status=200)
    nested = {
        **fields,
        "principal": Principal(**fields["principal"]),
        "deployment": DeploymentRef(**fields["deployment"]),
        "residency": Residency(**fields["residency"]),
        "tokens": Tokens(**fields["tokens"]),
    }
    assert canonical(request_payload(fields)) == canonical(event_payload(RequestEvent(**nested)))


def test_stored_content_goes_through_the_model() -> None:
    ctx = contexts()[1]
    content = {"prompt": {"messages": [{"role": "user", "content": "hi"}]}, "completion": None}
    fields = request_fields(ctx, status=200, content=content)
    assert fast_outcome(fields) == model_outcome(fields)
    assert request_payload(fields)["content"] == content


# --- random mixes of valid, coercible and invalid values --------------------------------------


class Status(enum.IntEnum):
    OK = 200


CEST = timezone(timedelta(hours=2))
PRINCIPALS = [
    {"key_id": "key-1", "subject": None, "team": "payments", "cost_center": "cc-42"},
    {"key_id": None, "subject": "alice@corp", "team": None, "cost_center": None},
    {"team": "payments"},  # partial: the model fills the defaults
    {"key_id": 5, "subject": None, "team": None, "cost_center": None},
    {"key_id": None, "subject": None, "team": None, "cost_center": None, "email": "a@b"},
    Principal(team="payments"),
]
CANDIDATES: dict[str, list[Any]] = {
    "time": [
        datetime(2025, 6, 1, 14, 3, 4, 987654, tzinfo=CEST),
        datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime.fromtimestamp(1_750_000_000.0005, UTC),
        datetime(2025, 6, 1, 12, 0),  # naive
        1_750_000_000.25,  # the model reads a number as a Unix time
        "2025-06-01T12:00:00.123456Z",
    ],
    "request_id": ["req-1", "", 17, "r" * 200],
    "principal": PRINCIPALS,
    "model": ["gpt-4o", None, 5],
    "operation": ["chat", None],
    "deployment": [
        None,
        {
            "id": "aoai-se",
            "provider": "azure_openai",
            "region": "swedencentral",
            "jurisdiction": "SE",
        },
        {"id": "aoai-se", "provider": "azure_openai", "region": "", "jurisdiction": "SE"},
        {"id": "aoai-se", "provider": "azure_openai", "region": "swedencentral"},
        DeploymentRef(id="d", provider="p", region="r", jurisdiction="j"),
    ],
    "residency": [
        None,
        {"decision": "allowed", "reason": "allowed jurisdictions: DE (from the claim)"},
        {"decision": "refused", "reason": None},
        {"decision": "allowed"},
        {"decision": "maybe", "reason": None},
    ],
    "redaction": [
        {},
        {"EMAIL_ADDRESS": 2, "IBAN_CODE": 1},
        {"alice@example.com": 1},
        {"EMAIL_ADDRESS": -1},
        {"EMAIL_ADDRESS\n": 1},
        {"EMAIL_ADDRESS": True},
        {"EMAIL_ADDRESS": 2.0},
        {"E" * 65: 1},
    ],
    "tokens": [
        {"input": 0, "output": 0},
        {"input": 7, "output": 9},
        {"input": -1, "output": 0},
        {"input": True, "output": 0},
        {},
    ],
    "cost": [None, Decimal("0.0042"), Decimal("1E+2"), Decimal("-1"), Decimal("NaN"), 0.5, "1.5"],
    "currency": [None, "EUR", "eur", "EURO"],
    "status": [200, 100, 599, 99, 600, True, Status.OK],
    "error_code": [None, "fake_400", 3],
    "latency_ms": [12.5, 0.0, -0.0, -1.0, float("nan"), float("inf"), 5],
    "content": [None, {"prompt": {"a": [1, 2.5, None]}, "completion": "x"}],
}


def test_random_fields_give_the_model_outcome_exactly() -> None:
    rng = random.Random(20250601)
    stored = refused = plain = 0
    for _ in range(4000):
        # often the first (valid) value, so that combinations reach the later rules too
        other = rng.choice([0.05, 0.15, 0.5])
        fields = {
            name: rng.choice(values) if rng.random() < other else values[0]
            for name, values in CANDIDATES.items()
        }
        if rng.random() < 0.05:  # a missing field (not time: its default, now, would differ)
            del fields[rng.choice([name for name in fields if name != "time"])]
        if rng.random() < 0.05:
            fields["type"] = rng.choice(["request", "admin"])
        outcome = fast_outcome(fields)
        assert outcome == model_outcome(fields), fields
        stored += outcome[0] == "stored"
        refused += outcome[0] == "refused"
        plain += takes_the_fast_path(fields)
    assert stored > 1000 and refused > 1000 and plain > 300, (stored, refused, plain)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("redaction", {"alice@example.com": 1}, "String should match pattern"),
        ("redaction", {"EMAIL_ADDRESS": -1}, "greater than or equal to 0"),
        ("tokens", {"input": -3, "output": 0}, "greater than or equal to 0"),
        ("status", 600, "less than or equal to 599"),
        ("status", 99, "greater than or equal to 100"),
        ("cost", Decimal("-0.01"), "greater than or equal to 0"),
        ("currency", "eur", "String should match pattern"),
        ("latency_ms", float("nan"), "finite number"),
        ("latency_ms", -1.0, "greater than or equal to 0"),
        ("request_id", "", "at least 1 character"),
        ("residency", {"decision": "maybe", "reason": None}, "'allowed' or 'refused'"),
        (
            "deployment",
            {"id": "", "provider": "p", "region": "r", "jurisdiction": "j"},
            "at least 1",
        ),
        ("time", datetime(2025, 6, 1, 12, 0), "timezone"),
    ],
)
def test_invalid_values_are_refused_with_the_models_message(
    name: str, value: Any, message: str
) -> None:
    fields = request_fields(contexts()[1], status=200)
    fields[name] = value
    with pytest.raises(ValidationError, match=message):
        request_payload(fields)


def test_cost_without_a_currency_is_refused() -> None:
    fields = request_fields(contexts()[1], status=200)
    fields["cost"], fields["currency"] = Decimal("1"), None
    with pytest.raises(ValidationError, match="without a currency"):
        request_payload(fields)


# --- time format ----------------------------------------------------------------------------------


def strftime_rfc3339_ms(value: datetime) -> str:
    """The formatter rfc3339_ms replaced (strftime plus the milliseconds)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def random_times(rng: random.Random) -> list[datetime]:
    times = []
    for _ in range(3000):
        offset = timedelta(minutes=rng.randrange(-14 * 60, 14 * 60 + 1))
        micro = rng.choice([0, 999, 1000, 999_999, rng.randrange(1_000_000)])
        when = datetime(
            rng.randrange(1001, 9999),
            rng.randrange(1, 13),
            rng.randrange(1, 29),
            rng.randrange(24),
            rng.randrange(60),
            rng.randrange(60),
            micro,
            tzinfo=timezone(offset),
        )
        times.append(when)
        times.append(datetime.fromtimestamp(rng.uniform(0, 4e9), UTC))
    return times


def test_time_format_is_the_strftime_one() -> None:
    for when in random_times(random.Random(7)):
        assert rfc3339_ms(when) == strftime_rfc3339_ms(when), when


# --- written by the hook, verified by the verifier -----------------------------------------------


async def test_trail_written_by_the_hook_verifies_and_round_trips(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    hook = AuditHook(AuditTrail(config(segment_max_events=4), default_dir=tmp_path / "audit"))
    await hook.startup()
    for ctx in contexts():
        ctx.status = 200
        await hook.on_complete(ctx)
    await hook.shutdown()
    archive = tmp_path / "audit" / "archive"
    result = verify(archive, public_b64(signing_key.public_key()))
    assert result.ok, result.problems
    assert result.trails[0].events == len(contexts())
    lines = [
        line for path in sorted(archive.rglob("*.jsonl")) for line in path.read_bytes().splitlines()
    ]
    events = [orjson.loads(line)["event"] for line in lines if line.startswith(b'{"event"')]
    assert len(events) == len(contexts())
    for event in events:  # what the model reads back, it writes back identically
        assert canonical(event_payload(RequestEvent.model_validate(event))) == canonical(event)
