"""The official openai SDK, sync and async, streaming and not, drives the gateway."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.gateway.conftest import (
    Gateway,
    gateway_config,
    openai_deployment,
    run_gateway,
    sqlite_store,
)
from tests.gateway.fakes.openai import FakeOpenAI, Reply

Fake = tuple[FakeOpenAI, str]

TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def test_sync_chat_completion(gateway: Gateway, fake_openai: Fake) -> None:
    fake, _ = fake_openai
    client = gateway.client(gateway.create_key())
    result = client.chat.completions.create(
        model="chat-eu", messages=[{"role": "user", "content": "hello there"}]
    )
    assert result.choices[0].message.content == "echo: hello there"
    assert result.model == "chat-eu"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (2, 3)
    (sent,) = fake.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "llama-3.1-8b"
    assert sent.body["messages"] == [{"role": "user", "content": "hello there"}]


def test_sync_stream_without_usage_hides_the_usage_chunk(
    gateway: Gateway, fake_openai: Fake
) -> None:
    fake, _ = fake_openai
    client = gateway.client(gateway.create_key())
    chunks = list(
        client.chat.completions.create(
            model="chat-eu", messages=[{"role": "user", "content": "a b c"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: a b c"
    assert all(c.usage is None and c.choices for c in chunks)
    assert all(c.model == "chat-eu" for c in chunks)
    # the gateway asked the upstream for usage all the same (for the ledger)
    assert fake.requests[0].body["stream_options"] == {"include_usage": True}


def test_sync_stream_with_include_usage(gateway: Gateway) -> None:
    client = gateway.client(gateway.create_key())
    chunks = list(
        client.chat.completions.create(
            model="chat-eu",
            messages=[{"role": "user", "content": "one two"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        2,
        3,
        5,
    )
    assert all(c.usage is None for c in chunks[:-1])


async def test_async_chat_and_stream(gateway: Gateway) -> None:
    client = gateway.async_client(gateway.create_key())
    result = await client.chat.completions.create(
        model="chat-eu", messages=[{"role": "user", "content": "async hi"}]
    )
    assert result.choices[0].message.content == "echo: async hi"
    stream = await client.chat.completions.create(
        model="chat-eu", messages=[{"role": "user", "content": "async stream"}], stream=True
    )
    text = ""
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    assert text == "echo: async stream"
    await client.close()


async def test_async_embeddings(gateway: Gateway, fake_openai: Fake) -> None:
    fake, _ = fake_openai
    client = gateway.async_client(gateway.create_key())
    result = await client.embeddings.create(model="embed-eu", input=["x", "y"])
    assert [d.embedding for d in result.data] == [[0.1, 0.2, 0.0], [0.1, 0.2, 1.0]]
    assert result.model == "embed-eu"
    assert fake.requests[-1].path == "/v1/embeddings"
    assert fake.requests[-1].body["model"] == "bge-m3"
    await client.close()


def test_tools_response_format_and_multimodal_parts_pass_through(
    gateway: Gateway, fake_openai: Fake
) -> None:
    fake, _ = fake_openai
    client = gateway.client(gateway.create_key())
    messages: Any = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is in this image?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        }
    ]
    fmt: Any = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}},
    }
    result = client.chat.completions.create(
        model="chat-eu",
        messages=messages,
        tools=TOOLS,
        tool_choice="auto",
        response_format=fmt,
        temperature=0.2,
        extra_body={"top_k": 5},
    )
    calls = result.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert result.choices[0].finish_reason == "tool_calls"
    sent = fake.requests[-1].body
    assert sent["messages"] == messages
    assert sent["tools"] == TOOLS
    assert sent["tool_choice"] == "auto"
    assert sent["response_format"] == fmt
    assert sent["temperature"] == 0.2
    assert sent["top_k"] == 5  # unknown fields are passed through untouched


def test_models_lists_only_what_the_caller_may_use(gateway: Gateway) -> None:
    everything = gateway.client(gateway.create_key())
    assert sorted(m.id for m in everything.models.list()) == ["chat-eu", "embed-eu"]
    chat_only = gateway.client(gateway.create_key(models=["chat-eu"]))
    assert [m.id for m in chat_only.models.list()] == ["chat-eu"]
    us_only = gateway.client(gateway.create_key(jurisdictions=["us"]))
    assert list(us_only.models.list()) == []


def test_client_key_never_reaches_the_upstream(gateway: Gateway, fake_openai: Fake) -> None:
    fake, _ = fake_openai
    key = gateway.create_key()
    client = gateway.client(key)
    client.chat.completions.create(model="chat-eu", messages=[{"role": "user", "content": "x"}])
    list(
        client.chat.completions.create(
            model="chat-eu", messages=[{"role": "user", "content": "x"}], stream=True
        )
    )
    client.embeddings.create(model="embed-eu", input="x")
    assert fake.calls == 3
    for sent in fake.requests:
        assert all(key not in value for value in sent.headers.values())
        assert key not in str(sent.body)
        assert sent.headers["authorization"] == "Bearer upstream-secret-vllm"


def test_overhead_and_request_id_headers(gateway: Gateway) -> None:
    key = gateway.create_key()
    response = gateway.post(
        "/v1/chat/completions",
        key,
        json={"model": "chat-eu", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 200
    overhead = float(response.headers["x-gatehouse-overhead-ms"])
    assert 0 <= overhead < 1000
    assert len(response.headers["x-request-id"]) == 32


def test_upstream_4xx_passes_through_with_the_provider_message(
    gateway: Gateway, fake_openai: Fake
) -> None:
    fake, _ = fake_openai
    fake.queue(
        Reply(
            status=400,
            error={
                "error": {
                    "message": "maximum context length is 8192 tokens",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                    "param": "messages",
                }
            },
        )
    )
    client = gateway.client(gateway.create_key())
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="chat-eu", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 400
    assert "maximum context length is 8192 tokens" in caught.value.message
    assert caught.value.code == "context_length_exceeded"
    assert fake.calls == 1  # a 400 is the client's: no retry, no fallback


def test_upstream_rejecting_the_gateway_credential_is_a_502(
    gateway: Gateway, fake_openai: Fake
) -> None:
    fake, _ = fake_openai
    fake.queue(Reply(status=401, error={"error": {"message": "bad upstream key"}}))
    response = gateway.post(
        "/v1/chat/completions",
        gateway.create_key(),
        json={"model": "chat-eu", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_auth_failed"
    assert "bad upstream key" in error["message"]


def test_health_and_readiness(gateway: Gateway) -> None:
    assert gateway.get("/healthz").json() == {"status": "ok"}
    ready = gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_not_ready_when_the_key_cache_goes_stale(tmp_path: Path, fake_openai: Fake) -> None:
    config = gateway_config(sqlite_store(tmp_path), {"chat": [openai_deployment(fake_openai[1])]})
    with run_gateway(config) as gw:
        assert gw.get("/readyz").status_code == 200
        keys = gw.app.keys
        assert keys is not None
        refresh = keys.refresh

        async def broken() -> None:
            raise OSError("store unreachable")

        keys.refresh = broken  # type: ignore[method-assign]
        keys.last_refresh = time.monotonic() - 60
        response = gw.get("/readyz")
        assert response.status_code == 503
        assert "API keys not refreshed" in response.json()["error"]["message"]
        keys.refresh = refresh  # type: ignore[method-assign]
