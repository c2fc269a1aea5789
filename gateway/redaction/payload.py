"""Where the texts are in OpenAI bodies, and how to rewrite them without touching the rest.

Scanned in a chat request, for every message whatever its role (system, developer, user,
assistant, tool, function): ``content`` when it is a string; the ``text`` of ``text`` parts
and the ``refusal`` of ``refusal`` parts when it is an array (image, audio and file parts
are left alone); ``refusal``; ``tool_calls[].function.arguments``; the legacy
``function_call.arguments``. In an embeddings request: ``input`` when it is a string or a
list of strings (token arrays are left alone). In a chat response: the same fields of each
``choices[].message``. Tool *definitions* (``tools``) are the caller's schema, not data, and
are not rewritten.

Bodies are not mutated: changed containers are copied, the rest is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.providers.base import JSON

TextMap = Callable[[str], str]


def map_request(op: str, body: JSON, fn: TextMap) -> JSON:
    if op == "embeddings":
        return _map_embeddings(body, fn)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    return {**body, "messages": [map_message(m, fn) for m in messages]}


def map_response(op: str, body: JSON, fn: TextMap) -> JSON:
    choices = body.get("choices")
    if op != "chat" or not isinstance(choices, list):
        return body
    return {**body, "choices": [_map_choice(c, fn) for c in choices]}


def map_message(message: Any, fn: TextMap) -> Any:
    """A chat message (or a response's ``message``) with its texts mapped."""
    if not isinstance(message, dict):
        return message
    out = dict(message)
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = fn(content)
    elif isinstance(content, list):
        out["content"] = [_map_part(p, fn) for p in content]
    if isinstance(message.get("refusal"), str):
        out["refusal"] = fn(message["refusal"])
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [_map_call(c, fn) for c in calls]
    if isinstance(message.get("function_call"), dict):
        out["function_call"] = _map_function(message["function_call"], fn)
    return out


def _map_choice(choice: Any, fn: TextMap) -> Any:
    if not isinstance(choice, dict) or "message" not in choice:
        return choice
    return {**choice, "message": map_message(choice["message"], fn)}


def _map_part(part: Any, fn: TextMap) -> Any:
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind in ("text", "refusal") and isinstance(part.get(kind), str):
        return {**part, kind: fn(part[kind])}
    return part


def _map_call(call: Any, fn: TextMap) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    return {**call, "function": _map_function(call["function"], fn)}


def _map_function(function: dict[str, Any], fn: TextMap) -> dict[str, Any]:
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        return function
    return {**function, "arguments": fn(arguments)}


def _map_embeddings(body: JSON, fn: TextMap) -> JSON:
    value = body.get("input")
    if isinstance(value, str):
        return {**body, "input": fn(value)}
    if isinstance(value, list) and any(isinstance(v, str) for v in value):
        return {**body, "input": [fn(v) if isinstance(v, str) else v for v in value]}
    return body
