"""Where the texts are in OpenAI bodies, and how to rewrite them without touching the rest.

Scanned in a chat request, for every message whatever its role (system, developer, user,
assistant, tool, function): ``content`` when it is a string; the ``text`` of ``text`` parts
and the ``refusal`` of ``refusal`` parts when it is an array (image, audio and file parts
are left alone); ``refusal``; ``tool_calls[].function.arguments``; the legacy
``function_call.arguments``. In an embeddings request: ``input`` when it is a string or a
list of strings (token arrays are left alone). In a chat response: the same fields of each
``choices[].message``. Tool *definitions* (``tools``) are not rewritten: they are the
caller's schema, not data.

Bodies are not mutated: a container is copied only when a text in it changed (the mapping
returned another string), the rest is shared; a body with no changed text is returned as
it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.providers.base import JSON

TextMap = Callable[[str], str]
TextsMap = Callable[[list[str]], list[str]]
"""every text of a body at once, in order -> their replacements, in the same order"""


def map_request(op: str, body: JSON, fn: TextMap) -> JSON:
    if op == "embeddings":
        return _map_embeddings(body, fn)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    return _with(body, "messages", _map_list(messages, map_message, fn))


def map_request_texts(op: str, body: JSON, fn: TextsMap) -> JSON:
    """:func:`map_request` with one call of ``fn`` for all the texts of the body."""
    texts: list[str] = []

    def collect(text: str) -> str:
        texts.append(text)
        return text

    map_request(op, body, collect)
    if not texts:
        return body
    mapped = fn(texts)
    if all(new is old for new, old in zip(mapped, texts, strict=True)):
        return body
    replacements = iter(mapped)
    return map_request(op, body, lambda _text: next(replacements))


def map_response(op: str, body: JSON, fn: TextMap) -> JSON:
    choices = body.get("choices")
    if op != "chat" or not isinstance(choices, list):
        return body
    return _with(body, "choices", _map_list(choices, _map_choice, fn))


def map_message(message: Any, fn: TextMap) -> Any:
    """A chat message (or a response's ``message``) with its texts mapped."""
    if not isinstance(message, dict):
        return message
    out = message
    content = message.get("content")
    if isinstance(content, str):
        out = _set(out, message, "content", fn(content))
    elif isinstance(content, list):
        out = _set(out, message, "content", _map_list(content, _map_part, fn))
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        out = _set(out, message, "refusal", fn(refusal))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        out = _set(out, message, "tool_calls", _map_list(calls, _map_call, fn))
    function = message.get("function_call")
    if isinstance(function, dict):
        out = _set(out, message, "function_call", _map_function(function, fn))
    return out


def _set(out: dict[str, Any], original: dict[str, Any], key: str, new: Any) -> dict[str, Any]:
    """``out`` (``original`` or its copy) with ``key`` set to ``new``; ``original`` is copied
    the first time a value changes, and never changed itself."""
    if new is original[key]:
        return out
    if out is original:
        out = dict(original)
    out[key] = new
    return out


def _with(container: dict[str, Any], key: str, new: Any) -> dict[str, Any]:
    """``container`` with ``key`` set to ``new``: a copy, or itself when nothing changes."""
    return _set(container, container, key, new)


def _map_list(items: list[Any], map_item: Callable[[Any, TextMap], Any], fn: TextMap) -> list[Any]:
    """``items`` mapped: a copy when an item changed, else ``items`` itself."""
    out = items
    for i, item in enumerate(items):
        new = map_item(item, fn)
        if new is not item:
            if out is items:
                out = list(items)
            out[i] = new
    return out


def _map_choice(choice: Any, fn: TextMap) -> Any:
    if not isinstance(choice, dict) or "message" not in choice:
        return choice
    return _with(choice, "message", map_message(choice["message"], fn))


def _map_part(part: Any, fn: TextMap) -> Any:
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind in ("text", "refusal") and isinstance(part.get(kind), str):
        return _with(part, kind, fn(part[kind]))
    return part


def _map_call(call: Any, fn: TextMap) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    return _with(call, "function", _map_function(call["function"], fn))


def _map_function(function: dict[str, Any], fn: TextMap) -> dict[str, Any]:
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        return function
    return _with(function, "arguments", fn(arguments))


def _map_embeddings(body: JSON, fn: TextMap) -> JSON:
    value = body.get("input")
    if isinstance(value, str):
        return _with(body, "input", fn(value))
    if isinstance(value, list):
        return _with(body, "input", _map_list(value, _map_input, fn))
    return body


def _map_input(value: Any, fn: TextMap) -> Any:
    return fn(value) if isinstance(value, str) else value
