"""Cheap, conservative-enough token estimates of a request, before it is forwarded.

The prompt estimate is the UTF-8 size of the request's text divided by
``bytes_per_token`` (default 4, the usual average for English text with byte-level BPE
tokenizers), rounded up. Text means: message contents (strings and ``text`` parts), message
names, tool-call names and arguments, the ``tools``/``functions`` definitions, and an
embeddings ``input`` (strings, or token-id arrays counted one token per id). Non-text parts
(images, audio, files) are not estimated; their real cost is settled from the usage the
upstream reports.

It is an estimate: text that tokenizes densely (many languages, code, random strings) can
use more tokens than bytes/4. The worst-case reservation is then lower than the real cost and
the excess is still settled, so the spend record stays exact but a budget can be exceeded by
that estimation error. ``bytes_per_token: 1`` makes the estimate an upper bound for
byte-level tokenizers, at the price of reserving about four times too much.

The output cap is ``max_completion_tokens`` or ``max_tokens`` (the larger when both are
sent), else the configured default, times ``n`` choices. It bounds the real output only if
the upstream is asked to stop there: :func:`with_output_cap` adds the default cap to a body
that sets none, so the reservation stays a true worst case.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from gateway.context import RequestContext

DEFAULT_BYTES_PER_TOKEN = 4.0
DEFAULT_OUTPUT_CAP = 4096
"""output tokens assumed (and forwarded) when a request sets no cap"""
_NESTED_TEXT_KEYS = ("content", "name", "arguments", "text", "refusal", "function", "tool_calls")
_MEMO = "estimate.request"


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _text_bytes(value: Any) -> int:
    """UTF-8 bytes of the text inside a message, content part or tool call."""
    if isinstance(value, str):
        return _utf8_len(value)
    total = 0
    if isinstance(value, list):
        for item in value:
            total += _text_bytes(item)
        return total
    # JSON bodies are dicts: test that first, the Mapping ABC check is far slower
    if isinstance(value, (dict, Mapping)):
        if value.get("type") not in (None, "text", "function"):
            return 0  # image_url, input_audio, file: settled from usage
        for key in _NESTED_TEXT_KEYS:
            item = value.get(key)
            if item is not None:
                total += _text_bytes(item)
    return total


def _input_tokens_or_bytes(value: Any) -> tuple[int, int]:
    """(token ids, text bytes) of an embeddings ``input``."""
    if isinstance(value, str):
        return 0, _utf8_len(value)
    if isinstance(value, list):
        if all(isinstance(v, int) for v in value):
            return len(value), 0
        pairs = [_input_tokens_or_bytes(v) for v in value]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return 0, 0


def estimate_prompt_tokens(
    body: Mapping[str, Any], bytes_per_token: float = DEFAULT_BYTES_PER_TOKEN
) -> int:
    """The estimated prompt tokens of a chat or embeddings request body."""
    if bytes_per_token <= 0:
        raise ValueError(f"bytes_per_token must be > 0, got {bytes_per_token}")
    size = _text_bytes(body.get("messages"))
    for key in ("tools", "functions"):
        if body.get(key):
            size += len(orjson.dumps(body[key]))
    ids, text = _input_tokens_or_bytes(body.get("input"))
    return ids + math.ceil((size + text) / bytes_per_token)


def request_estimate(
    ctx: RequestContext, bytes_per_token: float, default_cap: int
) -> tuple[int, int]:
    """(prompt estimate, output cap) of ``ctx.body``, computed once per request.

    The rate limiter and the budget reservation both need it; the first caller's answer is
    kept in ``ctx.state`` for the same body and settings.
    """
    body = ctx.body
    assert body is not None
    memo = ctx.state.get(_MEMO)
    if memo is not None and memo[0] is body and memo[1] == (bytes_per_token, default_cap):
        return memo[2]  # type: ignore[no-any-return]
    result = (estimate_prompt_tokens(body, bytes_per_token), output_cap(body, default_cap))
    ctx.state[_MEMO] = (body, (bytes_per_token, default_cap), result)
    return result


def output_cap(body: Mapping[str, Any], default_cap: int) -> int:
    """The most output tokens a request may produce (0 for embeddings)."""
    if "input" in body and "messages" not in body:
        return 0
    asked = [
        v
        for v in (body.get("max_completion_tokens"), body.get("max_tokens"))
        if isinstance(v, int) and not isinstance(v, bool) and v > 0
    ]
    choices = body.get("n")
    n = choices if isinstance(choices, int) and not isinstance(choices, bool) and choices > 0 else 1
    return (max(asked) if asked else default_cap) * n


def with_output_cap(body: Mapping[str, Any], default_cap: int) -> dict[str, Any]:
    """``body`` with ``max_completion_tokens`` set to ``default_cap`` when it sets no cap.

    Every adapter reads ``max_completion_tokens`` (OpenAI's current name) before the legacy
    ``max_tokens``. A body that already sets a cap, and an embeddings body, is returned as it
    is (not copied); otherwise a new dict is returned and ``body`` is left untouched.
    """
    if (
        "messages" not in body
        or body.get("max_completion_tokens") is not None
        or body.get("max_tokens") is not None
    ):
        return body if isinstance(body, dict) else dict(body)
    return {**body, "max_completion_tokens": default_cap}
