"""Rate limits through the real gateway app: headers on every answer, Redis outages."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import ADMIN_KEY, Gateway, sqlite_store
from tests.gateway.ledger.gateway_support import MAX_TOKENS, PROMPT, ledger_gateway
from tests.gateway.limits.redis_support import closed_port_url

BODY: dict[str, Any] = {"model": "chat-eu", "messages": PROMPT, "max_tokens": MAX_TOKENS}
RATE_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
)


def chat(gw: Gateway, key: str, **extra: Any) -> httpx.Response:
    return gw.post("/v1/chat/completions", key, json={**BODY, **extra})


def scrape(gw: Gateway, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of one metric from GET /metrics, parsed with prometheus_client's parser."""
    text = gw.http.get(f"{gw.url}/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"}).text
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_rate_limit_headers_on_200_streamed_200_and_429(tmp_path: Path) -> None:
    limits = {"default_key": {"rpm": 2, "tpm": 1000}}
    with ledger_gateway(sqlite_store(tmp_path), limits=limits) as (gw, fake):
        key = gw.create_key()
        first = chat(gw, key)
        assert first.status_code == 200
        assert {h: first.headers[h] for h in RATE_HEADERS[:3]} == {
            "x-ratelimit-limit-requests": "2",
            "x-ratelimit-remaining-requests": "1",
            "x-ratelimit-reset-requests": "30s",
        }
        # the token estimate (2 prompt + 8 output) was charged before the answer
        assert first.headers["x-ratelimit-remaining-tokens"] == "990"
        streamed = chat(gw, key, stream=True)
        assert streamed.status_code == 200
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert streamed.headers["x-ratelimit-remaining-requests"] == "0"
        assert all(h in streamed.headers for h in RATE_HEADERS)
        refused = chat(gw, key)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
        assert int(refused.headers["retry-after"]) in range(29, 31)
        assert all(h in refused.headers for h in RATE_HEADERS)
        assert fake.calls == 2


def test_the_openai_sdk_sees_the_headers(tmp_path: Path) -> None:
    with ledger_gateway(sqlite_store(tmp_path), limits={"default_key": {"rpm": 5}}) as (gw, _):
        raw = gw.client(gw.create_key()).chat.completions.with_raw_response.create(
            model="chat-eu", messages=PROMPT
        )
        assert raw.headers["x-ratelimit-limit-requests"] == "5"
        assert raw.headers["x-ratelimit-remaining-requests"] == "4"
        assert "x-ratelimit-limit-tokens" not in raw.headers  # tokens are not limited


REDIS_DOWN = {"GATEHOUSE_REDIS_URL": closed_port_url()}
"""a Redis URL on a closed loopback port: the shared Redis is never stopped"""


def redis_down(**policy: Any) -> dict[str, Any]:
    return {"backend": "redis", "store_timeout_seconds": 0.5, **policy}


def test_limits_fail_closed_when_redis_is_unreachable(tmp_path: Path) -> None:
    limits = redis_down(default_key={"rpm": 100})
    with ledger_gateway(sqlite_store(tmp_path), environ=REDIS_DOWN, limits=limits) as (gw, fake):
        response = chat(gw, gw.create_key())
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "rate_limiter_unavailable"
        assert "limits.on_store_error is 'fail_closed'" in error["message"]
        assert fake.calls == 0


def test_limits_fail_open_is_served_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = redis_down(on_store_error="fail_open", default_key={"rpm": 1})
    with ledger_gateway(sqlite_store(tmp_path), environ=REDIS_DOWN, limits=limits) as (gw, fake):
        key = gw.create_key()
        for _ in range(3):  # over the rpm of 1: nothing can be checked, so all are served
            with caplog.at_level(logging.WARNING, logger="gatehouse.limits"):
                assert chat(gw, key).status_code == 200
        assert fake.calls == 3
        opened = scrape(gw, "gatehouse_rate_limit_fail_open_total")
        assert opened[(("operation", "admit"),)] == 3
    warnings = [r for r in caplog.records if "failing open on admit" in r.getMessage()]
    assert len(warnings) == 3
