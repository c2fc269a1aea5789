"""Webhooks wired into a running gateway: residency refusals seen through the openai SDK,
circuits opening, events other hooks publish on the bus, and shutdown keeping what is
undelivered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.store import Store
from gateway.webhooks.dead_letters import DeadLetter, DeadLetterStore
from tests.gateway.conftest import (
    ADMIN_KEY,
    Gateway,
    gateway_config,
    openai_deployment,
    run_gateway,
    sqlite_store,
)
from tests.gateway.fakes.openai import FakeOpenAI, Reply
from tests.gateway.test_webhooks import (
    SECRET,
    THRESHOLD,
    Received,
    Receiver,
    receiving,
    recomputed_signature_is_valid,
)

Fake = tuple[FakeOpenAI, str]
ENV = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, "HOOK_SECRET": SECRET, "VLLM_KEY": "upstream-key"}


def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def events(receiver: Receiver, kind: str) -> list[tuple[Received, dict[str, Any]]]:
    with receiver.lock:
        found = [r for r in receiver.requests if r.headers["x-gatehouse-event"] == kind]
    return [(r, orjson.loads(r.body)["data"]) for r in found]


@contextmanager
def notifying_gateway(
    tmp_path: Path, base_url: str, hook_url: str, **overrides: Any
) -> Iterator[Gateway]:
    hook = {
        "url": hook_url,
        "secret_env": "HOOK_SECRET",
        "backoff_initial_seconds": 0.001,
        "backoff_max_seconds": 0.002,
        **overrides.pop("hook", {}),
    }
    config = gateway_config(
        sqlite_store(tmp_path),
        {
            "chat-eu": [
                openai_deployment(base_url, region="swedencentral", api_key_env="VLLM_KEY")
            ],
            "chat-de": [openai_deployment(base_url, jurisdiction="de")],
        },
        webhooks=[hook],
        **overrides,
    )
    with run_gateway(config, environ=ENV) as gw:
        yield gw


def test_residency_refusals_are_reported_once_per_caller_and_model(
    tmp_path: Path, fake_openai: Fake
) -> None:
    fake, base_url = fake_openai
    with receiving() as (receiver, url), notifying_gateway(tmp_path, base_url, url) as gw:
        response = gw.admin("POST", "/admin/keys", json={"team": "claims", "jurisdictions": ["us"]})
        key, key_id = response.json()["key"], response.json()["id"]
        client = gw.client(key)
        for _ in range(3):
            with pytest.raises(openai.PermissionDeniedError) as refused:
                client.chat.completions.create(
                    model="chat-eu", messages=[{"role": "user", "content": "hi"}]
                )
            assert refused.value.code == "residency_violation"
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(
                model="chat-de", messages=[{"role": "user", "content": "hi"}]
            )
        wait_until(lambda: len(events(receiver, "residency.refused")) == 2)
        time.sleep(0.05)  # nothing more arrives: the repeats were held back
        reported = events(receiver, "residency.refused")
        metrics = gw.get("/metrics", ADMIN_KEY).text
    assert len(reported) == 2
    (request, first), (_, second) = reported
    assert recomputed_signature_is_valid(SECRET, request)
    assert first["model"] == "chat-eu"
    assert first["team"] == "claims"
    assert first["key_id"] == key_id
    assert first["allowed"] == ["us"]
    assert first["served_in"] == ["eu"]
    assert first["source"] == "key"
    assert first["suppressed"] == 0
    assert first["request_id"]
    assert second["model"] == "chat-de"
    assert fake.calls == 0
    counted = {
        s.labels["type"]: s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "gatehouse_events_total"
    }
    assert counted == {"residency.refused": 2.0}


def test_an_opening_circuit_is_reported(tmp_path: Path, fake_openai: Fake) -> None:
    fake, base_url = fake_openai
    overrides = {
        "circuit_breaker": {"failure_threshold": 1, "cooldown_seconds": 0.1},
        "retry": {"attempts": 1},
    }
    body = {"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]}
    with (
        receiving() as (receiver, url),
        notifying_gateway(tmp_path, base_url, url, **overrides) as gw,
    ):
        key = gw.create_key()
        fake.queue(Reply(status=503))
        assert gw.post("/v1/chat/completions", key, json=body).status_code == 502
        wait_until(lambda: len(events(receiver, "circuit.opened")) == 1)
        # after the cool-down the probe fails: the circuit re-opens, which is not news
        time.sleep(0.12)
        fake.queue(Reply(status=503))
        assert gw.post("/v1/chat/completions", key, json=body).status_code == 502
        # the next probe succeeds and closes it; a new failure opens it again: reported
        time.sleep(0.12)
        assert gw.post("/v1/chat/completions", key, json=body).status_code == 200
        fake.queue(Reply(status=503))
        assert gw.post("/v1/chat/completions", key, json=body).status_code == 502
        wait_until(lambda: len(events(receiver, "circuit.opened")) == 2)
        time.sleep(0.05)
        reported = events(receiver, "circuit.opened")
    assert len(reported) == 2
    _, payload = reported[0]
    assert payload == {
        "deployment": "chat-eu#0",
        "model": "chat-eu",
        "provider": "openai",
        "region": "swedencentral",
        "jurisdiction": "eu",
        "failure_threshold": 1,
        "cooldown_seconds": 0.1,
    }


def test_events_other_hooks_publish_are_delivered(tmp_path: Path, fake_openai: Fake) -> None:
    with receiving() as (receiver, url), notifying_gateway(tmp_path, fake_openai[1], url) as gw:
        threshold = gw.app.events.publish("budget.threshold", THRESHOLD)
        failure = {
            "trail": "t1",
            "segment": 4,
            "object_name": "t1/000004.seg",
            "sink": "s3://audit",
            "error": "EndpointConnectionError: unreachable",
            "attempt": 3,
            "conflict": False,
        }
        gw.app.events.publish("audit.ship_failed", failure)
        wait_until(lambda: receiver.count() == 2)
    ((request, data),) = events(receiver, "budget.threshold")
    assert request.headers["x-gatehouse-delivery"] == threshold.id
    assert recomputed_signature_is_valid(SECRET, request)
    assert data == THRESHOLD
    ((_, shipped),) = events(receiver, "audit.ship_failed")
    assert shipped == failure


def test_shutdown_keeps_undelivered_events_as_dead_letters(
    tmp_path: Path, fake_openai: Fake
) -> None:
    slow = {"backoff_initial_seconds": 30.0, "backoff_max_seconds": 60.0}
    with receiving(default=503) as (receiver, url):
        with notifying_gateway(tmp_path, fake_openai[1], url, hook=slow) as gw:
            event = gw.app.events.publish("circuit.opened", {"deployment": "chat-eu#0"})
            wait_until(lambda: receiver.count() == 1)
            started = time.monotonic()
        assert time.monotonic() - started < 8.0  # the grace period, not the back-off

    async def read() -> list[DeadLetter]:
        store = Store(sqlite_store(tmp_path))
        try:
            return await DeadLetterStore(store.engine).recent()
        finally:
            await store.aclose()

    (letter,) = asyncio.run(read())
    assert letter.event_id == event.id
    assert letter.last_status == 503
    assert letter.attempts == 1
