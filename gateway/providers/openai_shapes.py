"""OpenAI wire shapes shared by the adapters that translate to another provider's format.

The Bedrock Converse and Anthropic Messages adapters both read an OpenAI chat request and
write OpenAI responses, stream chunks and errors. What they have in common lives here:

* reading a request: :func:`read_conversation` walks ``messages`` once and asks a
  provider-specific :class:`BlockFactory` for each content block; :func:`read_tools`,
  :func:`read_tool_choice`, :func:`read_max_tokens`, :func:`read_stop` and
  :func:`reject_unsupported` read and validate the other fields;
* writing a response: :func:`chat_completion`, :func:`tool_call`, :func:`usage` and
  :func:`finish_reason`;
* writing a stream: :class:`ChunkStream`, the base of both stream translators;
* errors: :func:`invalid_request` (a rejected request, named by field) and
  :func:`upstream_error` (a provider's error answer).
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import orjson

from gateway.providers.base import JSON, UpstreamError
from gateway.providers.common import is_retryable, parse_retry_after
from gateway.validation import FieldProblem

Role = Literal["user", "assistant"]


# --------------------------------------------------------------------------------------
# Errors


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def invalid_request(field: str, received: Any, expected: str) -> UpstreamError:
    """A request the provider cannot take: 400, naming the field, the value and the rule."""
    return UpstreamError(
        status=400,
        message=str(FieldProblem(field, _shown(received), expected)),
        type="invalid_request_error",
        code="unsupported_for_provider",
    )


_MAX_MESSAGE = 2000  # an HTML error page is cut, not relayed whole

_ERROR_TYPES: Mapping[int, str] = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def upstream_error(
    status: int, message: str, *, code: str | None, headers: Mapping[str, str] | None = None
) -> UpstreamError:
    """A provider's error answer in OpenAI's vocabulary, keeping the provider's message.

    ``headers`` are the upstream's response headers with lower-case names (as httpx gives
    them); ``Retry-After`` is read from them.
    """
    if status in _ERROR_TYPES:
        kind = _ERROR_TYPES[status]
    else:
        kind = "server_error" if status >= 500 else "invalid_request_error"
    return UpstreamError(
        status=status,
        message=message[:_MAX_MESSAGE],
        type=kind,
        code=code,
        retryable=is_retryable(status),
        retry_after=parse_retry_after(headers or {}),
    )


def malformed_upstream(provider: str, detail: str) -> UpstreamError:
    """The provider answered 2xx with something that is not its documented format."""
    return UpstreamError(
        status=502,
        message=f"{provider} returned a malformed response: {detail}",
        type="server_error",
        code="bad_upstream_response",
        retryable=True,
    )


def parse_json_object(provider: str, body: bytes) -> JSON:
    """Decode a 2xx upstream body that must be a JSON object."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise malformed_upstream(provider, f"invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise malformed_upstream(provider, f"expected a JSON object, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------------------
# Reading a request


class BlockFactory(Protocol):
    """Builds one provider's content blocks; :func:`read_conversation` does the walking."""

    provider: str
    image_media_types: frozenset[str]

    def text(self, text: str) -> JSON: ...

    def image(self, media_type: str, data: str) -> JSON:
        """``data`` is the base64 payload of a data URL, already validated."""
        ...

    def remote_image(self, url: str, field: str) -> JSON:
        """An image given by URL; raise :func:`invalid_request` if the provider can't fetch."""
        ...

    def tool_use(self, call_id: str, name: str, arguments: JSON) -> JSON: ...

    def tool_result(self, call_id: str, text: str) -> JSON: ...


@dataclass(frozen=True, slots=True)
class Conversation:
    """OpenAI ``messages`` split into system prompts and alternating provider turns.

    System and developer messages become ``system`` (in order). Consecutive messages that map
    to the same provider role are merged into one turn, so several ``tool`` results in a row
    become one user turn. Empty text is dropped and a turn left with no block is skipped,
    since both providers reject empty text blocks.
    """

    system: list[str]
    turns: list[JSON]


def _text_of(content: Any, field: str, *, allow_refusal: bool = False) -> str:
    """The text of a string content or of a list of ``text`` (and ``refusal``) parts."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if not isinstance(content, list):
        raise invalid_request(field, content, "a string or a list of text parts")
    texts: list[str] = []
    for j, part in enumerate(content):
        where = f"{field}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        key = "refusal" if kind == "refusal" and allow_refusal else "text"
        if kind != key or not isinstance(part.get(key), str):
            raise invalid_request(where, part, "a text part {'type': 'text', 'text': '...'}")
        texts.append(part[key])
    return "".join(texts)


def _image(part: JSON, field: str, blocks: BlockFactory) -> JSON:
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    field = f"{field}.image_url.url"
    if not isinstance(url, str):
        raise invalid_request(field, url, "a data URL or an http(s) URL string")
    if not url.startswith("data:"):
        return blocks.remote_image(url, field)
    header, comma, data = url.partition(",")
    media_type = header[5:].split(";", 1)[0].lower()
    allowed = ", ".join(sorted(blocks.image_media_types))
    if not comma or not header.endswith(";base64"):
        raise invalid_request(field, url, "a base64 data URL (data:<media type>;base64,<data>)")
    if media_type not in blocks.image_media_types:
        raise invalid_request(field, url, f"an image of type {allowed} for {blocks.provider}")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request(field, url, "valid base64 image data") from None
    return blocks.image(media_type, data)


def _user_blocks(content: Any, field: str, blocks: BlockFactory) -> list[JSON]:
    if isinstance(content, str):
        return [blocks.text(content)] if content else []
    if not isinstance(content, list):
        raise invalid_request(field, content, "a string or a list of content parts")
    out: list[JSON] = []
    for j, part in enumerate(content):
        where = f"{field}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            if part["text"]:
                out.append(blocks.text(part["text"]))
        elif kind == "image_url":
            out.append(_image(part, where, blocks))
        else:
            raise invalid_request(where, part, f"a text or image_url part for {blocks.provider}")
    return out


def _arguments(raw: Any, field: str) -> JSON:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    raise invalid_request(field, raw, "a JSON object encoded as a string")


def _assistant_blocks(message: JSON, field: str, blocks: BlockFactory) -> list[JSON]:
    text = _text_of(message.get("content"), f"{field}.content", allow_refusal=True)
    out = [blocks.text(text)] if text else []
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise invalid_request(f"{field}.tool_calls", calls, "a list of tool calls")
    for k, call in enumerate(calls):
        where = f"{field}.tool_calls[{k}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(call.get("id"), str):
            raise invalid_request(where, call, "{'id': ..., 'type': 'function', 'function': ...}")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_request(f"{where}.function.name", name, "a non-empty string")
        arguments = _arguments(function.get("arguments"), f"{where}.function.arguments")
        out.append(blocks.tool_use(call["id"], name, arguments))
    return out


def _tool_blocks(message: JSON, field: str, blocks: BlockFactory) -> list[JSON]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise invalid_request(f"{field}.tool_call_id", call_id, "the id of the tool call")
    return [blocks.tool_result(call_id, _text_of(message.get("content"), f"{field}.content"))]


def read_conversation(body: JSON, blocks: BlockFactory) -> Conversation:
    """Split ``body["messages"]`` into system prompts and provider turns (see Conversation)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("messages", messages, "a non-empty list of messages")
    system: list[str] = []
    turns: list[JSON] = []
    for i, message in enumerate(messages):
        field = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        provider_role: Role
        if role in ("system", "developer"):
            text = _text_of(message.get("content"), f"{field}.content")
            if text:
                system.append(text)
            continue
        if role == "user":
            provider_role, content = (
                "user",
                _user_blocks(message.get("content"), f"{field}.content", blocks),
            )
        elif role == "assistant":
            provider_role, content = "assistant", _assistant_blocks(message, field, blocks)
        elif role == "tool":
            provider_role, content = "user", _tool_blocks(message, field, blocks)
        else:
            expected = "one of system, developer, user, assistant, tool"
            raise invalid_request(f"{field}.role", role, expected)
        if not content:
            continue
        if turns and turns[-1]["role"] == provider_role:
            turns[-1]["content"].extend(content)
        else:
            turns.append({"role": provider_role, "content": content})
    return Conversation(system=system, turns=turns)


@dataclass(frozen=True, slots=True)
class FunctionTool:
    name: str
    description: str | None
    parameters: JSON


_EMPTY_SCHEMA: Mapping[str, Any] = {"type": "object", "properties": {}}


def read_tools(body: JSON, provider: str) -> list[FunctionTool]:
    """The function tools of the request (OpenAI allows no other tool type here)."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid_request("tools", tools, "a list of function tools")
    out: list[FunctionTool] = []
    for i, tool in enumerate(tools):
        field = f"tools[{i}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise invalid_request(field, tool, f"a function tool for {provider}")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_request(f"{field}.function.name", name, "a non-empty string")
        description = function.get("description")
        if description is not None and not isinstance(description, str):
            raise invalid_request(f"{field}.function.description", description, "a string")
        parameters = function.get("parameters", dict(_EMPTY_SCHEMA))
        if not isinstance(parameters, dict):
            raise invalid_request(f"{field}.function.parameters", parameters, "a JSON schema")
        out.append(FunctionTool(name, description or None, parameters))
    return out


ToolChoice = Literal["auto", "required", "none"] | tuple[Literal["function"], str]


def read_tool_choice(body: JSON) -> ToolChoice | None:
    """``tool_choice`` normalised: a mode, ``("function", name)``, or ``None`` when absent."""
    choice = body.get("tool_choice")
    if choice is None:
        return None
    if isinstance(choice, str) and choice in ("auto", "required", "none"):
        return cast(ToolChoice, choice)
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name:
            return ("function", name)
    expected = "'auto', 'required', 'none' or {'type': 'function', 'function': {'name': ...}}"
    raise invalid_request("tool_choice", choice, expected)


def read_max_tokens(body: JSON) -> int | None:
    """``max_completion_tokens``, else the legacy ``max_tokens``, else ``None``."""
    for field in ("max_completion_tokens", "max_tokens"):
        value = body.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid_request(field, value, "a positive integer")
        return value
    return None


def read_stop(body: JSON) -> list[str]:
    """``stop`` as a list of sequences (OpenAI allows one string or a list)."""
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return list(stop)
    raise invalid_request("stop", stop, "a string or a list of strings")


def read_number(body: JSON, field: str) -> float | None:
    """A numeric sampling parameter (``temperature``, ``top_p``) or ``None``."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_request(field, value, "a number")
    return value


def reject_unsupported(body: JSON, provider: str) -> None:
    """Refuse OpenAI features the provider cannot honour, rather than silently drop them."""
    n = body.get("n")
    if n is not None and n != 1:
        raise invalid_request("n", n, f"1 ({provider} returns one choice)")
    if body.get("logprobs") or body.get("top_logprobs"):
        field = "logprobs" if body.get("logprobs") else "top_logprobs"
        raise invalid_request(field, body[field], f"false or absent ({provider} has no logprobs)")
    response_format = body.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        expected = f"absent or {{'type': 'text'}} ({provider} has no JSON mode)"
        raise invalid_request("response_format", response_format, expected)
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise invalid_request("modalities", modalities, f"['text'] ({provider} answers in text)")


# --------------------------------------------------------------------------------------
# Writing a response

# Anthropic's stop_reason values and Bedrock Converse's stopReason values, as OpenAI
# finish_reason. Sources:
# https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_MessageStopEvent.html
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
    "malformed_model_output": "stop",
    "malformed_tool_use": "stop",
}


def finish_reason(stop_reason: Any) -> str:
    """OpenAI ``finish_reason`` for a provider stop reason; unknown reasons count as stop."""
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int | None = None) -> JSON:
    """OpenAI usage. ``prompt_tokens`` includes cached tokens, as OpenAI counts them."""
    out: JSON = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cached_tokens is not None:
        out["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    return out


def token_count(data: Mapping[str, Any], key: str) -> int:
    """A non-negative integer token count from a provider usage object (0 when absent)."""
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def tool_call(call_id: str, name: str, arguments: Any) -> JSON:
    """An OpenAI tool call; ``arguments`` is encoded as the JSON string OpenAI uses."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": orjson.dumps(arguments).decode()},
    }


def chat_completion(
    *,
    completion_id: str,
    model: str,
    text: str,
    tool_calls: list[JSON],
    stop_reason: Any,
    usage: JSON,
) -> JSON:
    """An OpenAI ``chat.completion`` with one choice."""
    message: JSON = {
        "role": "assistant",
        "content": text or (None if tool_calls else ""),
        "refusal": None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(stop_reason),
                "logprobs": None,
            }
        ],
        "usage": usage,
    }


# --------------------------------------------------------------------------------------
# Writing a stream


class ChunkStream(ABC):
    """Base of the stream translators: upstream events in, OpenAI chunks out.

    A subclass implements ``_decode`` (consume raw bytes, calling the ``_emit_*`` helpers for
    each complete upstream event) and ``_finish`` (check at end of body that the upstream
    stream completed, raising :class:`UpstreamError` if not).

    When ``_decode`` raises an :class:`UpstreamError` (an error event, a corrupt frame),
    chunks already decoded from the same ``feed`` are returned first and the error is raised
    by the next ``feed`` or by ``close``, so no delivered content is lost.
    """

    provider: str

    def __init__(self, model: str, completion_id: str | None = None) -> None:
        self.model = model
        self.completion_id = completion_id or new_completion_id()
        self.created = int(time.time())
        self._out: list[JSON] = []
        self._tool_index: dict[int, int] = {}
        self._failure: UpstreamError | None = None
        self._role_sent = False

    @abstractmethod
    def _decode(self, data: bytes) -> None: ...

    @abstractmethod
    def _finish(self) -> None: ...

    def feed(self, data: bytes) -> list[JSON]:
        if self._failure is not None:
            raise self._failure
        try:
            self._decode(data)
        except UpstreamError as exc:
            self._failure = exc
        out, self._out = self._out, []
        if self._failure is not None and not out:
            raise self._failure
        return out

    def close(self) -> list[JSON]:
        if self._failure is not None:
            raise self._failure
        self._finish()
        out, self._out = self._out, []
        return out

    def _append(self, choices: list[JSON], **extra: Any) -> None:
        self._out.append(
            {
                "id": self.completion_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": choices,
                **extra,
            }
        )

    def _chunk(self, delta: JSON, finish: str | None = None) -> None:
        self._append([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}])

    def _emit_role(self) -> None:
        """The first chunk; later helpers send it themselves if the upstream skipped it."""
        if not self._role_sent:
            self._role_sent = True
            self._chunk({"role": "assistant", "content": ""})

    def _emit_text(self, text: str) -> None:
        if text:
            self._emit_role()
            self._chunk({"content": text})

    def _emit_tool_start(self, block: int, call_id: str, name: str) -> None:
        self._emit_role()
        index = self._tool_index.setdefault(block, len(self._tool_index))
        call = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        self._chunk({"tool_calls": [call]})

    def _emit_tool_arguments(self, block: int, fragment: str) -> None:
        index = self._tool_index.get(block)
        if index is None:
            raise malformed_upstream(self.provider, f"tool input for unknown block {block}")
        if fragment:
            self._chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})

    def _emit_finish(self, stop_reason: Any) -> None:
        self._emit_role()
        self._chunk({}, finish_reason(stop_reason))

    def _emit_usage(self, usage: JSON) -> None:
        """The last chunk: no choices, the request's usage (OpenAI's ``include_usage``)."""
        self._append([], usage=usage)
