"""Prompt estimates (bytes / 4 of the text) and output caps."""

from __future__ import annotations

import orjson
import pytest

from gateway.context import RequestContext
from gateway.ledger.estimate import (
    estimate_prompt_tokens,
    output_cap,
    request_estimate,
    with_output_cap,
)


def test_prompt_estimate_is_text_bytes_over_four_rounded_up() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 401}]}
    assert estimate_prompt_tokens(body) == 101
    assert estimate_prompt_tokens(body, bytes_per_token=1) == 401


def test_multibyte_text_counts_utf8_bytes() -> None:
    body = {"messages": [{"role": "user", "content": "é" * 10}]}  # 2 bytes each
    assert estimate_prompt_tokens(body) == 5


def test_text_parts_tool_calls_and_tools_count_images_do_not() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    body = {
        "messages": [
            {"role": "system", "content": "abcd"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "efgh"},
                    {"type": "image_url", "image_url": {"url": "data:" + "A" * 10_000}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "ab", "arguments": "cd"}}
                ],
            },
        ],
        "tools": tools,
    }
    expected_bytes = 4 + 4 + 4 + len(orjson.dumps(tools))
    assert estimate_prompt_tokens(body) == -(-expected_bytes // 4)


def test_embeddings_input_strings_and_token_arrays() -> None:
    assert estimate_prompt_tokens({"input": "abcdefgh"}) == 2
    assert estimate_prompt_tokens({"input": ["abcd", "efgh"]}) == 2
    assert estimate_prompt_tokens({"input": [1, 2, 3]}) == 3
    assert estimate_prompt_tokens({"input": [[1, 2], [3]]}) == 3


def test_bytes_per_token_must_be_positive() -> None:
    with pytest.raises(ValueError, match="bytes_per_token"):
        estimate_prompt_tokens({}, bytes_per_token=0)


@pytest.mark.parametrize(
    ("body", "cap"),
    [
        ({"messages": []}, 4096),
        ({"messages": [], "max_tokens": 100}, 100),
        ({"messages": [], "max_completion_tokens": 300, "max_tokens": 100}, 300),
        ({"messages": [], "max_tokens": 100, "n": 3}, 300),
        ({"messages": [], "max_tokens": True}, 4096),
        ({"input": "text"}, 0),
    ],
)
def test_output_cap(body: dict[str, object], cap: int) -> None:
    assert output_cap(body, 4096) == cap


def test_with_output_cap_only_fills_a_missing_cap() -> None:
    assert with_output_cap({"messages": []}, 512) == {"messages": [], "max_completion_tokens": 512}
    kept = {"messages": [], "max_tokens": 10}
    assert with_output_cap(kept, 512) is kept  # nothing to add: not copied
    assert with_output_cap({"input": "x"}, 512) == {"input": "x"}
    uncapped = {"messages": []}
    assert with_output_cap(uncapped, 512) is not uncapped
    assert uncapped == {"messages": []}  # the caller's body is left untouched


def test_request_estimate_is_computed_once_per_body_and_settings() -> None:
    ctx = RequestContext("POST", "/v1/chat/completions")
    ctx.body = {"messages": [{"role": "user", "content": "x" * 40}], "max_tokens": 7}
    assert request_estimate(ctx, 4.0, 100) == (10, 7)
    ctx.body["messages"][0]["content"] = "x" * 400  # same object: the first answer is kept
    assert request_estimate(ctx, 4.0, 100) == (10, 7)
    assert request_estimate(ctx, 2.0, 100) == (200, 7)  # other settings: computed anew
    ctx.body = {"messages": [{"role": "user", "content": "é" * 4}]}  # a new body
    assert request_estimate(ctx, 4.0, 100) == (2, 100)
