"""Every text that leaves for a model is scanned; everything else is left as it was."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from gateway.redaction.builtin import BuiltinDetector
from gateway.redaction.config import RedactionConfig
from gateway.redaction.engine import Redactor
from gateway.redaction.payload import map_request, map_response

DETECTOR = BuiltinDetector()
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD4111111111111111"}}


def redact(op: str, body: dict[str, Any]) -> dict[str, Any]:
    session = Redactor(RedactionConfig(), registry=CollectorRegistry(), detector=DETECTOR).session()
    return map_request(op, body, session.scan)


def test_every_role_tool_results_tool_calls_and_legacy_function_calls() -> None:
    body = {
        "model": "chat",
        "temperature": 0.2,
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        "messages": [
            {"role": "system", "content": "Operator on-call: ops@example.com"},
            {"role": "developer", "content": "escalate to +49 30 12345678"},
            {"role": "user", "name": "ada", "content": "My IBAN is DE89 3704 0044 0532 0130 00"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "lookup",
                            "arguments": '{"email": "ada@example.com", "card": "4111111111111111"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "customer SSN 536-90-4399"},
            {
                "role": "assistant",
                "content": "calling",
                "function_call": {"name": "f", "arguments": '{"ip": "192.168.1.10"}'},
            },
            {"role": "function", "name": "f", "content": "key AKIAQWERTYUIOP234567"},
        ],
    }
    before = copy.deepcopy(body)
    out = redact("chat", body)
    assert body == before  # the caller's body is not mutated
    sent = orjson.dumps(out).decode()
    for value in (
        "ops@example.com",
        "+49 30 12345678",
        "DE89 3704",
        "ada@example.com",
        "4111111111111111",
        "536-90-4399",
        "192.168.1.10",
        "AKIAQWERTYUIOP234567",
    ):
        assert value not in sent
    messages = out["messages"]
    assert messages[3]["tool_calls"][0]["function"]["arguments"] == (
        '{"email": "<EMAIL_ADDRESS_2>", "card": "<CREDIT_CARD_1>"}'
    )
    assert orjson.loads(messages[3]["tool_calls"][0]["function"]["arguments"])  # still JSON
    assert messages[4] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "customer SSN <US_SSN_1>",
    }
    assert messages[5]["function_call"] == {"name": "f", "arguments": '{"ip": "<IP_ADDRESS_1>"}'}
    assert messages[2]["name"] == "ada"
    assert out["tools"] is body["tools"] and out["temperature"] == 0.2


def test_multimodal_text_parts_are_scanned_and_image_parts_untouched() -> None:
    body: dict[str, Any] = {
        "model": "chat",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is on this card? Mine is 4111 1111 1111 1111."},
                    IMAGE,
                    {"type": "input_audio", "input_audio": {"data": "4111111111111111"}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "refusal", "refusal": "not ada@example.com"}],
            },
        ],
    }
    out = redact("chat", body)
    parts = out["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What is on this card? Mine is <CREDIT_CARD_1>."}
    assert parts[1] is IMAGE
    assert parts[2] == body["messages"][0]["content"][2]
    assert out["messages"][1]["content"][0]["refusal"] == "not <EMAIL_ADDRESS_1>"


def test_embeddings_input_strings_and_lists_but_not_token_arrays() -> None:
    assert redact("embeddings", {"model": "e", "input": "mail ada@example.com"})["input"] == (
        "mail <EMAIL_ADDRESS_1>"
    )
    out = redact("embeddings", {"model": "e", "input": ["a@example.com", "plain", "b@example.com"]})
    assert out["input"] == ["<EMAIL_ADDRESS_1>", "plain", "<EMAIL_ADDRESS_2>"]
    tokens = {"model": "e", "input": [[4111, 1111], [1, 2]]}
    assert redact("embeddings", tokens) is tokens
    flat = {"model": "e", "input": [4111, 1111, 1111, 1111]}
    assert redact("embeddings", flat) is flat


def test_response_messages_are_mapped_like_request_messages() -> None:
    body = {
        "id": "x",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"},
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "B"}}],
                },
            },
        ],
        "usage": {"total_tokens": 3},
    }
    out = map_response("chat", body, str.lower)
    assert out["choices"][0]["message"]["content"] == "a"
    assert out["choices"][1]["message"]["tool_calls"][0]["function"]["arguments"] == "b"
    assert out["usage"] is body["usage"]
    assert map_response("embeddings", body, str.lower) is body
