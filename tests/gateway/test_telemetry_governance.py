"""Telemetry and webhooks with the real governance hooks in the chain: rate-limit and budget
refusals are counted by error code, the settled cost is read from the ledger, and the
ledger's 100% threshold report reaches a webhook receiver."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import (
    ADMIN_KEY,
    gateway_config,
    openai_deployment,
    run_gateway,
    sqlite_store,
)
from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.test_webhooks import SECRET, receiving, recomputed_signature_is_valid

Fake = tuple[FakeOpenAI, str]


def test_limits_budgets_and_cost_are_visible(tmp_path: Path, fake_openai: Fake) -> None:
    price = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
    with receiving() as (receiver, hook_url):
        config = gateway_config(
            sqlite_store(tmp_path),
            {"chat-eu": [openai_deployment(fake_openai[1], price=price)]},
            limits={"default_key": {"rpm": 1}},
            budgets={"teams": {"frozen": {"amount": 0, "period": "monthly"}}},
            webhooks=[{"url": hook_url, "secret_env": "HOOK_SECRET"}],
        )
        env = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, "HOOK_SECRET": SECRET}
        body = {"model": "chat-eu", "messages": [{"role": "user", "content": "one two"}]}
        with run_gateway(config, environ=env) as gw:
            paying = gw.create_key(team="risk")
            assert gw.post("/v1/chat/completions", paying, json=body).status_code == 200
            limited = gw.post("/v1/chat/completions", paying, json=body)
            assert limited.json()["error"]["code"] == "rate_limit_exceeded"
            broke = gw.post("/v1/chat/completions", gw.create_key(team="frozen"), json=body)
            assert broke.json()["error"]["code"] == "budget_exceeded"
            deadline = time.monotonic() + 5
            while receiver.count() < 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            scraped = gw.get("/metrics", ADMIN_KEY).text
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    assert (
        samples[("gatehouse_rejections_total", frozenset({("code", "rate_limit_exceeded")}))] == 1
    )
    assert samples[("gatehouse_rejections_total", frozenset({("code", "budget_exceeded")}))] == 1
    cost = frozenset(
        {("model", "chat-eu"), ("deployment", "chat-eu#0"), ("team", "risk"), ("currency", "USD")}
    )
    # 2 prompt tokens at 1 per million, 3 completion tokens at 2 per million
    assert samples[("gatehouse_cost_total", cost)] == 8e-06
    # the limits' own metric is exported on the same registry
    assert "gatehouse_rate_limit_fail_open_total" in scraped
    (request,) = receiver.requests
    assert request.headers["x-gatehouse-event"] == "budget.threshold"
    assert recomputed_signature_is_valid(SECRET, request)
    data = orjson.loads(request.body)["data"]
    assert (data["scope"], data["subject"], data["threshold"], data["reason"]) == (
        "team",
        "frozen",
        1.0,
        "refused",
    )
