"""End to end: the real gateway, a fake upstream that records what it received, real clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from prometheus_client import CollectorRegistry

from gateway.context import Identity, RequestContext
from gateway.hooks import Hook, HookServices
from gateway.redaction.base import Finding
from gateway.redaction.builtin import BuiltinDetector
from gateway.redaction.config import RedactionConfig
from gateway.redaction.engine import Redactor
from gateway.redaction.hook import FINDINGS_KEY, RedactionHook, build_redaction_hook
from tests.gateway.conftest import gateway_config, openai_deployment, run_gateway, sqlite_store
from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.fakes.server import serve

DETECTOR = BuiltinDetector()
PLANTED = {
    "email": "ada.lovelace@example.com",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "phone": "+49 30 12345678",
    "ssn": "536-90-4399",
    "aws": "AKIAQWERTYUIOP234567",
}
CHAT = {
    "model": "chat",
    "messages": [
        {"role": "system", "content": f"Escalate to {PLANTED['phone']}"},
        {"role": "user", "content": f"I am {PLANTED['email']}, card {PLANTED['card']}"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "arguments": orjson.dumps({"iban": PLANTED["iban"]}).decode(),
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": f"SSN {PLANTED['ssn']}"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": f"my key {PLANTED['aws']}; write {PLANTED['email']}"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        },
    ],
}


class Capture(Hook):
    """Outermost: sees the findings the redaction hook left in ctx.state."""

    name = "capture"

    def __init__(self) -> None:
        self.findings: list[dict[str, int]] = []

    async def on_complete(self, ctx: RequestContext) -> None:
        self.findings.append(dict(ctx.state[FINDINGS_KEY]))


class PIIAnswers(FakeOpenAI):
    """An upstream whose model answers with personal data of its own, streamed in pieces
    of three characters."""

    ANSWER = "Call me on +49 30 98765432 or pay to 4111 1111 1111 1111 today."

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        out = super().completion(body)
        out["choices"][0]["message"]["content"] = self.ANSWER
        return out

    def chunks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        pieces = [self.ANSWER[i : i + 3] for i in range(0, len(self.ANSWER), 3)]
        out = [
            {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            for p in pieces
        ]
        out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        return out


@pytest.fixture
def upstream() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve(fake) as url:
        yield fake, f"{url}/v1"


def start(tmp_path: Path, base_url: str, hooks: list[Hook]) -> Any:
    config = gateway_config(
        sqlite_store(tmp_path),
        {"chat": [openai_deployment(base_url)], "embed": [openai_deployment(base_url, model="e5")]},
        retry={"attempts": 1},
    )
    return run_gateway(config, hooks=hooks)


def hook(detector: Any = DETECTOR, **config: Any) -> RedactionHook:
    return RedactionHook(
        Redactor(RedactionConfig(**config), registry=CollectorRegistry(), detector=detector)
    )


def sent_upstream(fake: FakeOpenAI) -> str:
    return orjson.dumps([r.body for r in fake.requests]).decode()


def test_no_planted_value_reaches_the_upstream(tmp_path: Path, upstream: Any) -> None:
    fake, base_url = upstream
    capture = Capture()
    with start(tmp_path, base_url, [capture, hook()]) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=CHAT)
        assert response.status_code == 200, response.text
        embed = gw.post(
            "/v1/embeddings",
            gw.create_key(),
            json={"model": "embed", "input": [PLANTED["email"], "plain text"]},
        )
        assert embed.status_code == 200, embed.text
    received = sent_upstream(fake)
    for value in PLANTED.values():
        assert value not in received
    assert "<EMAIL_ADDRESS_1>" in received and "<IBAN_CODE_1>" in received
    assert "https://example.com/a.png" in received  # the image part went through untouched
    chat_body = fake.requests[0].body
    assert chat_body["messages"][3]["content"] == "SSN <US_SSN_1>"
    assert fake.requests[1].body["input"] == ["<EMAIL_ADDRESS_1>", "plain text"]
    assert capture.findings[0] == {
        "PHONE_NUMBER": 1,
        "EMAIL_ADDRESS": 2,
        "CREDIT_CARD": 1,
        "IBAN_CODE": 1,
        "US_SSN": 1,
        "AWS_ACCESS_KEY_ID": 1,
    }
    # without reversible mode the caller sees the placeholders the model saw
    assert "<EMAIL_ADDRESS_1>" in response.json()["choices"][0]["message"]["content"]


def test_the_default_hook_redacts_without_a_config_section(tmp_path: Path, upstream: Any) -> None:
    fake, base_url = upstream
    config = gateway_config(sqlite_store(tmp_path), {"chat": [openai_deployment(base_url)]})
    services = HookServices(config=config, environ={}, store=None)  # type: ignore[arg-type]
    built = build_redaction_hook(services)
    assert built.redactor.config.mode == "redact"
    assert built.redactor.config == RedactionConfig()
    with start(tmp_path, base_url, [built]) as gw:
        gw.post("/v1/chat/completions", gw.create_key(), json=CHAT)
    assert PLANTED["card"] not in sent_upstream(fake)


def test_reversible_mode_restores_values_for_the_caller_streams_included(
    tmp_path: Path, upstream: Any
) -> None:
    fake, base_url = upstream
    body = {
        "model": "chat",
        "messages": [{"role": "user", "content": f"mail {PLANTED['email']} now"}],
    }
    with start(tmp_path, base_url, [hook(reversible=True)]) as gw:
        key = gw.create_key()
        plain = gw.client(key).chat.completions.create(**body)
        streamed = gw.client(key).chat.completions.create(**body, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert PLANTED["email"] not in sent_upstream(fake)
    assert plain.choices[0].message.content == f"echo: mail {PLANTED['email']} now"
    assert text == f"echo: mail {PLANTED['email']} now"


def test_block_mode_refuses_before_the_upstream_is_called(tmp_path: Path, upstream: Any) -> None:
    fake, base_url = upstream
    with start(tmp_path, base_url, [hook(mode="block")]) as gw:
        client = gw.client(gw.create_key())
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(**CHAT)
        clean = client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hello"}]
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == "pii_detected"
    for value in PLANTED.values():
        assert value not in error["message"]
    assert "CREDIT_CARD: 1" in error["message"]
    assert fake.calls == 1 and clean.choices[0].message.content == "echo: hello"


def test_a_key_override_beats_the_default(tmp_path: Path, upstream: Any) -> None:
    fake, base_url = upstream
    with start(tmp_path, base_url, [hook(mode="block", teams={"payments": "block"})]) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(redaction="mask"), json=CHAT)
        assert response.status_code == 200, response.text
    received = sent_upstream(fake)
    assert "**** **** **** 1111" in received and PLANTED["card"] not in received


class Broken:
    def detect(self, text: str) -> list[Finding]:
        raise MemoryError("out of memory while scanning")


def test_a_failing_detector_fails_closed_with_503(tmp_path: Path, upstream: Any) -> None:
    fake, base_url = upstream
    with start(tmp_path, base_url, [hook(detector=Broken())]) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=CHAT)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "redaction_unavailable"
    assert fake.calls == 0


def test_fail_open_passes_the_request_and_counts_it(tmp_path: Path, upstream: Any) -> None:
    fake, base_url = upstream
    registry = CollectorRegistry()
    redactor = Redactor(RedactionConfig(fail_open=True), registry=registry, detector=Broken())
    with start(tmp_path, base_url, [RedactionHook(redactor)]) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=CHAT)
    assert response.status_code == 200
    assert fake.calls == 1
    assert registry.get_sample_value("gatehouse_redaction_fail_open_total") == 1


class PlaceholderAnswers(PIIAnswers):
    """The model repeats the placeholder it was given; streamed, it is cut in pieces."""

    ANSWER = "Sure, I will write to <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2> today."


@pytest.fixture
def pii_upstream() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = PIIAnswers()
    with serve(fake) as url:
        yield fake, f"{url}/v1"


def test_placeholders_cut_across_streamed_chunks_are_restored(tmp_path: Path) -> None:
    fake = PlaceholderAnswers()
    body = {
        "model": "chat",
        "messages": [{"role": "user", "content": "write to ada@example.com and bob@example.org"}],
    }
    with serve(fake) as url, start(tmp_path, f"{url}/v1", [hook(reversible=True)]) as gw:
        chunks = list(gw.client(gw.create_key()).chat.completions.create(**body, stream=True))
    assert "ada@example.com" not in sent_upstream(fake)
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == "Sure, I will write to ada@example.com and bob@example.org today."
    assert not any("<" in p or "EMAIL" in p for p in pieces)


def test_answers_are_scanned_streams_included(tmp_path: Path, pii_upstream: Any) -> None:
    _, base_url = pii_upstream
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    with start(tmp_path, base_url, [hook(scan_responses=True)]) as gw:
        client = gw.client(gw.create_key())
        plain = client.chat.completions.create(**body)
        chunks = list(client.chat.completions.create(**body, stream=True))
    expected = "Call me on <PHONE_NUMBER_1> or pay to <CREDIT_CARD_1> today."
    assert plain.choices[0].message.content == expected
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == expected
    assert not any("4111" in p or "9876" in p for p in pieces)


async def test_answers_pass_untouched_when_nothing_is_to_scan_or_restore() -> None:
    redaction = hook(reversible=True, teams={"research": "mask"})
    ctx = RequestContext(method="POST", path="/v1/chat/completions", op="chat")
    ctx.identity = Identity(kind="api_key", subject="k1", team="research")
    ctx.body = {"model": "chat", "messages": [{"role": "user", "content": "ada@example.com"}]}
    await redaction.transform_request(ctx)
    assert ctx.body["messages"][0]["content"] == "a**@example.com"
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": "<EMAIL_"}}]}
    assert await redaction.transform_chunk(ctx, chunk) == [chunk]  # masked: nothing to restore
    assert await redaction.finish_stream(ctx) == []
    assert ctx.state["redaction.mode"] == "mask"
