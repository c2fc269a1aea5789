"""Anthropic Messages <-> OpenAI chat translation (pure functions, no I/O).

Request and response: https://platform.claude.com/docs/en/api/messages
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.providers.base import JSON
from gateway.providers.openai_shapes import (
    chat_completion,
    invalid_request,
    malformed_upstream,
    new_completion_id,
    read_conversation,
    read_max_tokens,
    read_number,
    read_stop,
    read_tool_choice,
    read_tools,
    reject_unsupported,
    token_count,
    tool_call,
    usage,
)

PROVIDER = "anthropic"

DEFAULT_MAX_TOKENS = 4096
"""Sent when the request names no ``max_tokens``/``max_completion_tokens``: Anthropic
requires one, OpenAI does not."""

# Image media types the Messages API accepts in a base64 image source.
# https://platform.claude.com/docs/en/build-with-claude/vision
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

# HTTP status of each error type, for errors that arrive inside a stream.
# https://platform.claude.com/docs/en/api/errors
ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class MessagesBlocks:
    """Messages API content blocks (``{"type": "text", ...}`` and so on)."""

    provider = PROVIDER
    image_media_types = IMAGE_MEDIA_TYPES

    def text(self, text: str) -> JSON:
        return {"type": "text", "text": text}

    def image(self, media_type: str, data: str) -> JSON:
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }

    def remote_image(self, url: str, field: str) -> JSON:
        if not url.startswith("https://"):
            raise invalid_request(field, url, "an https:// URL or a base64 data URL")
        return {"type": "image", "source": {"type": "url", "url": url}}

    def tool_use(self, call_id: str, name: str, arguments: JSON) -> JSON:
        return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}

    def tool_result(self, call_id: str, text: str) -> JSON:
        block: JSON = {"type": "tool_result", "tool_use_id": call_id}
        if text:
            block["content"] = text
        return block


_BLOCKS = MessagesBlocks()


def _tools(body: JSON) -> tuple[list[JSON], JSON | None]:
    """Anthropic ``tools`` and ``tool_choice`` (``None`` to leave the default, auto)."""
    tools = read_tools(body, PROVIDER)
    choice = read_tool_choice(body)
    if not tools:
        if isinstance(choice, tuple) or choice == "required":
            raise invalid_request(
                "tool_choice", body["tool_choice"], "no tool_choice without tools"
            )
        return [], None
    out = []
    for tool in tools:
        spec: JSON = {"name": tool.name, "input_schema": tool.parameters}
        if tool.description:
            spec["description"] = tool.description
        out.append(spec)
    anthropic_choice: JSON | None
    if choice == "none":
        return out, {"type": "none"}
    if choice == "required":
        anthropic_choice = {"type": "any"}
    elif isinstance(choice, tuple):
        anthropic_choice = {"type": "tool", "name": choice[1]}
    else:
        anthropic_choice = {"type": "auto"} if choice == "auto" else None
    if body.get("parallel_tool_calls") is False:
        anthropic_choice = {
            **(anthropic_choice or {"type": "auto"}),
            "disable_parallel_tool_use": True,
        }
    return out, anthropic_choice


def messages_request(body: JSON, *, model: str, stream: bool) -> JSON:
    """The Messages API request body for an OpenAI chat request."""
    reject_unsupported(body, PROVIDER)
    conversation = read_conversation(body, _BLOCKS)
    request: JSON = {
        "model": model,
        "max_tokens": read_max_tokens(body) or DEFAULT_MAX_TOKENS,
        "messages": conversation.turns,
    }
    if conversation.system:
        request["system"] = [{"type": "text", "text": text} for text in conversation.system]
    for field in ("temperature", "top_p"):
        value = read_number(body, field)
        if value is not None:
            request[field] = value
    stop = read_stop(body)
    if stop:
        request["stop_sequences"] = stop
    tools, tool_choice = _tools(body)
    if tools:
        request["tools"] = tools
    if tool_choice is not None:
        request["tool_choice"] = tool_choice
    if stream:
        request["stream"] = True
    return request


def messages_usage(data: Mapping[str, Any]) -> JSON:
    """OpenAI usage from a Messages ``usage`` object.

    ``input_tokens`` excludes the tokens read from or written to the prompt cache; OpenAI's
    ``prompt_tokens`` includes them, with reads reported as ``cached_tokens``.
    https://platform.claude.com/docs/en/build-with-claude/prompt-caching
    """
    cache_read = token_count(data, "cache_read_input_tokens")
    prompt = token_count(data, "input_tokens") + cache_read
    prompt += token_count(data, "cache_creation_input_tokens")
    cached = cache_read if "cache_read_input_tokens" in data else None
    return usage(prompt, token_count(data, "output_tokens"), cached)


def messages_response(data: JSON, *, model: str) -> JSON:
    """An OpenAI ``chat.completion`` from a Messages API response."""
    content = data.get("content")
    if not isinstance(content, list):
        raise malformed_upstream(PROVIDER, "no content list")
    texts: list[str] = []
    calls: list[JSON] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append(
                tool_call(block.get("id", ""), block.get("name", ""), block.get("input", {}))
            )
    raw_usage = data.get("usage")
    message_id = data.get("id")
    upstream_model = data.get("model")
    return chat_completion(
        completion_id=message_id if isinstance(message_id, str) else new_completion_id(),
        model=upstream_model if isinstance(upstream_model, str) else model,
        text="".join(texts),
        tool_calls=calls,
        stop_reason=data.get("stop_reason"),
        usage=messages_usage(raw_usage if isinstance(raw_usage, dict) else {}),
    )


def error_fields(data: Any) -> tuple[str | None, str | None]:
    """``(type, message)`` of an Anthropic error object ``{"type": "error", "error": {...}}``,
    as sent in an error answer's body or in a stream's ``error`` event."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, None
    kind, message = error.get("type"), error.get("message")
    return (
        kind if isinstance(kind, str) else None,
        message if isinstance(message, str) else None,
    )


def error_details(body: bytes) -> tuple[str | None, str | None]:
    """``(type, message)`` of an Anthropic error answer's body, ``(None, None)`` if not one."""
    try:
        return error_fields(orjson.loads(body))
    except orjson.JSONDecodeError:
        return None, None
