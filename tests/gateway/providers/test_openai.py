"""The OpenAI-compatible adapter, the SSE decoder and the shared error helpers."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from email.utils import format_datetime

import orjson
import pytest

from gateway.config import ConfigError, OpenAIDeployment
from gateway.providers import create_adapter
from gateway.providers.base import UpstreamError
from gateway.providers.common import is_retryable, openai_style_error, parse_retry_after
from gateway.providers.openai import OpenAIAdapter, OpenAIStreamTranslator
from gateway.providers.sse import SSEDecoder


def chunk(i: int) -> bytes:
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "llama",
        "choices": [{"index": 0, "delta": {"content": f"w{i}é"}}],
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


STREAM = b"".join(chunk(i) for i in range(3)) + b"data: [DONE]\n\n"


@pytest.mark.parametrize("size", [1, 2, 7, 64, len(STREAM)])
def test_translator_survives_any_split(size: int) -> None:
    translator = OpenAIStreamTranslator("chat-eu", "openai")
    out = []
    for start in range(0, len(STREAM), size):
        out += translator.feed(STREAM[start : start + size])
    out += translator.close()
    assert [c["choices"][0]["delta"]["content"] for c in out] == ["w0é", "w1é", "w2é"]
    assert {c["model"] for c in out} == {"chat-eu"}


def test_truncated_stream_raises_on_close() -> None:
    translator = OpenAIStreamTranslator("chat-eu", "openai")
    assert len(translator.feed(chunk(0) + chunk(1)[:10])) == 1
    with pytest.raises(UpstreamError) as caught:
        translator.close()
    assert caught.value.code == "stream_truncated"


def test_error_event_raises_with_the_upstream_message() -> None:
    translator = OpenAIStreamTranslator("chat-eu", "openai")
    event = b'data: {"error": {"message": "model overloaded", "type": "server_error"}}\n\n'
    with pytest.raises(UpstreamError) as caught:
        translator.feed(event)
    assert caught.value.message == "model overloaded"


@pytest.mark.parametrize("end", ["feed", "close"])
def test_chunks_read_together_with_an_error_event_are_delivered_before_it(end: str) -> None:
    translator = OpenAIStreamTranslator("chat-eu", "openai")
    event = b'data: {"error": {"message": "model overloaded", "type": "server_error"}}\n\n'
    out = translator.feed(chunk(0) + chunk(1) + event)
    assert [c["choices"][0]["delta"]["content"] for c in out] == ["w0é", "w1é"]
    with pytest.raises(UpstreamError) as caught:
        translator.feed(chunk(2)) if end == "feed" else translator.close()
    assert caught.value.message == "model overloaded"


def test_malformed_chunk_raises() -> None:
    with pytest.raises(UpstreamError):
        OpenAIStreamTranslator("m", "openai").feed(b"data: {not json\n\n")
    translator = OpenAIStreamTranslator("m", "openai")
    assert len(translator.feed(chunk(0) + b"data: {not json\n\n")) == 1
    with pytest.raises(UpstreamError):
        translator.close()


def test_sse_decoder_handles_crlf_comments_and_multiline_data() -> None:
    decoder = SSEDecoder()
    raw = b": keep-alive\r\nevent: delta\r\ndata: a\r\ndata: b\r\n\r\ndata: c\n\n"
    events = []
    for byte in raw:
        events += decoder.feed(bytes([byte]))
    assert [(e.event, e.data) for e in events] == [("delta", "a\nb"), ("message", "c")]
    assert not decoder.pending
    decoder.feed(b"data: half")
    assert decoder.pending


async def test_requests_replace_the_model_and_force_stream_usage() -> None:
    adapter = OpenAIAdapter("http://127.0.0.1:9100/v1/", "llama-3.1-8b", "secret")
    body = {"model": "chat-eu", "messages": [], "stream": True, "stream_options": {"other": 1}}
    request = await adapter.build_request("chat", body, stream=True)
    assert request.url == "http://127.0.0.1:9100/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer secret"
    sent = orjson.loads(request.body)
    assert sent["model"] == "llama-3.1-8b"
    assert sent["stream_options"] == {"other": 1, "include_usage": True}
    assert body["model"] == "chat-eu"  # the caller's body is not mutated
    plain = await OpenAIAdapter("http://h/v1", "m", None).build_request(
        "embeddings", {"model": "x", "input": "y"}, stream=False
    )
    assert "authorization" not in plain.headers
    assert plain.url == "http://h/v1/embeddings"
    assert "stream_options" not in orjson.loads(plain.body)


def test_non_object_success_body_is_a_retryable_upstream_error() -> None:
    adapter = OpenAIAdapter("http://h/v1", "m", None)
    with pytest.raises(UpstreamError) as caught:
        adapter.translate_response("chat", 200, b"<html>gateway timeout</html>")
    assert caught.value.retryable


def test_error_shapes() -> None:
    openai_shape = openai_style_error(
        400,
        {},
        orjson.dumps(
            {
                "error": {
                    "message": "bad param",
                    "type": "invalid_request_error",
                    "code": "x",
                    "param": "temperature",
                }
            }
        ),
        "openai",
    )
    assert (openai_shape.message, openai_shape.code, openai_shape.retryable) == (
        "bad param",
        "x",
        False,
    )
    assert openai_shape.extra["param"] == "temperature"
    vllm = openai_style_error(
        400,
        {},
        b'{"object": "error", "message": "too long", "type": "BadRequestError", "code": 400}',
        "openai",
    )
    assert (vllm.message, vllm.type, vllm.code) == ("too long", "BadRequestError", "400")
    html = openai_style_error(
        503, {"retry-after": "7"}, b"<html>" + b"x" * 5000 + b"</html>", "openai"
    )
    assert html.retryable and html.retry_after == 7.0
    assert len(html.message) == 2000


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    when = datetime(2030, 1, 1, 0, 0, 10, tzinfo=UTC)
    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after({"retry-after": format_datetime(when, usegmt=True)}, now=now) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "-5"}) == 0.0


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (408, True), (429, True), (500, True), (503, True)],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable(status) is retryable


def test_registry_imports_provider_modules_lazily() -> None:
    deployment = OpenAIDeployment.model_validate(
        {
            "provider": "openai",
            "base_url": "http://127.0.0.1:1/v1",
            "model": "m",
            "region": "r",
            "jurisdiction": "eu",
            "api_key_env": "K",
        }
    )
    assert isinstance(create_adapter(deployment, {"K": "v"}), OpenAIAdapter)
    with pytest.raises(ConfigError, match="K is not set"):
        create_adapter(deployment, {})
    # importing the registry loads no provider module: each is imported when first named
    probe = (
        "import sys, gateway.providers; "
        "print(sorted(m for m in sys.modules if m.startswith('gateway.providers.')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['gateway.providers.base']"
