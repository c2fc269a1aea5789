"""Bedrock Converse <-> OpenAI chat translation (pure functions, no I/O).

Request: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
Response: ``output.message.content`` (text and toolUse blocks), ``stopReason`` and ``usage``.

Converse has no counterpart for ``parallel_tool_calls`` (ignored) nor for
``tool_choice: "none"``: the tools are then withheld, which Bedrock refuses once the
conversation holds tool calls, so that case is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.providers.base import JSON
from gateway.providers.openai_shapes import (
    Conversation,
    chat_completion,
    invalid_request,
    malformed_upstream,
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

PROVIDER = "bedrock"

# ImageBlock.format values by media type.
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageBlock.html
IMAGE_FORMATS: Mapping[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}


class ConverseBlocks:
    """Converse content blocks (``{"text": ...}``, ``{"image": ...}``, ``{"toolUse": ...}``)."""

    provider = PROVIDER
    image_media_types = frozenset(IMAGE_FORMATS)

    def text(self, text: str) -> JSON:
        return {"text": text}

    def image(self, media_type: str, data: str) -> JSON:
        # Blobs travel base64-encoded in Bedrock's JSON protocol: the data URL's payload as is.
        return {"image": {"format": IMAGE_FORMATS[media_type], "source": {"bytes": data}}}

    def remote_image(self, url: str, field: str) -> JSON:
        raise invalid_request(
            field, url, "a base64 data URL (data:image/png;base64,...): Bedrock cannot fetch URLs"
        )

    def tool_use(self, call_id: str, name: str, arguments: JSON) -> JSON:
        return {"toolUse": {"toolUseId": call_id, "name": name, "input": arguments}}

    def tool_result(self, call_id: str, text: str) -> JSON:
        content = [{"text": text}] if text else []
        return {"toolResult": {"toolUseId": call_id, "content": content}}


_BLOCKS = ConverseBlocks()


def _has_tool_blocks(conversation: Conversation) -> bool:
    return any(
        "toolUse" in block or "toolResult" in block
        for turn in conversation.turns
        for block in turn["content"]
    )


def _tool_config(body: JSON, conversation: Conversation) -> JSON | None:
    """``toolConfig`` from ``tools`` and ``tool_choice``; ``None`` when no tool is offered."""
    tools = read_tools(body, PROVIDER)
    choice = read_tool_choice(body)
    if not tools:
        if isinstance(choice, tuple) or choice == "required":
            raise invalid_request(
                "tool_choice", body["tool_choice"], "no tool_choice without tools"
            )
        return None
    if choice == "none":
        # Converse has no "none" choice; withholding the tools is the equivalent, but Bedrock
        # requires toolConfig as soon as the conversation holds tool calls or results.
        if _has_tool_blocks(conversation):
            raise invalid_request(
                "tool_choice", "none", "'auto' or 'required' when the conversation has tool calls"
            )
        return None
    specs = []
    for tool in tools:
        spec: JSON = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
        if tool.description:
            spec["description"] = tool.description
        specs.append({"toolSpec": spec})
    config: JSON = {"tools": specs}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, tuple):
        config["toolChoice"] = {"tool": {"name": choice[1]}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config


def converse_request(body: JSON) -> JSON:
    """The Converse request body for an OpenAI chat request (the model id goes in the URL)."""
    reject_unsupported(body, PROVIDER)
    conversation = read_conversation(body, _BLOCKS)
    request: JSON = {"messages": conversation.turns}
    if conversation.system:
        request["system"] = [{"text": text} for text in conversation.system]
    inference: JSON = {}
    max_tokens = read_max_tokens(body)
    if max_tokens is not None:
        inference["maxTokens"] = max_tokens
    for field, key in (("temperature", "temperature"), ("top_p", "topP")):
        value = read_number(body, field)
        if value is not None:
            inference[key] = value
    stop = read_stop(body)
    if stop:
        inference["stopSequences"] = stop
    if inference:
        request["inferenceConfig"] = inference
    tool_config = _tool_config(body, conversation)
    if tool_config is not None:
        request["toolConfig"] = tool_config
    return request


def converse_usage(data: Mapping[str, Any]) -> JSON:
    """OpenAI usage from a Converse ``usage`` object.

    Bedrock counts cache reads and writes apart from ``inputTokens``; OpenAI's
    ``prompt_tokens`` includes them, with reads reported as ``cached_tokens``.
    https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
    """
    cache_read = token_count(data, "cacheReadInputTokens")
    prompt = token_count(data, "inputTokens") + cache_read
    prompt += token_count(data, "cacheWriteInputTokens")
    cached = cache_read if "cacheReadInputTokens" in data else None
    return usage(prompt, token_count(data, "outputTokens"), cached)


def converse_response(data: JSON, *, model: str, completion_id: str) -> JSON:
    """An OpenAI ``chat.completion`` from a Converse response."""
    output = data.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        raise malformed_upstream(PROVIDER, "no output.message.content")
    texts: list[str] = []
    calls: list[JSON] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            calls.append(
                tool_call(use.get("toolUseId", ""), use.get("name", ""), use.get("input", {}))
            )
    raw_usage = data.get("usage")
    return chat_completion(
        completion_id=completion_id,
        model=model,
        text="".join(texts),
        tool_calls=calls,
        stop_reason=data.get("stopReason"),
        usage=converse_usage(raw_usage if isinstance(raw_usage, dict) else {}),
    )


def error_message(body: bytes) -> str:
    """The message of a Bedrock error body (``{"message": ...}``), else the body's text."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "Message"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return body.decode("utf-8", "replace").strip()
