"""The bedrock adapter against a fake Bedrock Runtime (SigV4 checked, event-stream framing)."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from botocore.credentials import Credentials, RefreshableCredentials

from gateway.config import BedrockDeployment, ConfigError
from gateway.providers import bedrock
from gateway.providers._bedrock_converse import converse_request
from gateway.providers._bedrock_stream import ConverseStreamTranslator
from gateway.providers.base import UpstreamError
from tests.gateway.fakes.bedrock import (
    FakeBedrock,
    error_reply,
    event,
    exception,
    json_reply,
    stream_reply,
    text_stream,
)
from tests.gateway.fakes.server import serve
from tests.gateway.providers import complete, stream

REGION = "eu-central-1"
MODEL = "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
KEY, SECRET, TOKEN = "AKIAFAKEENVKEY", "env-secret", "env-session-token"
ROTATED_KEY, ROTATED_SECRET = "AKIAFAKEROTATED", "rotated-secret"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeBedrock, str]]:
    fake = FakeBedrock(REGION, {KEY: (SECRET, TOKEN), ROTATED_KEY: (ROTATED_SECRET, None)})
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def fake(server: tuple[FakeBedrock, str]) -> FakeBedrock:
    server[0].reset()
    return server[0]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Credentials for botocore's default chain, from the environment only."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))


def deployment(url: str, region: str = REGION, model: str = MODEL) -> BedrockDeployment:
    return BedrockDeployment.model_validate(
        {
            "provider": "bedrock",
            "region": region,
            "jurisdiction": "eu",
            "model": model,
            "endpoint_url": url,
        }
    )


@pytest.fixture
def adapter(server: tuple[FakeBedrock, str], aws_env: None) -> bedrock.BedrockAdapter:
    return bedrock.create(deployment(server[1]), environ={})


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    """One TLS context for the module: building one per client costs more than a test."""
    return httpx.create_ssl_context()


@pytest.fixture
async def client(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5, verify=tls) as http:
        yield http


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "chat-eu", "messages": list(messages), **extra}


USER = {"role": "user", "content": "Hello"}


def converse_answer(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> Any:
    usage = usage or {"inputTokens": 10, "outputTokens": 4, "totalTokens": 14}
    return lambda _: json_reply(
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": usage,
            "metrics": {"latencyMs": 5},
        }
    )


# ---------------------------------------------------------------------------------------
# Non-streaming


async def test_text_round_trip_signed_with_the_default_chain(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = converse_answer([{"text": "Bonjour"}], inputTokens=12, outputTokens=3)
    body = chat(
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        USER,
        max_completion_tokens=64,
        temperature=0.2,
        top_p=0.9,
        stop="END",
    )
    result = await complete(adapter, client, body)

    [received] = fake.received
    assert received.operation == "converse"
    assert received.model_id == MODEL
    assert received.raw_path == "/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"
    assert received.headers["x-amz-security-token"] == TOKEN
    assert f"Credential={KEY}/" in received.headers["authorization"]
    assert received.body == {
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "system": [{"text": "Be brief."}, {"text": "Answer in French."}],
        "inferenceConfig": {
            "maxTokens": 64,
            "temperature": 0.2,
            "topP": 0.9,
            "stopSequences": ["END"],
        },
    }
    assert result["object"] == "chat.completion"
    assert result["model"] == MODEL
    [choice] = result["choices"]
    assert choice["message"] == {"role": "assistant", "content": "Bonjour", "refusal": None}
    assert choice["finish_reason"] == "stop"
    assert result["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


async def test_model_arn_is_one_encoded_path_segment(
    fake: FakeBedrock,
    server: tuple[FakeBedrock, str],
    aws_env: None,
    client: httpx.AsyncClient,
) -> None:
    arn = "arn:aws:bedrock:eu-central-1:111122223333:application-inference-profile/abc123"
    adapter = bedrock.create(deployment(server[1], model=arn), environ={})
    await complete(adapter, client, chat(USER))
    [received] = fake.received
    assert received.model_id == arn
    assert "/" not in received.raw_path.removeprefix("/model/").removesuffix("/converse")


async def test_signature_for_another_region_is_rejected(
    fake: FakeBedrock,
    server: tuple[FakeBedrock, str],
    aws_env: None,
    client: httpx.AsyncClient,
) -> None:
    adapter = bedrock.create(deployment(server[1], region="eu-west-1"), environ={})
    with pytest.raises(UpstreamError) as caught:
        await complete(adapter, client, chat(USER))
    assert caught.value.status == 403
    assert "eu-west-1/bedrock is not eu-central-1/bedrock" in caught.value.message
    assert not caught.value.retryable
    assert fake.received == []


async def test_signature_covers_the_body(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter, client: httpx.AsyncClient
) -> None:
    signed = await adapter.build_request("chat", chat(USER), stream=False)
    tampered = signed.body.replace(b"Hello", b"Hellp")
    response = await client.post(signed.url, headers=signed.headers, content=tampered)
    assert response.status_code == 403
    assert "signature" in response.json()["message"]
    untouched = await client.post(signed.url, headers=signed.headers, content=signed.body)
    assert untouched.status_code == 200


async def test_refreshable_credentials_are_refreshed_before_expiry(
    fake: FakeBedrock, server: tuple[FakeBedrock, str], client: httpx.AsyncClient
) -> None:
    refreshes: list[int] = []

    def refresh() -> dict[str, str]:
        refreshes.append(1)
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        return {
            "access_key": ROTATED_KEY,
            "secret_key": ROTATED_SECRET,
            "token": "",
            "expiry_time": expiry.isoformat(),
        }

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)).isoformat()
    credentials = RefreshableCredentials.create_from_metadata(
        {"access_key": KEY, "secret_key": SECRET, "token": TOKEN, "expiry_time": soon},
        refresh_using=refresh,
        method="test",
    )
    adapter = bedrock.BedrockAdapter(deployment(server[1]), lambda: credentials)
    await complete(adapter, client, chat(USER))
    await complete(adapter, client, chat(USER))
    assert len(refreshes) == 1
    assert all(f"Credential={ROTATED_KEY}/" in r.headers["authorization"] for r in fake.received)
    assert all("x-amz-security-token" not in r.headers for r in fake.received)


async def test_missing_credentials_fail_before_any_upstream_call(
    fake: FakeBedrock, server: tuple[FakeBedrock, str]
) -> None:
    adapter = bedrock.BedrockAdapter(deployment(server[1]), lambda: None)
    with pytest.raises(UpstreamError) as caught:
        await adapter.build_request("chat", chat(USER), stream=False)
    assert caught.value.status == 503
    assert caught.value.code == "aws_credentials_unavailable"
    assert caught.value.retryable  # so that the router falls back to another deployment


async def test_static_credentials_without_token_send_no_token_header(
    server: tuple[FakeBedrock, str],
) -> None:
    adapter = bedrock.BedrockAdapter(
        deployment(server[1]), lambda: Credentials(ROTATED_KEY, ROTATED_SECRET)
    )
    request = await adapter.build_request("chat", chat(USER), stream=False)
    assert "X-Amz-Security-Token" not in request.headers
    assert request.headers["Authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ROTATED_KEY}/"
    )
    assert f"/{REGION}/bedrock/aws4_request" in request.headers["Authorization"]


async def test_tool_calls_both_ways(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = converse_answer(
        [
            {"text": "Checking."},
            {"toolUse": {"toolUseId": "tu_3", "name": "get_rate", "input": {"pair": "EURUSD"}}},
        ],
        stop="tool_use",
    )
    weather = {"type": "object", "properties": {"city": {"type": "string"}}}
    body = chat(
        USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "tu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "tu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "tu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "tu_2", "content": [{"type": "text", "text": "24C"}]},
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": weather,
                },
            },
            {"type": "function", "function": {"name": "get_rate"}},
        ],
        tool_choice="required",
    )
    result = await complete(adapter, client, body)

    sent = fake.received[0].body
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "toolUse": {
                        "toolUseId": "tu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": "tu_2",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    }
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tu_1", "content": [{"text": "18C"}]}},
                {"toolResult": {"toolUseId": "tu_2", "content": [{"text": "24C"}]}},
            ],
        },
    ]
    assert sent["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Weather",
                    "inputSchema": {"json": weather},
                }
            },
            {
                "toolSpec": {
                    "name": "get_rate",
                    "inputSchema": {"json": {"type": "object", "properties": {}}},
                }
            },
        ],
        "toolChoice": {"any": {}},
    }
    message = result["choices"][0]["message"]
    assert message["content"] == "Checking."
    assert message["tool_calls"] == [
        {
            "id": "tu_3",
            "type": "function",
            "function": {"name": "get_rate", "arguments": '{"pair":"EURUSD"}'},
        }
    ]
    assert result["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
    ],
)
async def test_stop_reasons(
    fake: FakeBedrock,
    adapter: bedrock.BedrockAdapter,
    client: httpx.AsyncClient,
    stop_reason: str,
    finish_reason: str,
) -> None:
    fake.reply = converse_answer([{"text": "x"}], stop=stop_reason)
    result = await complete(adapter, client, chat(USER))
    assert result["choices"][0]["finish_reason"] == finish_reason


async def test_prompt_cache_tokens_count_as_prompt_and_cached(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = converse_answer(
        [{"text": "x"}],
        inputTokens=5,
        outputTokens=2,
        totalTokens=107,
        cacheReadInputTokens=80,
        cacheWriteInputTokens=20,
    )
    result = await complete(adapter, client, chat(USER))
    assert result["usage"] == {
        "prompt_tokens": 105,
        "completion_tokens": 2,
        "total_tokens": 107,
        "prompt_tokens_details": {"cached_tokens": 80},
    }


async def test_data_url_image_is_sent_as_bytes(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter, client: httpx.AsyncClient
) -> None:
    body = chat(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        }
    )
    await complete(adapter, client, body)
    assert fake.received[0].body["messages"][0]["content"][1] == {
        "image": {"format": "png", "source": {"bytes": PNG}}
    }


async def test_remote_image_is_refused_without_calling_bedrock(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter
) -> None:
    body = chat(
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ],
        }
    )
    with pytest.raises(UpstreamError) as caught:
        await adapter.build_request("chat", body, stream=False)
    assert caught.value.status == 400
    assert caught.value.message.startswith("messages[0].content[0].image_url.url: got ")
    assert "Bedrock cannot fetch URLs" in caught.value.message
    assert fake.received == []


async def test_embeddings_are_refused(adapter: bedrock.BedrockAdapter) -> None:
    with pytest.raises(UpstreamError) as caught:
        await adapter.build_request("embeddings", {"model": "e", "input": "x"}, stream=False)
    assert caught.value.status == 400
    assert caught.value.code == "unsupported_operation"


# ---------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("status", "error_type", "retryable", "openai_type"),
    [
        (400, "ValidationException", False, "invalid_request_error"),
        (403, "AccessDeniedException", False, "permission_error"),
        (404, "ResourceNotFoundException", False, "not_found_error"),
        (429, "ThrottlingException", True, "rate_limit_error"),
        (500, "InternalServerException", True, "server_error"),
        (503, "ServiceUnavailableException", True, "server_error"),
    ],
)
async def test_error_answers_keep_bedrock_message(
    fake: FakeBedrock,
    adapter: bedrock.BedrockAdapter,
    client: httpx.AsyncClient,
    status: int,
    error_type: str,
    retryable: bool,
    openai_type: str,
) -> None:
    fake.reply = lambda _: error_reply(status, error_type, f"{error_type} says no")
    with pytest.raises(UpstreamError) as caught:
        await complete(adapter, client, chat(USER))
    error = caught.value
    assert (error.status, error.message, error.code) == (
        status,
        f"{error_type} says no",
        error_type,
    )
    assert error.retryable is retryable
    assert error.type == openai_type
    assert error.retry_after is None


async def test_retry_after_is_honoured(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = lambda _: error_reply(
        429, "ThrottlingException", "Too many requests", retry_after="3"
    )
    with pytest.raises(UpstreamError) as caught:
        await complete(adapter, client, chat(USER))
    assert caught.value.retryable
    assert caught.value.retry_after == 3.0


def test_error_code_falls_back_to_the_body_type(adapter: bedrock.BedrockAdapter) -> None:
    body = b'{"__type": "com.amazon.coral.validate#ValidationException", "Message": "bad"}'
    error = adapter.translate_error(400, {}, body)
    assert (error.code, error.message) == ("ValidationException", "bad")
    assert adapter.translate_error(502, {}, b"<html>Bad gateway</html>").message == (
        "<html>Bad gateway</html>"
    )


def test_malformed_success_body_is_a_retryable_bad_gateway(
    adapter: bedrock.BedrockAdapter,
) -> None:
    with pytest.raises(UpstreamError) as caught:
        adapter.translate_response("chat", 200, b"not json")
    assert caught.value.status == 502 and caught.value.retryable


# ---------------------------------------------------------------------------------------
# Streaming


def _usage_chunk(result: Any) -> dict[str, Any]:
    last = result.chunks[-1]
    assert last["choices"] == []
    return dict(last["usage"])


@pytest.mark.parametrize("feed_size", [None, 1, 5])
async def test_stream_text_with_usage_last(
    fake: FakeBedrock,
    adapter: bedrock.BedrockAdapter,
    client: httpx.AsyncClient,
    feed_size: int | None,
) -> None:
    usage = {"inputTokens": 9, "outputTokens": 6, "totalTokens": 25, "cacheReadInputTokens": 10}
    fake.reply = lambda _: stream_reply(
        text_stream("Hel", "lo ", "wörld", stop_reason="max_tokens", usage=usage), pieces=7
    )
    result = await stream(adapter, client, chat(USER), feed_size=feed_size)

    assert result.error is None
    assert fake.received[0].operation == "converse-stream"
    first = result.chunks[0]
    assert first["object"] == "chat.completion.chunk"
    assert first["model"] == "chat-eu"
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len({chunk["id"] for chunk in result.chunks}) == 1
    assert result.text == "Hello wörld"
    assert result.finish_reasons == ["length"]
    assert result.chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert _usage_chunk(result) == {
        "prompt_tokens": 19,
        "completion_tokens": 6,
        "total_tokens": 25,
        "prompt_tokens_details": {"cached_tokens": 10},
    }


async def test_stream_tool_calls_are_indexed_from_zero(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter, client: httpx.AsyncClient
) -> None:
    frames = [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Let me check."}}),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event(
            "contentBlockStart",
            {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "tu_a", "name": "get_weather"}},
            },
        ),
        event(
            "contentBlockDelta",
            {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"city": '}}},
        ),
        event(
            "contentBlockDelta",
            {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '"Paris"}'}}},
        ),
        event("contentBlockStop", {"contentBlockIndex": 1}),
        event(
            "contentBlockStart",
            {
                "contentBlockIndex": 2,
                "start": {"toolUse": {"toolUseId": "tu_b", "name": "get_time"}},
            },
        ),
        event("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{}"}}}),
        event("contentBlockStop", {"contentBlockIndex": 2}),
        event("messageStop", {"stopReason": "tool_use"}),
        event("metadata", {"usage": {"inputTokens": 30, "outputTokens": 20, "totalTokens": 50}}),
    ]
    fake.reply = lambda _: stream_reply(frames, pieces=13)
    result = await stream(adapter, client, chat(USER), feed_size=1)

    assert result.error is None
    assert result.text == "Let me check."
    assert result.tool_calls() == {
        0: {"id": "tu_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "tu_b", "name": "get_time", "arguments": "{}"},
    }
    assert result.finish_reasons == ["tool_calls"]
    assert _usage_chunk(result)["total_tokens"] == 50


@pytest.mark.parametrize("feed_size", [None, 1])
async def test_mid_stream_exception_ends_the_stream_after_delivered_text(
    fake: FakeBedrock,
    adapter: bedrock.BedrockAdapter,
    client: httpx.AsyncClient,
    feed_size: int | None,
) -> None:
    frames = [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "partial"}}),
        exception("throttlingException", "Too many tokens, please wait before trying again."),
    ]
    fake.reply = lambda _: stream_reply(frames, pieces=None)
    result = await stream(adapter, client, chat(USER), feed_size=feed_size)

    assert result.text == "partial"
    assert result.error is not None
    assert result.error.status == 429
    assert result.error.retryable
    assert result.error.code == "throttlingException"
    assert result.error.message == "Too many tokens, please wait before trying again."


def test_exception_frame_is_raised_again_by_close_and_feed() -> None:
    translator = ConverseStreamTranslator("chat-eu")
    body = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "kept"}}),
            exception("modelStreamErrorException", "model failed"),
        ]
    )
    chunks = translator.feed(body)
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "kept"]
    with pytest.raises(UpstreamError) as fed:
        translator.feed(b"")
    with pytest.raises(UpstreamError) as closed:
        translator.close()
    assert fed.value is closed.value
    assert (closed.value.status, closed.value.message) == (424, "model failed")
    assert closed.value.retryable  # the documentation says to retry this one


def test_truncated_frame_is_an_error_at_close() -> None:
    translator = ConverseStreamTranslator("chat-eu")
    body = b"".join(text_stream("complete"))
    assert translator.feed(body[:-3])
    with pytest.raises(UpstreamError) as caught:
        translator.close()
    assert caught.value.status == 502
    assert "stream cut inside an event-stream frame" in caught.value.message


def test_stream_without_message_stop_is_an_error() -> None:
    translator = ConverseStreamTranslator("chat-eu")
    translator.feed(b"".join(text_stream("complete")[:2]))
    with pytest.raises(UpstreamError) as caught:
        translator.close()
    assert "before messageStop" in caught.value.message


def test_corrupt_frame_crc_is_an_error() -> None:
    translator = ConverseStreamTranslator("chat-eu")
    good = event("messageStart", {"role": "assistant"})
    bad = bytearray(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}))
    bad[-6] ^= 0xFF  # flip a payload byte: the message CRC no longer matches
    assert translator.feed(good)
    with pytest.raises(UpstreamError) as caught:
        translator.feed(bytes(bad))
    assert caught.value.status == 502
    assert "corrupt event-stream frame" in caught.value.message


async def test_stream_error_before_streaming_is_an_ordinary_error(
    fake: FakeBedrock, adapter: bedrock.BedrockAdapter, client: httpx.AsyncClient
) -> None:
    fake.reply = lambda _: error_reply(400, "ValidationException", "maxTokens too large")
    with pytest.raises(UpstreamError) as caught:
        await stream(adapter, client, chat(USER))
    assert (caught.value.status, caught.value.message) == (400, "maxTokens too large")


# ---------------------------------------------------------------------------------------
# Pure translation


def test_tool_choice_translations() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    for choice, expected in [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "f"}}, {"tool": {"name": "f"}}),
    ]:
        request = converse_request(chat(USER, tools=tools, tool_choice=choice))
        assert request["toolConfig"]["toolChoice"] == expected
    assert "toolChoice" not in converse_request(chat(USER, tools=tools))["toolConfig"]
    assert "toolConfig" not in converse_request(chat(USER, tools=tools, tool_choice="none"))


def test_tool_choice_none_with_tool_history_is_refused() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = chat(
        USER,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "1", "content": "done"},
        tools=tools,
        tool_choice="none",
    )
    with pytest.raises(UpstreamError) as caught:
        converse_request(body)
    assert caught.value.message.startswith("tool_choice: got 'none'; expected")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": 5}, "stop"),
        ({"temperature": "hot"}, "temperature"),
        ({"tools": [{"type": "code"}]}, "tools[0]"),
    ],
)
def test_unsupported_or_invalid_fields_are_named(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(UpstreamError) as caught:
        converse_request(chat(USER, **extra))
    assert caught.value.status == 400
    assert caught.value.message.startswith(f"{field}: got ")


def test_invalid_tool_arguments_are_named() -> None:
    body = chat(
        USER,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
            ],
        },
    )
    with pytest.raises(UpstreamError) as caught:
        converse_request(body)
    assert caught.value.message.startswith(
        "messages[1].tool_calls[0].function.arguments: got '{not json'"
    )


def test_consecutive_user_messages_merge_and_empty_turns_drop() -> None:
    request = converse_request(
        chat(
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "b"}]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "c"},
        )
    )
    assert request["messages"] == [
        {"role": "user", "content": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}
    ]


def test_bad_data_urls_are_refused() -> None:
    for url, expected in [
        ("data:image/bmp;base64,AAAA", "an image of type"),
        ("data:image/png,rawbytes", "a base64 data URL"),
        ("data:image/png;base64,@@@", "valid base64"),
    ]:
        body = chat({"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]})
        with pytest.raises(UpstreamError) as caught:
            converse_request(body)
        assert expected in caught.value.message


def test_region_must_be_an_aws_region() -> None:
    with pytest.raises(ConfigError, match="region: got 'onprem-fra1'"):
        bedrock.BedrockAdapter(deployment("http://127.0.0.1:1", region="onprem-fra1"), lambda: None)


async def test_public_endpoint_is_regional() -> None:
    dep = BedrockDeployment.model_validate(
        {"provider": "bedrock", "region": "eu-central-1", "jurisdiction": "eu", "model": MODEL}
    )
    adapter = bedrock.BedrockAdapter(dep, lambda: Credentials("AKIA", "s"))
    request = await adapter.build_request("chat", chat(USER), stream=True)
    assert request.url == (
        "https://bedrock-runtime.eu-central-1.amazonaws.com/model/"
        "eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream"
    )
    assert orjson.loads(request.body)["messages"][0]["content"] == [{"text": "Hello"}]
