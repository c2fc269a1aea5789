"""Webhook delivery against a loopback receiver: signatures the receiver recomputes, retries
with back-off, dead letters in the store, bounded queues, shutdown, ServiceNow bodies,
configuration defaults and the migration."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from prometheus_client import CollectorRegistry

from gateway.app import create_app
from gateway.config import ConfigError, parse_config
from gateway.events import Event
from gateway.store import Store
from gateway.store.migrate import SCRIPT_LOCATION
from gateway.webhooks.config import WebhookEndpoint
from gateway.webhooks.dead_letters import DeadLetterStore
from gateway.webhooks.delivery import SHUTDOWN, Webhooks
from gateway.webhooks.formats import servicenow_incident
from gateway.webhooks.signing import sign, verify
from tests.gateway.conftest import ADMIN_KEY, openai_deployment
from tests.gateway.fakes.server import free_port, serve

SECRET = "webhook-secret-0123456789abcdef"
THRESHOLD = {
    "budget_id": "team:risk:monthly",
    "scope": "team",
    "subject": "risk",
    "period": "monthly",
    "amount": "50",
    "spent": "40.5",
    "currency": "EUR",
    "threshold": 0.8,
    "reason": "spend",
    "period_start": "2026-11-01T00:00:00+00:00",
    "resets_at": "2026-12-01T00:00:00+00:00",
}


# -- a loopback receiver ---------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers with the queued statuses (then ``default``) and records every request."""

    statuses: deque[int] = field(default_factory=deque)
    default: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        with self.lock:
            self.requests.append(
                Received(scope["path"], {k.decode(): v.decode() for k, v in scope["headers"]}, body)
            )
            status = self.statuses.popleft() if self.statuses else self.default
        headers = [(k.encode(), v.encode()) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"result": {}}'})

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@contextmanager
def receiving(*statuses: int, default: int = 200, **headers: str) -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(deque(statuses), default, dict(headers))
    with serve(receiver) as url:
        yield receiver, url


def recomputed_signature_is_valid(secret: str, request: Received) -> bool:
    """What a receiver does, written independently of the gateway's signing module."""
    timestamp = request.headers["x-gatehouse-timestamp"]
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    expected = "sha256=" + mac.hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 60
    return fresh and hmac.compare_digest(expected, request.headers["x-gatehouse-signature"])


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def buried(store: DeadLetterStore, count: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while len(await store.recent()) < count:
        assert time.monotonic() < deadline, "dead letters not written in time"
        await asyncio.sleep(0.01)


def endpoint(url: str, **overrides: Any) -> WebhookEndpoint:
    fields: dict[str, Any] = {
        "url": url,
        "secret_env": "HOOK_SECRET",
        "backoff_initial_seconds": 0.001,
        "backoff_max_seconds": 0.002,
        **overrides,
    }
    return WebhookEndpoint.model_validate(fields)


@pytest.fixture
async def dead_letters(tmp_path: Path) -> AsyncIterator[DeadLetterStore]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    await store.migrate()
    yield DeadLetterStore(store.engine)
    await store.aclose()


@asynccontextmanager
async def dispatching(
    dead_letters: DeadLetterStore, *endpoints: WebhookEndpoint, **kwargs: Any
) -> AsyncIterator[Webhooks]:
    env = {"HOOK_SECRET": SECRET, "SNOW_AUTH": "Basic c3ZjOnB3"}
    webhooks = Webhooks(endpoints, env, dead_letters, **kwargs)
    await webhooks.start()
    try:
        yield webhooks
    finally:
        await webhooks.aclose()


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


# -- signing ---------------------------------------------------------------------------------


def test_verify_accepts_only_a_fresh_untampered_signature() -> None:
    body = b'{"a": 1}'
    now = 1_800_000_000.0
    headers = {"x-gatehouse-timestamp": "1800000000", "x-gatehouse-signature": ""}
    headers["x-gatehouse-signature"] = sign(SECRET.encode(), "1800000000", body)
    assert verify(SECRET.encode(), headers, body, now=now)
    assert not verify(SECRET.encode(), headers, b'{"a": 2}', now=now)
    assert not verify(b"another-secret-0123456789abcdef", headers, body, now=now)
    assert not verify(SECRET.encode(), headers, body, now=now + 301)
    assert not verify(SECRET.encode(), {**headers, "x-gatehouse-timestamp": "1800000001"}, body)
    assert not verify(SECRET.encode(), {}, body, now=now)


# -- delivery --------------------------------------------------------------------------------


async def test_json_delivery_is_signed_and_the_receiver_can_verify_it(
    dead_letters: DeadLetterStore,
) -> None:
    with receiving() as (receiver, url):
        async with dispatching(dead_letters, endpoint(url + "/hooks")) as webhooks:
            event = Event("budget.threshold", THRESHOLD)
            webhooks.notify(event)
            await eventually(lambda: receiver.count() == 1)
    (request,) = receiver.requests
    assert request.path == "/hooks"
    assert recomputed_signature_is_valid(SECRET, request)
    assert request.headers["x-gatehouse-event"] == "budget.threshold"
    assert request.headers["x-gatehouse-delivery"] == event.id
    assert request.headers["content-type"] == "application/json"
    envelope = orjson.loads(request.body)
    assert envelope["id"] == event.id
    assert envelope["type"] == "budget.threshold"
    assert envelope["source"] == "gatehouse"
    assert envelope["time"].endswith("Z")
    assert envelope["data"] == THRESHOLD
    assert await dead_letters.recent() == []


async def test_a_failing_receiver_is_retried_until_it_accepts(
    dead_letters: DeadLetterStore,
) -> None:
    registry = CollectorRegistry()
    with receiving(503, 502, default=200) as (receiver, url):
        async with dispatching(dead_letters, endpoint(url), registry=registry) as webhooks:
            event = Event("circuit.opened", {"deployment": "chat-eu#0"})
            webhooks.notify(event)
            await eventually(lambda: receiver.count() == 3)
            await eventually(
                lambda: (
                    sample(
                        registry,
                        "gatehouse_webhook_deliveries_total",
                        endpoint="0",
                        event="circuit.opened",
                        outcome="delivered",
                    )
                    == 1
                )
            )
    assert len(receiver.requests) == 3
    # the same delivery id on every attempt, each one signed afresh and valid
    assert {r.headers["x-gatehouse-delivery"] for r in receiver.requests} == {event.id}
    assert all(recomputed_signature_is_valid(SECRET, r) for r in receiver.requests)
    assert len({r.body for r in receiver.requests}) == 1
    retries = sample(
        registry, "gatehouse_webhook_retries_total", endpoint="0", event="circuit.opened"
    )
    assert retries == 2
    assert await dead_letters.recent() == []


async def test_retry_after_is_honoured_within_the_cap(dead_letters: DeadLetterStore) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with receiving(429, 503, 503, default=200, **{"retry-after": "3"}) as (receiver, url):
        config = endpoint(url, backoff_initial_seconds=1.0, backoff_max_seconds=8.0)
        async with dispatching(dead_letters, config, sleep=sleep) as webhooks:
            webhooks.notify(Event("circuit.opened", {}))
            await eventually(lambda: receiver.count() == 4)
    assert slept == [3.0, 3.0, 3.0]


def test_back_off_grows_exponentially_with_jitter(tmp_path: Path) -> None:
    config = endpoint(
        "https://hooks.example.com", backoff_initial_seconds=1.0, backoff_max_seconds=60.0
    )
    webhooks = Webhooks([config], {"HOOK_SECRET": SECRET}, DeadLetterStore(None))  # type: ignore[arg-type]
    (target,) = webhooks.endpoints
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (8, 60.0), (20, 60.0)]:
        delays = {target.delay(attempt, None) for _ in range(50)}
        assert all(step / 2 <= d <= step for d in delays)
        assert len(delays) > 1  # jittered
    assert target.delay(2, 5.0) == 5.0  # the receiver's Retry-After
    assert 1.0 <= target.delay(2, 120.0) <= 2.0  # a Retry-After above the cap is not


async def test_dead_letter_after_max_attempts(dead_letters: DeadLetterStore) -> None:
    registry = CollectorRegistry()
    with receiving(default=500) as (receiver, url):
        config = endpoint(url, max_attempts=3)
        async with dispatching(dead_letters, config, registry=registry) as webhooks:
            event = Event("budget.threshold", THRESHOLD)
            webhooks.notify(event)
            await eventually(
                lambda: (
                    sample(
                        registry,
                        "gatehouse_webhook_deliveries_total",
                        endpoint="0",
                        event="budget.threshold",
                        outcome="dead_lettered",
                    )
                    == 1
                )
            )
    assert receiver.count() == 3
    (letter,) = await dead_letters.recent()
    assert letter.event_id == event.id
    assert letter.event_type == "budget.threshold"
    assert letter.url == url
    assert letter.format == "json"
    assert letter.attempts == 3
    assert letter.last_status == 500
    assert letter.last_error.startswith("HTTP 500")
    assert letter.body.encode() == receiver.requests[-1].body
    assert letter.created_at.timestamp() == pytest.approx(event.time, abs=0.001)
    assert letter.failed_at >= letter.created_at


async def test_an_answer_retrying_cannot_fix_is_dead_lettered_at_once(
    dead_letters: DeadLetterStore,
) -> None:
    with receiving(default=401) as (receiver, url):
        async with dispatching(dead_letters, endpoint(url)) as webhooks:
            webhooks.notify(Event("circuit.opened", {}))
            await eventually(lambda: receiver.count() == 1)
            await asyncio.sleep(0.05)
    assert receiver.count() == 1
    (letter,) = await dead_letters.recent()
    assert (letter.attempts, letter.last_status) == (1, 401)


async def test_an_unreachable_receiver_is_retried_then_dead_lettered(
    dead_letters: DeadLetterStore,
) -> None:
    config = endpoint(f"http://127.0.0.1:{free_port()}/hooks", max_attempts=2)
    async with dispatching(dead_letters, config) as webhooks:
        webhooks.notify(Event("circuit.opened", {}))
        await buried(dead_letters, 1)
    (letter,) = await dead_letters.recent()
    assert letter.attempts == 2
    assert letter.last_status is None
    assert "ConnectError" in letter.last_error


async def test_each_endpoint_gets_only_the_events_it_subscribed(
    dead_letters: DeadLetterStore,
) -> None:
    with receiving() as (budgets, budgets_url), receiving() as (circuits, circuits_url):
        async with dispatching(
            dead_letters,
            endpoint(budgets_url, events=["budget.threshold"]),
            endpoint(circuits_url, events=["circuit.opened", "audit.ship_failed"]),
        ) as webhooks:
            webhooks.notify(Event("budget.threshold", THRESHOLD))
            webhooks.notify(Event("circuit.opened", {}))
            webhooks.notify(Event("audit.ship_failed", {"segment": 3}))
            await eventually(lambda: budgets.count() == 1 and circuits.count() == 2)
    assert [r.headers["x-gatehouse-event"] for r in budgets.requests] == ["budget.threshold"]
    assert sorted(r.headers["x-gatehouse-event"] for r in circuits.requests) == [
        "audit.ship_failed",
        "circuit.opened",
    ]


async def test_a_full_queue_drops_and_counts_and_shutdown_keeps_the_rest(
    dead_letters: DeadLetterStore,
) -> None:
    registry = CollectorRegistry()
    config = endpoint("https://hooks.example.com", queue_size=2)
    webhooks = Webhooks(
        [config], {"HOOK_SECRET": SECRET}, dead_letters, registry=registry, grace_seconds=0.01
    )
    # not started: nothing is sent, the queue fills up
    for n in range(5):
        webhooks.notify(Event("circuit.opened", {"n": n}))
    labels = {"endpoint": "0", "event": "circuit.opened"}
    assert sample(registry, "gatehouse_webhook_deliveries_total", outcome="dropped", **labels) == 3
    await webhooks.aclose()
    letters = await dead_letters.recent()
    assert sorted(orjson.loads(letter.body)["data"]["n"] for letter in letters) == [0, 1]
    assert all(letter.last_error == SHUTDOWN and letter.attempts == 0 for letter in letters)


async def test_shutdown_dead_letters_a_delivery_waiting_to_retry(
    dead_letters: DeadLetterStore,
) -> None:
    with receiving(default=503) as (receiver, url):
        config = endpoint(url, backoff_initial_seconds=30.0, backoff_max_seconds=60.0)
        webhooks = Webhooks([config], {"HOOK_SECRET": SECRET}, dead_letters, grace_seconds=0.05)
        await webhooks.start()
        webhooks.notify(Event("audit.ship_failed", {"segment": 9}))
        await eventually(lambda: receiver.count() == 1)
        started = time.monotonic()
        await webhooks.aclose()
        assert time.monotonic() - started < 2.0
    (letter,) = await dead_letters.recent()
    assert letter.attempts == 1
    assert letter.last_status == 503


async def test_a_failing_dead_letter_store_is_logged_with_the_body(
    dead_letters: DeadLetterStore, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(DeadLetterStore):
        async def add(self, letter: Any) -> None:
            raise OSError("disk full")

    registry = CollectorRegistry()
    with receiving(default=400) as (_receiver, url):
        async with dispatching(Broken(None), endpoint(url), registry=registry) as webhooks:  # type: ignore[arg-type]
            webhooks.notify(Event("circuit.opened", {"marker": "find-me"}))
            await eventually(
                lambda: (
                    sample(
                        registry,
                        "gatehouse_webhook_deliveries_total",
                        endpoint="0",
                        event="circuit.opened",
                        outcome="lost",
                    )
                    == 1
                )
            )
    assert any("find-me" in r.getMessage() for r in caplog.records)


# -- ServiceNow ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "payload", "urgency", "impact", "summary"),
    [
        ("budget.threshold", THRESHOLD, "3", "3", "team budget 'risk' reached 80% of its monthly"),
        (
            "budget.threshold",
            {**THRESHOLD, "threshold": 1.0},
            "2",
            "2",
            "team budget 'risk' reached 100%",
        ),
        (
            "residency.refused",
            {"model": "chat-eu", "team": "risk", "key_id": "k1"},
            "2",
            "3",
            "residency refusal: model 'chat-eu' requested by team 'risk'",
        ),
        (
            "circuit.opened",
            {"deployment": "chat-eu#0", "provider": "openai", "region": "swedencentral"},
            "2",
            "2",
            "circuit opened for deployment chat-eu#0 (openai, swedencentral)",
        ),
        (
            "audit.ship_failed",
            {"sink": "s3://audit/gw", "segment": 7, "conflict": False},
            "2",
            "2",
            "audit shipping to s3://audit/gw failing (segment 7)",
        ),
        (
            "audit.ship_failed",
            {"sink": "s3://audit/gw", "segment": 7, "conflict": True},
            "1",
            "1",
            "(segment 7, CONFLICT)",
        ),
        ("something.new", {"x": 1}, "3", "3", "something.new"),
    ],
)
def test_servicenow_incident_mapping(
    event_type: str, payload: dict[str, Any], urgency: str, impact: str, summary: str
) -> None:
    config = endpoint(
        "https://example.service-now.com/api/now/table/incident",
        format="servicenow",
        secret_env=None,
        authorization_env="SNOW_AUTH",
        servicenow={"assignment_group": "AI Platform", "subcategory": "llm-gateway"},
    )
    event = Event(event_type, payload)
    incident = servicenow_incident(event, config.servicenow)
    assert incident["short_description"].startswith("Gatehouse: ")
    assert summary in incident["short_description"]
    assert (incident["urgency"], incident["impact"]) == (urgency, impact)
    assert incident["category"] == "software"
    assert incident["subcategory"] == "llm-gateway"
    assert incident["assignment_group"] == "AI Platform"
    assert "caller_id" not in incident
    assert incident["correlation_id"] == event.id
    assert incident["correlation_display"] == "Gatehouse"
    assert f"event_id: {event.id}" in incident["description"]
    for key in payload:
        assert f"\n{key}: " in incident["description"]


def test_servicenow_short_description_is_capped() -> None:
    options = endpoint(
        "https://x.service-now.com", format="servicenow", secret_env=None, authorization_env="A"
    ).servicenow
    incident = servicenow_incident(
        Event("residency.refused", {"model": "m" * 300, "team": "t"}), options
    )
    assert len(incident["short_description"]) == 160
    assert incident["short_description"].endswith("...")


async def test_servicenow_delivery_posts_an_incident_with_its_credential(
    dead_letters: DeadLetterStore,
) -> None:
    with receiving(default=201) as (receiver, url):
        config = endpoint(
            url + "/api/now/table/incident",
            format="servicenow",
            secret_env=None,
            authorization_env="SNOW_AUTH",
        )
        async with dispatching(dead_letters, config) as webhooks:
            webhooks.notify(Event("budget.threshold", {**THRESHOLD, "threshold": 1.0}))
            await eventually(lambda: receiver.count() == 1)
    (request,) = receiver.requests
    assert request.path == "/api/now/table/incident"
    assert request.headers["authorization"] == "Basic c3ZjOnB3"
    assert "x-gatehouse-signature" not in request.headers
    incident = orjson.loads(request.body)
    assert incident["urgency"] == "2" and incident["impact"] == "2"
    assert "100%" in incident["short_description"]
    assert await dead_letters.recent() == []


# -- configuration ---------------------------------------------------------------------------


def _gateway_data(*webhooks: dict[str, Any]) -> dict[str, Any]:
    return {
        "models": [{"name": "m", "deployments": [openai_deployment("http://127.0.0.1:9/v1")]}],
        "webhooks": list(webhooks),
    }


@pytest.mark.parametrize(
    ("hook", "problem"),
    [
        ({"url": "http://hooks.example.com/x", "secret_env": "S"}, "https URL for a webhook"),
        ({"url": "ftp://hooks.example.com/x", "secret_env": "S"}, "https URL for a webhook"),
        ({"url": "https://hooks.example.com/x"}, "secret_env"),
        ({"url": "https://x.service-now.com", "format": "servicenow"}, "authorization_env"),
        ({"url": "https://h.example.com", "secret_env": "S", "events": ["nope"]}, "events[0]"),
        (
            {"url": "https://h.example.com", "secret_env": "S", "events": ["circuit.opened"] * 2},
            "each event at most once",
        ),
        ({"url": "https://h.example.com", "secret_env": "1X"}, "environment variable"),
        ({"url": "https://h.example.com", "secret_env": "S", "format": "xml"}, "format"),
    ],
)
def test_insecure_or_incomplete_webhooks_are_refused(hook: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match="webhooks\\[0\\]") as raised:
        parse_config(_gateway_data(hook))
    assert problem in str(raised.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/h", "http://localhost/h", "http://[::1]/h"])
def test_plain_http_is_accepted_on_loopback(url: str) -> None:
    config = parse_config(_gateway_data({"url": url, "secret_env": "S"}))
    (hook,) = config.webhooks
    assert hook.events == [
        "budget.threshold",
        "residency.refused",
        "circuit.opened",
        "audit.ship_failed",
    ]
    assert hook.format == "json"


def test_missing_or_short_secrets_fail_at_start_up(tmp_path: Path) -> None:
    data = _gateway_data({"url": "https://h.example.com", "secret_env": "HOOK_SECRET"})
    data["store"] = f"sqlite:///{tmp_path / 'g.db'}"
    config = parse_config(data)
    with pytest.raises(ConfigError, match=r"webhooks\[0\]\.secret_env: .*HOOK_SECRET is unset"):
        create_app(config, environ={"GATEHOUSE_ADMIN_KEY": ADMIN_KEY})
    with pytest.raises(ConfigError, match="holds 5 characters; expected at least 24"):
        create_app(config, environ={"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, "HOOK_SECRET": "short"})


# -- migrations ------------------------------------------------------------------------------


def test_the_migrations_have_exactly_one_head() -> None:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_dead_letters_round_trip_on_both_stores(store_url: str) -> None:
    store = Store(store_url)
    try:
        await store.migrate()
        letters = DeadLetterStore(store.engine)
        with receiving(default=422) as (receiver, url):
            async with dispatching(letters, endpoint(url)) as webhooks:
                for n in range(3):
                    webhooks.notify(Event("budget.threshold", {"n": n}))
                await eventually(lambda: receiver.count() == 3)
                await buried(letters, 3)
        found = await letters.recent(limit=2)
        assert len(found) == 2
        assert all(letter.last_status == 422 for letter in found)
        assert found[0].failed_at >= found[1].failed_at
        assert found[0].failed_at.tzinfo is not None
    finally:
        await store.aclose()
