"""The anthropic adapter against a fake Messages API that checks the key and the version."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from gateway.config import AnthropicDeployment, ConfigError
from gateway.providers import anthropic
from gateway.providers._anthropic_messages import DEFAULT_MAX_TOKENS, messages_request
from gateway.providers._anthropic_stream import MessagesStreamTranslator
from gateway.providers.base import UpstreamError
from tests.gateway.fakes.anthropic import (
    FakeAnthropic,
    error_reply,
    message_reply,
    message_start,
    sse,
    stream_reply,
    text_events,
)
from tests.gateway.fakes.bedrock import Reply
from tests.gateway.fakes.server import serve
from tests.gateway.providers import complete, stream

API_KEY = "sk-ant-test-key"
MODEL = "claude-sonnet-4-5"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()
USER = {"role": "user", "content": "Hello"}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeAnthropic, str]]:
    fake = FakeAnthropic(API_KEY)
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def fake(server: tuple[FakeAnthropic, str]) -> FakeAnthropic:
    server[0].reset()
    return server[0]


def deployment(url: str, **extra: Any) -> AnthropicDeployment:
    return AnthropicDeployment.model_validate(
        {
            "provider": "anthropic",
            "model": MODEL,
            "region": "us",
            "jurisdiction": "us",
            "base_url": url,
            "api_key_env": "ANTHROPIC_API_KEY",
            **extra,
        }
    )


@pytest.fixture
def adapter(server: tuple[FakeAnthropic, str]) -> anthropic.AnthropicAdapter:
    return anthropic.create(deployment(server[1]), {"ANTHROPIC_API_KEY": API_KEY})


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    """One TLS context for the module: building one per client costs more than a test."""
    return httpx.create_ssl_context()


@pytest.fixture
async def client(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5, verify=tls) as http:
        yield http


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "chat-us", "messages": list(messages), **extra}


def delta(index: int, **payload: Any) -> bytes:
    return sse(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": payload}
    )


# ---------------------------------------------------------------------------------------
# Configuration


def test_missing_key_variable_is_a_configuration_error_naming_it() -> None:
    dep = deployment("https://api.anthropic.com")
    for environ in ({}, {"ANTHROPIC_API_KEY": ""}):
        with pytest.raises(ConfigError, match="environment variable ANTHROPIC_API_KEY is not set"):
            anthropic.create(dep, environ)
    with pytest.raises(ConfigError, match="api_key_env: got nothing"):
        anthropic.create(deployment("https://api.anthropic.com", api_key_env=None), {})


async def test_only_the_deployment_key_is_sent_and_never_shown(
    adapter: anthropic.AnthropicAdapter,
) -> None:
    body = chat(USER)
    request = await adapter.build_request("chat", body, stream=False)
    assert request.headers == {
        "x-api-key": API_KEY,
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
        "accept": "application/json",
    }
    assert API_KEY not in repr(adapter)
    assert request.url.endswith("/v1/messages")
    assert "//v1" not in request.url


# ---------------------------------------------------------------------------------------
# Non-streaming


async def test_text_round_trip(
    fake: FakeAnthropic, adapter: anthropic.AnthropicAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = lambda _: message_reply(
        [{"type": "text", "text": "Bon"}, {"type": "text", "text": "jour"}],
        input_tokens=12,
        output_tokens=3,
    )
    body = chat(
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Answer in French."},
        USER,
        max_tokens=64,
        temperature=0.2,
        top_p=0.9,
        stop=["END", "STOP"],
    )
    result = await complete(adapter, client, body)

    [received] = fake.received
    assert received.headers["x-api-key"] == API_KEY
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in received.headers
    assert received.body == {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "system": [
            {"type": "text", "text": "Be brief."},
            {"type": "text", "text": "Answer in French."},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "stop_sequences": ["END", "STOP"],
    }
    assert result["id"] == "msg_fake02"
    assert result["model"] == "claude-sonnet-4-5-20250929"
    [choice] = result["choices"]
    assert choice["message"] == {"role": "assistant", "content": "Bonjour", "refusal": None}
    assert choice["finish_reason"] == "stop"
    assert result["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


async def test_max_tokens_defaults_when_the_request_names_none(
    fake: FakeAnthropic, adapter: anthropic.AnthropicAdapter, client: httpx.AsyncClient
) -> None:
    await complete(adapter, client, chat(USER))
    await complete(adapter, client, chat(USER, max_completion_tokens=77, max_tokens=5))
    assert [r.body["max_tokens"] for r in fake.received] == [DEFAULT_MAX_TOKENS, 77]
    assert DEFAULT_MAX_TOKENS == 4096


async def test_wrong_key_is_a_non_retryable_authentication_error(
    fake: FakeAnthropic, server: tuple[FakeAnthropic, str], client: httpx.AsyncClient
) -> None:
    adapter = anthropic.create(deployment(server[1]), {"ANTHROPIC_API_KEY": "sk-ant-wrong"})
    with pytest.raises(UpstreamError) as caught:
        await complete(adapter, client, chat(USER))
    error = caught.value
    assert (error.status, error.type, error.code) == (
        401,
        "authentication_error",
        "authentication_error",
    )
    assert error.message == "invalid x-api-key"
    assert not error.retryable
    assert fake.received == []


async def test_configured_anthropic_version_is_sent(
    server: tuple[FakeAnthropic, str], client: httpx.AsyncClient, fake: FakeAnthropic
) -> None:
    adapter = anthropic.create(
        deployment(server[1], anthropic_version="2099-01-01"), {"ANTHROPIC_API_KEY": API_KEY}
    )
    with pytest.raises(UpstreamError) as caught:
        await complete(adapter, client, chat(USER))
    assert caught.value.message == "anthropic-version: got '2099-01-01'"


async def test_tool_calls_both_ways(
    fake: FakeAnthropic, adapter: anthropic.AnthropicAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = lambda _: message_reply(
        [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_3", "name": "get_rate", "input": {"pair": "EURUSD"}},
        ],
        stop_reason="tool_use",
    )
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    body = chat(
        USER,
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": ""},
        {"role": "user", "content": "And the rate?"},
        tools=[
            {
                "type": "function",
                "function": {"name": "get_weather", "description": "Weather", "parameters": schema},
            },
            {"type": "function", "function": {"name": "get_rate"}},
        ],
        tool_choice={"type": "function", "function": {"name": "get_rate"}},
        parallel_tool_calls=False,
    )
    result = await complete(adapter, client, body)

    sent = fake.received[0].body
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2"},
                {"type": "text", "text": "And the rate?"},
            ],
        },
    ]
    assert sent["tools"] == [
        {"name": "get_weather", "description": "Weather", "input_schema": schema},
        {"name": "get_rate", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert sent["tool_choice"] == {
        "type": "tool",
        "name": "get_rate",
        "disable_parallel_tool_use": True,
    }
    message = result["choices"][0]["message"]
    assert message["content"] == "Checking."
    assert message["tool_calls"] == [
        {
            "id": "toolu_3",
            "type": "function",
            "function": {"name": "get_rate", "arguments": '{"pair":"EURUSD"}'},
        }
    ]
    assert result["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_choice_translations() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    for choice, expected in [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ]:
        request = messages_request(
            chat(USER, tools=tools, tool_choice=choice), model=MODEL, stream=False
        )
        assert request["tool_choice"] == expected
    plain = messages_request(chat(USER, tools=tools), model=MODEL, stream=False)
    assert "tool_choice" not in plain
    serial = messages_request(
        chat(USER, tools=tools, parallel_tool_calls=False), model=MODEL, stream=False
    )
    assert serial["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    with pytest.raises(UpstreamError, match="tool_choice: got 'required'"):
        messages_request(chat(USER, tool_choice="required"), model=MODEL, stream=False)


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
    ],
)
async def test_stop_reasons(
    fake: FakeAnthropic,
    adapter: anthropic.AnthropicAdapter,
    client: httpx.AsyncClient,
    stop_reason: str,
    finish_reason: str,
) -> None:
    fake.reply = lambda _: message_reply([{"type": "text", "text": "x"}], stop_reason)
    result = await complete(adapter, client, chat(USER))
    assert result["choices"][0]["finish_reason"] == finish_reason


async def test_cache_tokens_count_as_prompt_and_cached(
    fake: FakeAnthropic, adapter: anthropic.AnthropicAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = lambda _: message_reply(
        [{"type": "text", "text": "x"}],
        input_tokens=5,
        output_tokens=2,
        cache_read_input_tokens=80,
        cache_creation_input_tokens=20,
    )
    result = await complete(adapter, client, chat(USER))
    assert result["usage"] == {
        "prompt_tokens": 105,
        "completion_tokens": 2,
        "total_tokens": 107,
        "prompt_tokens_details": {"cached_tokens": 80},
    }


async def test_images(
    fake: FakeAnthropic, adapter: anthropic.AnthropicAdapter, client: httpx.AsyncClient
) -> None:
    body = chat(
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/chart.png"}},
                {"type": "text", "text": "Compare."},
            ],
        }
    )
    await complete(adapter, client, body)
    assert fake.received[0].body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/chart.png"}},
        {"type": "text", "text": "Compare."},
    ]
    insecure = chat(
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "http://example.com/chart.png"}}
            ],
        }
    )
    with pytest.raises(UpstreamError) as caught:
        await adapter.build_request("chat", insecure, stream=False)
    assert caught.value.message.startswith("messages[0].content[0].image_url.url: got ")


async def test_embeddings_are_refused(adapter: anthropic.AnthropicAdapter) -> None:
    with pytest.raises(UpstreamError) as caught:
        await adapter.build_request("embeddings", {"model": "e", "input": "x"}, stream=False)
    assert (caught.value.status, caught.value.code) == (400, "unsupported_operation")


# ---------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("status", "error_type", "retryable", "openai_type"),
    [
        (400, "invalid_request_error", False, "invalid_request_error"),
        (403, "permission_error", False, "permission_error"),
        (404, "not_found_error", False, "not_found_error"),
        (413, "request_too_large", False, "invalid_request_error"),
        (429, "rate_limit_error", True, "rate_limit_error"),
        (500, "api_error", True, "server_error"),
        (529, "overloaded_error", True, "server_error"),
    ],
)
async def test_error_answers_keep_anthropic_message(
    fake: FakeAnthropic,
    adapter: anthropic.AnthropicAdapter,
    client: httpx.AsyncClient,
    status: int,
    error_type: str,
    retryable: bool,
    openai_type: str,
) -> None:
    fake.reply = lambda _: error_reply(status, error_type, f"{error_type}: details")
    with pytest.raises(UpstreamError) as caught:
        await complete(adapter, client, chat(USER))
    error = caught.value
    assert (error.status, error.message, error.code) == (
        status,
        f"{error_type}: details",
        error_type,
    )
    assert error.retryable is retryable
    assert error.type == openai_type


async def test_retry_after_is_honoured(
    fake: FakeAnthropic, adapter: anthropic.AnthropicAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = lambda _: error_reply(429, "rate_limit_error", "slow down", retry_after="7")
    with pytest.raises(UpstreamError) as caught:
        await complete(adapter, client, chat(USER))
    assert caught.value.retry_after == 7.0


def test_non_json_error_body_is_kept_as_text(adapter: anthropic.AnthropicAdapter) -> None:
    error = adapter.translate_error(
        502, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"upstream connect error"
    )
    assert (error.message, error.code, error.retryable) == ("upstream connect error", None, True)
    assert error.retry_after == 0.0  # a date in the past means: retry now


# ---------------------------------------------------------------------------------------
# Streaming


@pytest.mark.parametrize("feed_size", [None, 1, 3])
async def test_stream_text_with_usage_last(
    fake: FakeAnthropic,
    adapter: anthropic.AnthropicAdapter,
    client: httpx.AsyncClient,
    feed_size: int | None,
) -> None:
    fake.reply = lambda _: stream_reply(text_events("Hel", "lo wörld ", "✓"), pieces=5)
    result = await stream(adapter, client, chat(USER), feed_size=feed_size)

    [received] = fake.received
    assert received.body["stream"] is True
    assert received.headers["accept"] == "text/event-stream"
    assert result.error is None
    assert result.chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {chunk["id"] for chunk in result.chunks} == {"msg_fake01"}
    assert {chunk["model"] for chunk in result.chunks} == {"chat-us"}
    assert result.text == "Hello wörld ✓"
    assert result.finish_reasons == ["stop"]
    last = result.chunks[-1]
    assert last["choices"] == []
    assert last["usage"] == {"prompt_tokens": 25, "completion_tokens": 15, "total_tokens": 40}


async def test_stream_tool_calls(
    fake: FakeAnthropic, adapter: anthropic.AnthropicAdapter, client: httpx.AsyncClient
) -> None:
    events = [
        message_start(),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        delta(0, type="text_delta", text="Let me check."),
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_a",
                    "name": "get_weather",
                    "input": {},
                },
            },
        ),
        delta(1, type="input_json_delta", partial_json=""),
        delta(1, type="input_json_delta", partial_json='{"city":'),
        delta(1, type="input_json_delta", partial_json=' "Paris"}'),
        sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_b",
                    "name": "get_time",
                    "input": {},
                },
            },
        ),
        delta(2, type="input_json_delta", partial_json="{}"),
        sse("content_block_stop", {"type": "content_block_stop", "index": 2}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 40},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    fake.reply = lambda _: stream_reply(events, pieces=11)
    result = await stream(adapter, client, chat(USER), feed_size=1)

    assert result.error is None
    assert result.text == "Let me check."
    assert result.tool_calls() == {
        0: {"id": "toolu_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "toolu_b", "name": "get_time", "arguments": "{}"},
    }
    assert result.finish_reasons == ["tool_calls"]
    assert result.chunks[-1]["usage"]["completion_tokens"] == 40


@pytest.mark.parametrize("feed_size", [None, 1])
async def test_mid_stream_error_event_ends_the_stream_after_delivered_text(
    fake: FakeAnthropic,
    adapter: anthropic.AnthropicAdapter,
    client: httpx.AsyncClient,
    feed_size: int | None,
) -> None:
    events = [
        message_start(),
        delta(0, type="text_delta", text="partial"),
        sse(
            "error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ),
    ]
    fake.reply = lambda _: stream_reply(events, pieces=None)
    result = await stream(adapter, client, chat(USER), feed_size=feed_size)

    assert result.text == "partial"
    assert result.error is not None
    assert (result.error.status, result.error.message) == (529, "Overloaded")
    assert result.error.code == "overloaded_error"
    assert result.error.retryable


def test_cumulative_usage_in_message_delta_replaces_message_start() -> None:
    translator = MessagesStreamTranslator("chat-us")
    translator.feed(message_start({"input_tokens": 25, "output_tokens": 1}))
    translator.feed(
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "max_tokens"},
                "usage": {
                    "input_tokens": 30,
                    "output_tokens": 15,
                    "cache_read_input_tokens": 5,
                    "cache_creation_input_tokens": None,
                },
            },
        )
    )
    chunks = translator.feed(sse("message_stop", {"type": "message_stop"}))
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 35,
        "completion_tokens": 15,
        "total_tokens": 50,
        "prompt_tokens_details": {"cached_tokens": 5},
    }
    assert translator.close() == []


def test_stream_without_message_stop_is_an_error() -> None:
    translator = MessagesStreamTranslator("chat-us")
    body = b"".join(text_events("done"))
    cut = body.index(b"event: message_stop")
    translator.feed(body[:cut])
    with pytest.raises(UpstreamError) as caught:
        translator.close()
    assert caught.value.status == 502
    assert "no message_stop" in caught.value.message

    truncated = MessagesStreamTranslator("chat-us")
    truncated.feed(body[: cut + 10])
    with pytest.raises(UpstreamError, match="stream cut inside an event"):
        truncated.close()


def test_non_json_event_data_is_an_error() -> None:
    translator = MessagesStreamTranslator("chat-us")
    with pytest.raises(UpstreamError, match="content_block_delta event data is not JSON"):
        translator.feed(b"event: content_block_delta\ndata: {oops\n\n")


def test_unknown_events_and_deltas_are_skipped() -> None:
    translator = MessagesStreamTranslator("chat-us")
    chunks = translator.feed(
        b"".join(
            [
                message_start(),
                sse("future_event", {"type": "future_event", "stuff": 1}),
                sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "thinking", "thinking": ""},
                    },
                ),
                delta(0, type="thinking_delta", thinking="hmm"),
                delta(1, type="text_delta", text="answer"),
            ]
        )
    )
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "answer"},
    ]


async def test_stream_error_before_streaming_is_an_ordinary_error(
    fake: FakeAnthropic, adapter: anthropic.AnthropicAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = lambda _: Reply(
        529,
        {"content-type": "application/json", "retry-after": "2"},
        b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
    )
    with pytest.raises(UpstreamError) as caught:
        await stream(adapter, client, chat(USER))
    assert (caught.value.status, caught.value.retryable, caught.value.retry_after) == (
        529,
        True,
        2.0,
    )
