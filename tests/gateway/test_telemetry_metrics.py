"""``GET /metrics``: scraped over HTTP, parsed with prometheus_client's parser; who may read
it; the counters move with real requests; labels stay bounded."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.config import ConfigError, GatewayConfig
from gateway.context import Identity, RequestContext
from gateway.errors import GatewayError
from gateway.hooks import Hook, HookServices
from gateway.store import Store
from gateway.telemetry.hook import build_telemetry_hook
from gateway.telemetry.metrics import CACHED_CHILDREN, GatewayMetrics, cached_children
from tests.gateway.conftest import (
    ADMIN_KEY,
    Gateway,
    gateway_config,
    openai_deployment,
    run_gateway,
    sqlite_store,
)
from tests.gateway.fakes.openai import FakeOpenAI, Reply

Fake = tuple[FakeOpenAI, str]
METRICS_TOKEN = "metrics-token-0123456789abcdef"
ENV = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, "GATEHOUSE_METRICS_TOKEN": METRICS_TOKEN}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _config(tmp_path: Path, base_url: str, **overrides: Any) -> GatewayConfig:
    return gateway_config(
        sqlite_store(tmp_path),
        {
            "chat-eu": [openai_deployment(base_url)],
            "chat-us": [openai_deployment(base_url, jurisdiction="us")],
        },
        **overrides,
    )


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(gw: Gateway, token: str = METRICS_TOKEN) -> tuple[str, Samples]:
    response = gw.get("/metrics", token)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text, parse(response.text)


@contextmanager
def metered_gateway(tmp_path: Path, base_url: str, **overrides: Any) -> Iterator[Gateway]:
    with run_gateway(_config(tmp_path, base_url, **overrides), environ=ENV) as gw:
        yield gw


# -- access --------------------------------------------------------------------------------


def test_metrics_need_a_credential_by_default(tmp_path: Path, fake_openai: Fake) -> None:
    with metered_gateway(tmp_path, fake_openai[1]) as gw:
        missing = gw.get("/metrics")
        assert missing.status_code == 401
        assert "gatehouse_requests" not in missing.text
        assert gw.get("/metrics", "wrong-token-0123456789abcdef").status_code == 401
        assert gw.get("/metrics", METRICS_TOKEN).status_code == 200
        assert gw.get("/metrics", ADMIN_KEY).status_code == 200
        # an API key is a caller's credential, not a scraper's
        assert gw.get("/metrics", gw.create_key()).status_code == 401


def test_metrics_are_disabled_without_any_secret(tmp_path: Path, fake_openai: Fake) -> None:
    with run_gateway(_config(tmp_path, fake_openai[1]), environ={}) as gw:
        response = gw.get("/metrics", "anything-0123456789abcdefgh")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "metrics_disabled"
        assert "GATEHOUSE_METRICS_TOKEN" in response.json()["error"]["message"]


def test_a_custom_token_variable_is_honoured(tmp_path: Path, fake_openai: Fake) -> None:
    config = _config(tmp_path, fake_openai[1], telemetry={"metrics": {"token_env": "SCRAPE"}})
    with run_gateway(config, environ={"SCRAPE": METRICS_TOKEN}) as gw:
        assert gw.get("/metrics", METRICS_TOKEN).status_code == 200
        assert gw.get("/metrics").status_code == 401


def test_public_metrics_are_an_explicit_opt_in(tmp_path: Path, fake_openai: Fake) -> None:
    config = _config(
        tmp_path, fake_openai[1], telemetry={"metrics": {"allow_unauthenticated": True}}
    )
    with run_gateway(config, environ={}) as gw:
        assert gw.get("/metrics").status_code == 200


def test_a_short_metrics_token_is_refused_at_start_up(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="GATEHOUSE_METRICS_TOKEN: got a token of 5"):
        create_app(config, environ={"GATEHOUSE_METRICS_TOKEN": "short"})


# -- counters --------------------------------------------------------------------------------


def test_requests_tokens_latency_and_refusals_are_counted(
    tmp_path: Path, fake_openai: Fake
) -> None:
    fake, base_url = fake_openai
    with metered_gateway(tmp_path, base_url) as gw:
        key = gw.create_key(team="risk")
        client = gw.client(key)
        for _ in range(2):
            client.chat.completions.create(
                model="chat-eu", messages=[{"role": "user", "content": "one two"}]
            )
        list(
            client.chat.completions.create(
                model="chat-eu", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
        body = {"model": "chat-us", "messages": [{"role": "user", "content": "hi"}]}
        assert gw.post("/v1/chat/completions", key, json=body).status_code == 403
        unknown = {"model": "made-up-model-name", "messages": [{"role": "user", "content": "x"}]}
        assert gw.post("/v1/chat/completions", key, json=unknown).status_code == 404
        fake.queue(Reply(status=500), Reply(status=500))
        failing = {"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]}
        assert gw.post("/v1/chat/completions", key, json=failing).status_code == 502
        text, samples = scrape(gw)

    ok = {"model": "chat-eu", "deployment": "chat-eu#0", "team": "risk"}
    assert value(samples, "gatehouse_requests_total", status="200", **ok) == 3
    assert value(samples, "gatehouse_requests_total", status="502", **ok) == 1
    refused = {"deployment": "none", "team": "risk"}
    assert value(samples, "gatehouse_requests_total", model="chat-us", status="403", **refused) == 1
    # a model nobody configured never becomes a label value
    assert value(samples, "gatehouse_requests_total", model="other", status="404", **refused) == 1
    assert "made-up-model-name" not in text
    tokens = {"model": "chat-eu", "deployment": "chat-eu#0", "team": "risk"}
    # two non-streamed (2 in, 3 out) and one stream (1 in, 2 out)
    assert value(samples, "gatehouse_tokens_total", type="input", **tokens) == 5
    assert value(samples, "gatehouse_tokens_total", type="output", **tokens) == 8
    latency = {"model": "chat-eu", "deployment": "chat-eu#0"}
    assert value(samples, "gatehouse_request_duration_seconds_count", **latency) == 4
    assert value(samples, "gatehouse_request_duration_seconds_sum", **latency) > 0
    # overhead is measured for the non-streamed requests only
    assert value(samples, "gatehouse_gateway_overhead_seconds_count", model="chat-eu") == 3
    assert (
        value(samples, "gatehouse_upstream_errors_total", deployment="chat-eu#0", status="500") == 2
    )
    assert value(samples, "gatehouse_rejections_total", code="residency_violation") == 1
    assert value(samples, "gatehouse_rejections_total", code="model_not_found") == 1
    # an upstream failure is not a refusal by the gateway
    assert not any(
        name == "gatehouse_rejections_total" and ("code", "upstream_error") in labels
        for name, labels in samples
    )
    assert value(samples, "gatehouse_circuit_state", model="chat-eu", deployment="chat-eu#0") == 0
    assert value(samples, "process_cpu_seconds_total") >= 0
    assert key not in text


def test_the_circuit_gauge_follows_the_breaker(tmp_path: Path, fake_openai: Fake) -> None:
    fake, base_url = fake_openai
    overrides = {
        "circuit_breaker": {"failure_threshold": 2, "cooldown_seconds": 60},
        "retry": {"attempts": 2, "backoff_initial_seconds": 0.001, "backoff_max_seconds": 0.001},
    }
    with metered_gateway(tmp_path, base_url, **overrides) as gw:
        key = gw.create_key()
        labels = {"model": "chat-eu", "deployment": "chat-eu#0"}
        assert value(scrape(gw)[1], "gatehouse_circuit_state", **labels) == 0
        fake.queue(Reply(status=503), Reply(status=503))
        body = {"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]}
        assert gw.post("/v1/chat/completions", key, json=body).status_code == 502
        assert value(scrape(gw)[1], "gatehouse_circuit_state", **labels) == 2
        # the open circuit refuses at once: no upstream attempt, a 503 the gateway chose
        refused = gw.post("/v1/chat/completions", key, json=body)
        assert refused.status_code == 503
        samples = scrape(gw)[1]
        assert value(samples, "gatehouse_rejections_total", code="no_healthy_deployment") == 1
        assert (
            value(samples, "gatehouse_circuit_state", model="chat-us", deployment="chat-us#0") == 0
        )


# -- what other hooks leave on the context ----------------------------------------------------


class LedgerAndRedactionStandIn(Hook):
    """Sets ``ctx.state`` the way the ledger and redaction hooks document, or refuses."""

    name = "stand-in"

    def __init__(self) -> None:
        self.refuse: GatewayError | None = None

    async def on_admitted(self, ctx: RequestContext) -> None:
        if self.refuse is not None:
            raise self.refuse

    async def transform_request(self, ctx: RequestContext) -> None:
        ctx.state["redaction.findings"] = {"email": 2, "iban": 1}

    async def on_complete(self, ctx: RequestContext) -> None:
        ctx.state["ledger.usage"] = SimpleNamespace(cost=Decimal("0.0125"), currency="EUR")


def test_cost_redactions_and_budget_refusals_are_read_from_other_hooks(
    tmp_path: Path, fake_openai: Fake
) -> None:
    config = _config(tmp_path, fake_openai[1])
    store = Store(config.store)
    registry = CollectorRegistry()
    telemetry = build_telemetry_hook(HookServices(config, ENV, store, registry=registry))
    stand_in = LedgerAndRedactionStandIn()
    with run_gateway(config, environ=ENV, hooks=[telemetry, stand_in], store=store) as gw:
        key = gw.create_key(team="risk")
        client = gw.client(key)
        for _ in range(2):
            client.chat.completions.create(
                model="chat-eu", messages=[{"role": "user", "content": "mail me"}]
            )
        body = {"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]}
        for code in ("budget_exceeded", "rate_limit_exceeded", "budget_exceeded"):
            stand_in.refuse = GatewayError(429, "no", code=code)
            assert gw.post("/v1/chat/completions", key, json=body).status_code == 429
    samples = parse(generate_latest(registry).decode())
    cost = {"model": "chat-eu", "deployment": "chat-eu#0", "team": "risk", "currency": "EUR"}
    assert value(samples, "gatehouse_cost_total", **cost) == pytest.approx(0.025)
    assert value(samples, "gatehouse_redactions_total", entity="email") == 4
    assert value(samples, "gatehouse_redactions_total", entity="iban") == 2
    assert value(samples, "gatehouse_rejections_total", code="budget_exceeded") == 2
    assert value(samples, "gatehouse_rejections_total", code="rate_limit_exceeded") == 1
    refused = {"model": "chat-eu", "deployment": "none", "team": "risk", "status": "429"}
    assert value(samples, "gatehouse_requests_total", **refused) == 3


def test_published_events_are_counted(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/v1")
    services = HookServices(config, ENV, Store(config.store), registry=CollectorRegistry())
    build_telemetry_hook(services)
    services.events.publish("budget.threshold", {"threshold": 0.8})
    services.events.publish("budget.threshold", {"threshold": 1.0})
    samples = parse(generate_latest(services.registry).decode())
    assert value(samples, "gatehouse_events_total", type="budget.threshold") == 2


# -- the request path's caches ---------------------------------------------------------------


def test_cached_children_are_the_families_own() -> None:
    registry = CollectorRegistry()
    family = Counter("cached", "test", ["model", "status"], registry=registry)
    child = cached_children(family)
    # values are passed as they come (a status is an int): labels() turns them into strings
    assert child("chat-eu", 200) is family.labels("chat-eu", "200")
    assert child("chat-eu", 200) is child("chat-eu", 200)
    assert child.cache_info().maxsize == CACHED_CHILDREN  # type: ignore[attr-defined]


def _exposition(record: Callable[[GatewayMetrics], None]) -> str:
    registry = CollectorRegistry()
    record(GatewayMetrics(registry, ["chat-eu"]))
    # creation times and latency sums are the clock's; everything else must match
    return re.sub(r"\n\S+_(created|sum)\{[^\n]*", "", generate_latest(registry).decode())


def test_recording_is_identical_whatever_the_mapping_of_findings() -> None:
    def record(findings: Mapping[str, int]) -> Callable[[GatewayMetrics], None]:
        def recorder(metrics: GatewayMetrics) -> None:
            ctx = RequestContext("POST", "/v1/chat/completions")
            ctx.model, ctx.deployment_id, ctx.started = "chat-eu", "chat-eu#0", 0.0
            ctx.identity = Identity(kind="api_key", subject="key-1", team="risk")
            ctx.usage = {"prompt_tokens": 3, "completion_tokens": 0}
            ctx.state["ledger.usage"] = SimpleNamespace(cost=Decimal("0.5"), currency="EUR")
            ctx.state["redaction.findings"] = findings
            metrics.record(ctx, 200, None)

        return recorder

    plain = _exposition(record({"email": 2, "iban": 0}))
    assert plain == _exposition(record(MappingProxyType({"email": 2, "iban": 0})))
    samples = parse(plain)
    assert value(samples, "gatehouse_redactions_total", entity="email") == 2
    assert ("gatehouse_redactions_total", frozenset({("entity", "iban")})) not in samples
    ok = {"model": "chat-eu", "deployment": "chat-eu#0", "team": "risk"}
    assert value(samples, "gatehouse_requests_total", status="200", **ok) == 1
    assert value(samples, "gatehouse_tokens_total", type="input", **ok) == 3
    # no child is made for a count of zero
    assert value(samples, "gatehouse_tokens_total", type="output", **ok) == 0
    assert 'type="output"' not in plain
    assert value(samples, "gatehouse_cost_total", currency="EUR", **ok) == 0.5
