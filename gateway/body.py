"""Parse a request body once (orjson) and check the fields the gateway relies on.

Known fields are checked for type so a wrong one is a 400 naming it; unknown fields pass
through untouched (OpenAI adds fields often, and upstreams judge their own).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson

from gateway.errors import bad_request
from gateway.providers.base import JSON, Operation

_NUM: tuple[type, ...] = (int, float)
_INT: tuple[type, ...] = (int,)
_STR: tuple[type, ...] = (str,)
_BOOL: tuple[type, ...] = (bool,)
_OBJ: tuple[type, ...] = (dict,)
_LIST: tuple[type, ...] = (list,)

Rule = tuple[tuple[type, ...], str]

_COMMON: dict[str, Rule] = {"model": (_STR, "a string"), "user": (_STR, "a string")}

CHAT_FIELDS: Mapping[str, Rule] = MappingProxyType(
    {
        **_COMMON,
        "messages": (_LIST, "an array of message objects"),
        "stream": (_BOOL, "a boolean"),
        "stream_options": (_OBJ, "an object"),
        "tools": (_LIST, "an array of tool objects"),
        "tool_choice": ((str, dict), "a string or an object"),
        "functions": (_LIST, "an array"),
        "function_call": ((str, dict), "a string or an object"),
        "parallel_tool_calls": (_BOOL, "a boolean"),
        "response_format": (_OBJ, "an object"),
        "temperature": (_NUM, "a number"),
        "top_p": (_NUM, "a number"),
        "presence_penalty": (_NUM, "a number"),
        "frequency_penalty": (_NUM, "a number"),
        "n": (_INT, "an integer"),
        "max_tokens": (_INT, "an integer"),
        "max_completion_tokens": (_INT, "an integer"),
        "seed": (_INT, "an integer"),
        "logprobs": (_BOOL, "a boolean"),
        "top_logprobs": (_INT, "an integer"),
        "logit_bias": (_OBJ, "an object"),
        "stop": ((str, list), "a string or an array of strings"),
        "metadata": (_OBJ, "an object"),
    }
)

EMBEDDINGS_FIELDS: Mapping[str, Rule] = MappingProxyType(
    {
        **_COMMON,
        "input": ((str, list), "a string or an array"),
        "encoding_format": (_STR, "a string"),
        "dimensions": (_INT, "an integer"),
    }
)

_FIELDS: Mapping[Operation, Mapping[str, Rule]] = MappingProxyType(
    {"chat": CHAT_FIELDS, "embeddings": EMBEDDINGS_FIELDS}
)
_REQUIRED: Mapping[Operation, tuple[str, ...]] = MappingProxyType(
    {"chat": ("model", "messages"), "embeddings": ("model", "input")}
)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _is(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true is not a number
    return isinstance(value, types)


def _wrong(param: str, expected: str, value: Any) -> Exception:
    return bad_request(f"'{param}' must be {expected}; got {_type_name(value)}", param)


def parse_object(raw: bytes) -> JSON:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON body: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise bad_request(
            f"the body must be a JSON object; got {_type_name(data)}", code="invalid_json"
        )
    return data


def _check_messages(messages: list[Any]) -> None:
    if not messages:
        raise bad_request("'messages' must hold at least one message", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _wrong(f"messages[{i}]", "an object", message)
        role = message.get("role")
        if not isinstance(role, str):
            raise _wrong(f"messages[{i}].role", "a string", role)
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _wrong(f"messages[{i}].content", "a string or an array of content parts", content)
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                where = f"messages[{i}].content[{j}]"
                raise bad_request(f"'{where}' must be an object with a string 'type'", where)


def validate(op: Operation, body: JSON) -> None:
    """400 naming the first missing or mistyped field."""
    for name in _REQUIRED[op]:
        if body.get(name) is None:
            raise bad_request(f"'{name}' is required", name, code="missing_required_parameter")
    rules = _FIELDS[op]
    for name, value in body.items():
        rule = rules.get(name)
        if rule is not None and value is not None and not _is(value, rule[0]):
            raise _wrong(name, rule[1], value)
    if op == "chat":
        _check_messages(body["messages"])
    elif not body["input"]:
        raise bad_request("'input' must not be empty", "input")
