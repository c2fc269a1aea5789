"""The audit hook on the real request path: one event per decision, durable before the
answer leaves, 503 when it cannot be made durable, content only for opted-in teams."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from gateway.audit import AuditConfig, AuditTrail, FileOps, Principal
from gateway.audit.hook import (
    FINDINGS_KEY,
    USAGE_KEY,
    AuditHook,
    ContentAuditHook,
    build_audit_hook,
    request_event,
)
from gateway.context import Identity, RequestContext, ResidencyDecision
from gateway.events import Event, EventBus
from gateway.hooks import HookServices
from tests.gateway.audit.support import DEPLOYMENT, config
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
ENV = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, "VLLM_API_KEY": "upstream-secret-vllm"}
MESSAGES: Any = [{"role": "user", "content": "hello there"}]


def recorded(directory: Path, *, admin: bool = False) -> list[dict[str, Any]]:
    """The request events (or, with ``admin``, the admin events) in the write-ahead
    directory, open and sealed segments."""
    events = []
    for path in sorted((directory / "wal").iterdir()):
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            if "event" in record and ("action" in record["event"]) == admin:
                events.append(record["event"])
    return events


@contextmanager
def audited_gateway(
    fake: Fake, tmp_path: Path, trail: AuditTrail, content: bool = False
) -> Iterator[Gateway]:
    _, base_url = fake
    cfg = gateway_config(
        sqlite_store(tmp_path),
        {"chat-eu": [openai_deployment(base_url, api_key_env="VLLM_API_KEY")]},
    )
    hook = ContentAuditHook(trail) if content else AuditHook(trail)
    with run_gateway(cfg, environ=ENV, hooks=[hook]) as gw:
        yield gw


@pytest.fixture
def trail_dir(tmp_path: Path, signing_key: object) -> Path:
    return tmp_path / "audit"


def chat(gw: Gateway, key: str, **extra: Any) -> Any:
    return gw.client(key).chat.completions.create(model="chat-eu", messages=MESSAGES, **extra)


def test_completed_request_is_recorded_before_the_answer(
    fake_openai: Fake, tmp_path: Path, trail_dir: Path
) -> None:
    trail = AuditTrail(config(), default_dir=trail_dir)
    with audited_gateway(fake_openai, tmp_path, trail) as gw:
        key = gw.create_key(cost_center="cc-7")
        result = chat(gw, key)
        assert result.choices[0].message.content == "echo: hello there"
        (event,) = recorded(trail_dir)  # already durable: no wait, no shutdown needed
        key_id = gw.admin("GET", "/admin/keys").json()["data"][0]["id"]
        assert event["principal"] == {
            "key_id": key_id,
            "subject": None,
            "team": "payments",
            "cost_center": "cc-7",
        }
        assert (event["model"], event["operation"], event["status"]) == ("chat-eu", "chat", 200)
        assert event["deployment"]["provider"] == "openai"
        assert event["deployment"]["jurisdiction"] == "eu"
        assert event["residency"]["decision"] == "allowed"
        assert event["tokens"] == {"input": 2, "output": 3}
        assert event["cost"] is None and event["content"] is None
        assert event["time"].endswith("Z") and event["latency_ms"] > 0

        list(chat(gw, key, stream=True))
        streamed = recorded(trail_dir)[-1]
        assert (streamed["status"], streamed["tokens"]) == (200, {"input": 2, "output": 3})


def test_answer_waits_for_the_fsync(fake_openai: Fake, tmp_path: Path, trail_dir: Path) -> None:
    released = threading.Event()
    released.set()

    def fsync(fd: int) -> None:
        released.wait(10)
        os.fsync(fd)

    trail = AuditTrail(config(), default_dir=trail_dir, ops=FileOps(fsync=fsync))
    with audited_gateway(fake_openai, tmp_path, trail) as gw:
        key = gw.create_key()
        chat(gw, key)  # the segment exists; the next fsync is the event's own
        released.clear()
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(chat, gw, key)
            time.sleep(0.3)
            assert not pending.done(), "the answer left before its audit event was durable"
            released.set()
            assert pending.result(10).choices[0].message.content == "echo: hello there"


def test_unwritable_write_ahead_file_answers_503(
    fake_openai: Fake, tmp_path: Path, trail_dir: Path
) -> None:
    broken = threading.Event()

    def write(fd: int, data: bytes) -> int:
        if broken.is_set():
            raise OSError(28, "No space left on device")
        return os.write(fd, data)

    trail = AuditTrail(config(), default_dir=trail_dir, ops=FileOps(write=write))
    with audited_gateway(fake_openai, tmp_path, trail) as gw:
        key = gw.create_key()
        broken.set()
        response = gw.post(
            "/v1/chat/completions", key, json={"model": "chat-eu", "messages": MESSAGES}
        )
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "audit_unavailable"
        assert "echo" not in response.text and str(trail_dir) not in response.text
        with (
            gw.client(key).chat.completions.create(
                model="chat-eu", messages=MESSAGES, stream=True
            ) as stream,
            pytest.raises(openai.APIError, match="audit record"),
        ):
            list(stream)
        broken.clear()
        assert chat(gw, key).choices[0].message.content == "echo: hello there"
        assert [e["status"] for e in recorded(trail_dir)] == [200]


def test_upstream_failure_is_recorded(fake_openai: Fake, tmp_path: Path, trail_dir: Path) -> None:
    fake, _ = fake_openai
    trail = AuditTrail(config(), default_dir=trail_dir)
    with audited_gateway(fake_openai, tmp_path, trail) as gw:
        key = gw.create_key()
        fake.queue(Reply(status=400))
        response = gw.post(
            "/v1/chat/completions", key, json={"model": "chat-eu", "messages": MESSAGES}
        )
        assert response.status_code == 400
        (event,) = recorded(trail_dir)
        assert (event["status"], event["error_code"]) == (400, "fake_400")


def test_content_is_stored_only_for_opted_in_teams(
    fake_openai: Fake, tmp_path: Path, trail_dir: Path
) -> None:
    trail = AuditTrail(config(store_content_teams=("research",)), default_dir=trail_dir)
    with audited_gateway(fake_openai, tmp_path, trail, content=True) as gw:
        chat(gw, gw.create_key(team="payments"))
        research = gw.create_key(team="research")
        chat(gw, research)
        list(chat(gw, research, stream=True))
        plain, stored, streamed = recorded(trail_dir)
        assert plain["content"] is None
        assert stored["content"]["prompt"]["messages"] == MESSAGES
        completion = stored["content"]["completion"]
        assert completion["choices"][0]["message"]["content"] == "echo: hello there"
        assert streamed["content"]["completion"] == {
            "choices": [{"index": 0, "text": "echo: hello there"}]
        }


def test_event_from_context_uses_what_other_hooks_left() -> None:
    class Usage:
        cost = Decimal("0.0042")
        currency = "EUR"

    ctx = RequestContext(method="POST", path="/v1/chat/completions")
    ctx.identity = Identity(kind="oidc", subject="alice@corp", team="risk", cost_center="cc-1")
    ctx.model, ctx.op = "chat-eu", "chat"
    ctx.deployment_id, ctx.deployment = "vllm-de", DEPLOYMENT
    ctx.residency = ResidencyDecision("claim", frozenset({"DE"}), ("vllm-de",), ())
    ctx.usage = {"prompt_tokens": 7, "completion_tokens": 9}
    ctx.state[FINDINGS_KEY] = {"EMAIL_ADDRESS": 2, "IBAN_CODE": 1}
    ctx.state[USAGE_KEY] = Usage()
    event = request_event(ctx, status=200)
    assert event.principal.subject == "alice@corp" and event.principal.key_id is None
    assert event.deployment is not None and event.deployment.region == "eu-central-1"
    assert event.residency is not None and event.residency.decision == "allowed"
    assert event.residency.reason == "allowed jurisdictions: DE (from the claim)"
    assert event.redaction == {"EMAIL_ADDRESS": 2, "IBAN_CODE": 1}
    assert (event.tokens.input, event.tokens.output) == (7, 9)
    assert (event.cost, event.currency) == (Decimal("0.0042"), "EUR")

    ctx.residency = ResidencyDecision("key", frozenset({"US"}), (), (("vllm-de", "DE"),))
    refused = request_event(ctx, status=403, error_code="residency_violation")
    assert refused.residency is not None and refused.residency.decision == "refused"
    assert "served in: DE" in str(refused.residency.reason)


def test_factory_keeps_the_trail_beside_the_store_without_an_audit_section(
    fake_openai: Fake, tmp_path: Path
) -> None:
    _, base_url = fake_openai
    cfg = gateway_config(sqlite_store(tmp_path), {"chat-eu": [openai_deployment(base_url)]})
    hook = build_audit_hook(HookServices(cfg, ENV, store=None))  # type: ignore[arg-type]
    assert type(hook) is AuditHook
    assert hook.trail.directory == tmp_path / "gatehouse-audit"
    assert hook.trail.config == AuditConfig()


async def test_admin_change_is_recorded(trail_dir: Path) -> None:
    hook = AuditHook(AuditTrail(config(), default_dir=trail_dir))
    await hook.startup()
    receipt = await hook.admin_change(
        actor=Principal(subject="admin"),
        action="key.revoke",
        target="key-123",
        details={"reason": "leaked"},
    )
    await hook.shutdown()
    assert receipt.seq == 1
    (event,) = recorded(trail_dir, admin=True)
    assert (event["type"], event["action"], event["target"]) == ("admin", "key.revoke", "key-123")


def test_refusals_before_admission_are_recorded(
    fake_openai: Fake, tmp_path: Path, trail_dir: Path
) -> None:
    _, base_url = fake_openai
    cfg = gateway_config(
        sqlite_store(tmp_path),
        {"chat-us": [openai_deployment(base_url, jurisdiction="us", api_key_env="VLLM_API_KEY")]},
    )
    trail = AuditTrail(config(), default_dir=trail_dir)
    with run_gateway(cfg, environ=ENV, hooks=[AuditHook(trail)]) as gw:
        key = gw.create_key()
        body = {"model": "chat-us", "messages": MESSAGES}
        assert gw.post("/v1/chat/completions", key, json=body).status_code == 403
        assert gw.post("/v1/chat/completions", "not-a-key", json=body).status_code == 401
        residency, unauthenticated = recorded(trail_dir)
    assert (residency["status"], residency["error_code"]) == (403, "residency_violation")
    assert residency["residency"]["decision"] == "refused"
    assert "served in: us" in residency["residency"]["reason"]
    assert residency["principal"]["team"] == "payments"
    assert unauthenticated["status"] == 401
    assert unauthenticated["principal"] == {
        "key_id": None,
        "subject": None,
        "team": None,
        "cost_center": None,
    }


async def test_factory_publishes_ship_failures_on_the_event_bus(
    fake_openai: Fake, tmp_path: Path, signing_key: object
) -> None:
    _, base_url = fake_openai
    directory = tmp_path / "gatehouse-audit"
    directory.mkdir()
    (directory / "trail.json").write_bytes(orjson.dumps({"trail": "fixedtrail"}))
    foreign = directory / "archive" / "fixedtrail" / "000000000001.jsonl"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"not ours\n")
    bus = EventBus()
    published: list[Event] = []
    bus.subscribe(published.append)
    cfg = gateway_config(sqlite_store(tmp_path), {"chat-eu": [openai_deployment(base_url)]})
    hook = build_audit_hook(HookServices(cfg, ENV, store=None, events=bus))  # type: ignore[arg-type]
    await hook.startup()
    await hook.admin_change(actor=Principal(subject="admin"), action="key.create", target="k1")
    await hook.shutdown()
    (event,) = [e for e in published if e.type == "audit.ship_failed"]
    assert event.payload["conflict"] is True
    assert event.payload["object_name"] == "fixedtrail/000000000001.jsonl"
    assert foreign.read_bytes() == b"not ours\n"
