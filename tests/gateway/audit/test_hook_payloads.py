"""The hook's payloads, built straight from the context, are the reference ones exactly.

:class:`RequestPayloads` skips the intermediate fields of :func:`request_fields`. These tests
hold it to ``request_payload(request_fields(ctx, ...))`` (itself held to the model) over the
contexts the hook sees and over many contexts mixing valid, coercible, invalid and broken
values, and hold :class:`UnixTimeText` to :func:`rfc3339_ms`.
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.audit.canonical import canonical
from gateway.audit.events import UnixTimeText, request_payload, rfc3339_ms
from gateway.audit.hook import FINDINGS_KEY, USAGE_KEY, RequestPayloads, request_fields
from gateway.context import Identity, RequestContext
from tests.gateway.audit.support import DEPLOYMENT
from tests.gateway.audit.test_request_payload import ENDINGS, RESIDENCIES, contexts

Outcome = tuple[str, Any]


def outcome(build: Callable[[], dict[str, Any]]) -> Outcome:
    """The payload and its canonical bytes, the model's errors, or what else was raised."""
    try:
        payload = build()
    except ValidationError as exc:  # compared as text: an input may be NaN
        return "refused", repr(exc.errors(include_url=False, include_context=False))
    except Exception as exc:
        return "raised", (type(exc), str(exc))
    return "stored", (payload, canonical(payload))


def reference(ctx: RequestContext, ending: dict[str, Any]) -> Outcome:
    return outcome(lambda: request_payload(request_fields(ctx, **ending)))


def direct(payloads: RequestPayloads, ctx: RequestContext, ending: dict[str, Any]) -> Outcome:
    return outcome(lambda: payloads(ctx, **ending))


NOW = time.perf_counter() + 3600.0
"""the clock both builds read (later than any context's start)"""


@pytest.fixture
def frozen_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both builds read the same clock, so their latencies match."""
    monkeypatch.setattr(time, "perf_counter", lambda: NOW)


@pytest.mark.parametrize("ending", ENDINGS)
def test_hook_contexts_give_the_reference_payload(
    frozen_latency: None, ending: dict[str, Any]
) -> None:
    payloads = RequestPayloads()
    for ctx in contexts():
        made = direct(payloads, ctx, ending)
        assert made[0] == "stored"
        assert made == reference(ctx, ending)


# --- random contexts ------------------------------------------------------------------------


class Usage:
    def __init__(self, cost: object, currency: object) -> None:
        self.cost, self.currency = cost, currency


class Status(enum.IntEnum):
    OK = 200


def bad_deployment(**changes: Any) -> SimpleNamespace:
    values = {"provider": "openai", "region": "eu-central-1", "jurisdiction": "DE"}
    return SimpleNamespace(**{**values, **changes})


ABSENT = object()
CANDIDATES: dict[str, list[Any]] = {
    "received_at": [
        1_750_000_000.123456,
        1_750_000_000.9999996,  # rounds up into the next second
        1_750_000_001.0004,
        0.0,
        -1.5,
        "yesterday",
    ],
    "request_id": ["req-1", "", 17],
    "identity": [
        Identity(kind="api_key", subject="key-1", team="payments"),
        None,
        Identity(kind="oidc", subject="alice@corp", team="risk", cost_center="cc-1"),
        Identity(kind="api_key", subject="key-2", team=5),  # type: ignore[arg-type]
        Identity(kind="oidc", subject=None, team="risk"),  # type: ignore[arg-type]
        Identity(kind="api_key", subject=7),  # type: ignore[arg-type]
        Identity(kind="oidc", subject=7),  # type: ignore[arg-type]
        Identity(kind="oidc", subject="bob@corp", cost_center=b"cc"),  # type: ignore[arg-type]
        "not an identity",
    ],
    "model": ["chat-eu", None, 5],
    "op": ["chat", None, 3],
    "deployment": [
        ("vllm-de", DEPLOYMENT),
        (None, None),
        (None, DEPLOYMENT),
        ("vllm-de", None),
        ("", DEPLOYMENT),
        (7, DEPLOYMENT),
        ("vllm-de", bad_deployment(region="")),
        ("vllm-de", bad_deployment(provider=5)),
        ("vllm-de", object()),
    ],
    "residency": RESIDENCIES,
    "usage": [
        {"prompt_tokens": 7, "completion_tokens": 9},
        None,
        {},
        {"prompt_tokens": 3},
        {"prompt_tokens": -1, "completion_tokens": 0},
        {"prompt_tokens": True, "completion_tokens": 2},
        {"prompt_tokens": 2.0, "completion_tokens": Status.OK},
    ],
    "findings": [
        {"EMAIL_ADDRESS": 2, "IBAN_CODE": 1},
        ABSENT,
        MappingProxyType({"EMAIL_ADDRESS": 1}),
        {},
        {"alice@example.com": 1},
        {"EMAIL_ADDRESS": -1},
        {"EMAIL_ADDRESS": True},
        {"EMAIL_ADDRESS\n": 1},
        {5: 1},
        "EMAIL_ADDRESS",
    ],
    "settled": [
        Usage(Decimal("0.0042"), "EUR"),
        ABSENT,
        Usage(Decimal("0"), "USD"),
        Usage(Decimal("1E+2"), "EUR"),
        Usage(None, "EUR"),
        Usage(Decimal("-1"), "EUR"),
        Usage(Decimal("NaN"), "EUR"),
        Usage(Decimal("1"), None),
        Usage(Decimal("1"), "eur"),
        Usage(0.5, "EUR"),
        Usage("1.5", "EUR"),
        object(),
    ],
    "started": [NOW - 0.5, NOW, NOW + 0.25, -math.inf, math.nan],
    "status": [200, 429, 100, 599, 99, 600, True, Status.OK, 200.0],
    "error_code": [None, "budget_exceeded", 3],
}


def random_context(rng: random.Random, other: float) -> tuple[RequestContext, dict[str, Any]]:
    """A context and an ending, each value the first (valid) candidate or, with probability
    ``other``, any candidate."""
    pick = {
        name: rng.choice(values) if rng.random() < other else values[0]
        for name, values in CANDIDATES.items()
    }
    ctx = RequestContext("POST", "/v1/chat/completions")
    ctx.received_at, ctx.request_id = pick["received_at"], pick["request_id"]
    ctx.identity, ctx.model, ctx.op = pick["identity"], pick["model"], pick["op"]
    ctx.deployment_id, ctx.deployment = pick["deployment"]
    ctx.residency, ctx.usage, ctx.started = pick["residency"], pick["usage"], pick["started"]
    if pick["findings"] is not ABSENT:
        ctx.state[FINDINGS_KEY] = pick["findings"]
    if pick["settled"] is not ABSENT:
        ctx.state[USAGE_KEY] = pick["settled"]
    return ctx, {"status": pick["status"], "error_code": pick["error_code"]}


def test_random_contexts_give_the_reference_outcome_exactly(frozen_latency: None) -> None:
    rng = random.Random(20250602)
    payloads = RequestPayloads()
    kinds = {"stored": 0, "refused": 0, "raised": 0}
    for _ in range(6000):
        ctx, ending = random_context(rng, rng.choice([0.03, 0.1, 0.4]))
        made = direct(payloads, ctx, ending)
        assert made == reference(ctx, ending), (ctx, ending)
        kinds[made[0]] += 1
    assert kinds["stored"] > 1500 and kinds["refused"] > 1000 and kinds["raised"] > 100, kinds


# --- the time's text --------------------------------------------------------------------------


def test_time_text_is_rfc3339_ms_of_the_unix_time() -> None:
    rng = random.Random(11)
    text = UnixTimeText()
    now = 1_750_000_000.0
    for _ in range(20000):
        step = rng.choice([0.0, 0.0004, 0.0009999, 0.3, 0.9999996, 1.0, 59.5, 3600.0, 86400.0])
        now += step if rng.random() < 0.9 else -step  # mostly forward, sometimes back
        when = rng.choice([now, math.floor(now) + 0.9999996, -now / 1e6, float(int(now))])
        assert text(when) == rfc3339_ms(datetime.fromtimestamp(when, UTC)), when


def test_time_text_refuses_what_fromtimestamp_refuses() -> None:
    with pytest.raises(TypeError):
        UnixTimeText()("yesterday")  # type: ignore[arg-type]
    with pytest.raises((OverflowError, ValueError)):
        UnixTimeText()(1e20)
