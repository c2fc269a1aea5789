"""Anthropic Messages streaming: server-sent events in, OpenAI ``chat.completion.chunk`` out.

Event flow (https://platform.claude.com/docs/en/build-with-claude/streaming):
``message_start``, then per content block ``content_block_start``, ``content_block_delta``
(``text_delta`` or ``input_json_delta``) and ``content_block_stop``, then ``message_delta``
(stop reason and cumulative usage) and ``message_stop``; ``ping`` may appear anywhere and an
``error`` event ends the stream. Event types this gateway does not know are skipped, as the
documentation asks of clients. Server-sent events are decoded by ``gateway.providers.sse``.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.providers._anthropic_messages import (
    ERROR_STATUS,
    PROVIDER,
    error_fields,
    messages_usage,
)
from gateway.providers.base import JSON, UpstreamError
from gateway.providers.openai_shapes import ChunkStream, malformed_upstream, upstream_error
from gateway.providers.sse import SSEDecoder


def stream_error(event: JSON) -> UpstreamError:
    """An ``error`` event as an :class:`UpstreamError` keeping Anthropic's message."""
    kind, message = error_fields(event)
    status = ERROR_STATUS.get(kind or "", 500)
    return upstream_error(status, message or kind or "stream error", code=kind)


class MessagesStreamTranslator(ChunkStream):
    """One streamed Messages response; see :class:`ChunkStream` for the feed/close contract."""

    provider = PROVIDER

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self._sse = SSEDecoder()
        self._usage: JSON = {}
        self._finished = False
        self._stopped = False

    def _decode(self, data: bytes) -> None:
        for sse in self._sse.feed(data):
            try:
                event = orjson.loads(sse.data)
            except orjson.JSONDecodeError:
                raise malformed_upstream(PROVIDER, f"{sse.event} event data is not JSON") from None
            if not isinstance(event, dict):
                raise malformed_upstream(PROVIDER, f"{sse.event} event data is not a JSON object")
            self._dispatch(event.get("type", sse.event), event)

    def _finish(self) -> None:
        if not self._stopped:
            detail = "stream cut inside an event" if self._sse.pending else "no message_stop"
            raise malformed_upstream(PROVIDER, f"stream ended before message_stop ({detail})")

    def _dispatch(self, kind: Any, event: JSON) -> None:
        if kind == "message_start":
            self._message_start(event)
        elif kind == "content_block_start":
            block = event.get("content_block")
            index = event.get("index", 0)
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self._emit_tool_start(index, block.get("id", ""), block.get("name", ""))
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                self._emit_text(block["text"])
        elif kind == "content_block_delta":
            self._delta(event)
        elif kind == "message_delta":
            self._message_delta(event)
        elif kind == "message_stop":
            self._stopped = True
            if not self._finished:
                self._emit_finish(None)
            self._emit_usage(messages_usage(self._usage))
        elif kind == "error":
            raise stream_error(event)
        # ping, content_block_stop and newer event types carry nothing to translate.

    def _message_start(self, event: JSON) -> None:
        message = event.get("message")
        if isinstance(message, dict):
            if isinstance(message.get("id"), str):
                self.completion_id = message["id"]
            if isinstance(message.get("usage"), dict):
                self._usage.update(message["usage"])
        self._emit_role()

    def _delta(self, event: JSON) -> None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return
        if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
            self._emit_text(delta["text"])
        elif delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            self._emit_tool_arguments(event.get("index", 0), delta["partial_json"])
        # thinking, signature and citation deltas have no OpenAI chat counterpart.

    def _message_delta(self, event: JSON) -> None:
        usage = event.get("usage")
        if isinstance(usage, dict):
            # Counts in message_delta are cumulative: they replace those of message_start.
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        delta = event.get("delta")
        stop_reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        if stop_reason is not None and not self._finished:
            self._finished = True
            self._emit_finish(stop_reason)
