"""Where the texts are in OpenAI bodies, and how to rewrite them without touching the rest.

Scanned in a chat request, for every message whatever its role (system, developer, user,
assistant, tool, function): ``content`` when it is a string; the ``text`` of ``text`` parts
and the ``refusal`` of ``refusal`` parts when it is an array (image, audio and file parts
are left alone); ``refusal``; ``tool_calls[].function.arguments``; the legacy
``function_call.arguments``. In an embeddings request: ``input`` when it is a string or a
list of strings (token arrays are left alone). In a chat response: the same fields of each
``choices[].message``. Tool *definitions* (``tools``) are not rewritten: they are the
caller's schema, not data.

:func:`request_texts` and :func:`response_texts` list the texts with where they are, in
body order; :func:`replace_texts` puts new texts in their place. Bodies are not mutated:
the containers on the way to a changed text are copied, everything else is shared, and a
body with no changed text is returned as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gateway.providers.base import JSON

TextMap = Callable[[str], str]
TextsMap = Callable[[list[str]], list[str]]
"""every text of a body at once, in order -> their replacements, in the same order"""
Path = tuple[str | int, ...]
"""where a text is: the keys and list indexes from the body down to it"""
Located = list[tuple[Path, str]]

_MORE_TEXTS = frozenset({"refusal", "tool_calls", "function_call"})
"""the fields of a message, besides ``content``, that can hold a text"""


def request_texts(op: str, body: JSON) -> Located:
    """Every text scanned in a request body, in order, with where it is."""
    found: Located = []
    if op == "embeddings":
        value = body.get("input")
        if isinstance(value, str):
            found.append((("input",), value))
        elif isinstance(value, list):
            found.extend((("input", i), v) for i, v in enumerate(value) if isinstance(v, str))
        return found
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str) and _MORE_TEXTS.isdisjoint(message):
                found.append((("messages", i, "content"), content))  # the usual message
            else:
                _message_texts(message, ("messages", i), found)
    return found


def response_texts(op: str, body: JSON) -> Located:
    """Every text scanned in a (non-streamed) response body, in order, with where it is."""
    found: Located = []
    choices = body.get("choices")
    if op == "chat" and isinstance(choices, list):
        for i, choice in enumerate(choices):
            if isinstance(choice, dict) and "message" in choice:
                _message_texts(choice["message"], ("choices", i, "message"), found)
    return found


def _message_texts(message: Any, path: Path, found: Located) -> None:
    if not isinstance(message, dict):
        return
    content = message.get("content")
    if isinstance(content, str):
        found.append(((*path, "content"), content))
    elif isinstance(content, list):
        for i, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in ("text", "refusal") and isinstance(part.get(kind), str):
                found.append(((*path, "content", i, kind), part[kind]))
    if _MORE_TEXTS.isdisjoint(message):
        return
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        found.append(((*path, "refusal"), refusal))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for i, call in enumerate(calls):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                found.append(
                    ((*path, "tool_calls", i, "function", "arguments"), function["arguments"])
                )
    function = message.get("function_call")
    if isinstance(function, dict) and isinstance(function.get("arguments"), str):
        found.append(((*path, "function_call", "arguments"), function["arguments"]))


def replace_texts(body: JSON, replacements: Sequence[tuple[Path, str]]) -> JSON:
    """``body`` with the text at each path replaced; the containers on these paths are
    copied (each once), the rest is shared, ``body`` itself is not changed."""
    if not replacements:
        return body
    root: Any = dict(body)
    copies = {id(root)}  # ids of the containers copied here, which may be changed
    for path, text in replacements:
        node = root
        for key in path[:-1]:
            child = node[key]
            if id(child) not in copies:
                child = node[key] = dict(child) if isinstance(child, dict) else list(child)
                copies.add(id(child))
            node = child
        node[path[-1]] = text
    return root  # type: ignore[no-any-return]


def map_request(op: str, body: JSON, fn: TextMap) -> JSON:
    """``body`` with every text of the request mapped by ``fn``, in body order."""
    located = request_texts(op, body)
    return _mapped(body, located, [fn(text) for _, text in located])


def map_request_texts(op: str, body: JSON, fn: TextsMap) -> JSON:
    """:func:`map_request` with one call of ``fn`` for all the texts of the body."""
    located = request_texts(op, body)
    if not located:
        return body
    texts: list[str] = []
    for _, text in located:  # loops here, not comprehensions: one function fewer to build
        texts.append(text)
    return _mapped(body, located, fn(texts))


def map_response(op: str, body: JSON, fn: TextMap) -> JSON:
    """``body`` with every text of the response mapped by ``fn``, in body order."""
    located = response_texts(op, body)
    return _mapped(body, located, [fn(text) for _, text in located])


def _mapped(body: JSON, located: Located, texts: list[str]) -> JSON:
    """``body`` with each text of ``located`` that ``texts`` replaces by another object."""
    if len(texts) != len(located):
        raise ValueError(f"{len(texts)} texts came back for the {len(located)} of the body")
    changed: list[tuple[Path, str]] = []
    for i, new in enumerate(texts):
        path, old = located[i]
        if new is not old:
            changed.append((path, new))
    return replace_texts(body, changed)
