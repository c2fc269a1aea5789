"""ConverseStream: AWS event-stream frames in, OpenAI ``chat.completion.chunk`` objects out.

Frames are decoded with botocore's event-stream parser, which checks both CRCs and waits for
the rest of a frame split at any byte. Each ``:message-type: event`` frame carries one
ConverseStream event as JSON; ``exception`` (and generic ``error``) frames end the stream
with an :class:`UpstreamError`.
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

from gateway.providers._bedrock_converse import PROVIDER, converse_usage, error_message
from gateway.providers.base import JSON, UpstreamError
from gateway.providers.openai_shapes import ChunkStream, malformed_upstream, upstream_error

# HTTP status of each exception event ConverseStream can send (same source as above).
STREAM_EXCEPTIONS: Mapping[str, int] = {
    "internalServerException": 500,
    "modelStreamErrorException": 424,
    "serviceUnavailableException": 503,
    "throttlingException": 429,
    "validationException": 400,
}
# The documentation asks callers to retry these although their status is not 429 or 5xx.
_RETRY_ANYWAY = frozenset({"modelStreamErrorException"})


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def stream_exception(headers: Mapping[str, Any], payload: bytes) -> UpstreamError:
    """An exception or error frame as an :class:`UpstreamError` keeping Bedrock's message."""
    name = _text(headers.get(":exception-type")) or _text(headers.get(":error-code")) or ""
    message = _text(headers.get(":error-message")) or error_message(payload)
    status = STREAM_EXCEPTIONS.get(name, 500)
    error = upstream_error(status, message or name or "stream error", code=name or None)
    return dataclasses.replace(error, retryable=True) if name in _RETRY_ANYWAY else error


class ConverseStreamTranslator(ChunkStream):
    """One ConverseStream response; see :class:`ChunkStream` for the feed/close contract."""

    provider = PROVIDER

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self._buffer = EventStreamBuffer()
        self._unparsed = 0  # bytes received that are not yet part of a complete frame
        self._stopped = False
        self._usage_seen = False

    def _decode(self, data: bytes) -> None:
        self._buffer.add_data(data)
        self._unparsed += len(data)
        try:
            for message in self._buffer:
                self._unparsed -= message.prelude.total_length
                self._handle(message)
        except ParserError as exc:
            raise malformed_upstream(PROVIDER, f"corrupt event-stream frame: {exc}") from None

    def _finish(self) -> None:
        if self._unparsed:
            detail = f"stream cut inside an event-stream frame ({self._unparsed} bytes left over)"
            raise malformed_upstream(PROVIDER, detail)
        if not self._stopped:
            raise malformed_upstream(PROVIDER, "stream ended before messageStop")
        if not self._usage_seen:
            raise malformed_upstream(PROVIDER, "stream ended without its usage metadata")

    def _handle(self, message: EventStreamMessage) -> None:
        headers = message.headers
        kind = headers.get(":message-type")
        if kind in ("exception", "error"):
            raise stream_exception(headers, message.payload)
        if kind != "event":
            raise malformed_upstream(PROVIDER, f"unexpected :message-type {kind!r}")
        event_type = headers.get(":event-type")
        try:
            event = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            raise malformed_upstream(PROVIDER, f"{event_type} event is not JSON") from None
        if not isinstance(event, dict):
            raise malformed_upstream(PROVIDER, f"{event_type} event is not a JSON object")
        self._dispatch(event_type, event)

    def _dispatch(self, event_type: Any, event: JSON) -> None:
        if event_type == "messageStart":
            self._emit_role()
        elif event_type == "contentBlockStart":
            start = event.get("start")
            use = start.get("toolUse") if isinstance(start, dict) else None
            if isinstance(use, dict):
                block = event.get("contentBlockIndex", 0)
                self._emit_tool_start(block, use.get("toolUseId", ""), use.get("name", ""))
        elif event_type == "contentBlockDelta":
            self._delta(event)
        elif event_type == "messageStop":
            self._stopped = True
            self._emit_finish(event.get("stopReason"))
        elif event_type == "metadata":
            raw = event.get("usage")
            self._usage_seen = True
            self._emit_usage(converse_usage(raw if isinstance(raw, dict) else {}))
        # contentBlockStop and events this gateway does not translate (reasoning, citations,
        # guardrail traces) carry nothing for an OpenAI chunk.

    def _delta(self, event: JSON) -> None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return
        if isinstance(delta.get("text"), str):
            self._emit_text(delta["text"])
        elif isinstance(delta.get("toolUse"), dict):
            fragment = delta["toolUse"].get("input")
            if isinstance(fragment, str):
                self._emit_tool_arguments(event.get("contentBlockIndex", 0), fragment)
