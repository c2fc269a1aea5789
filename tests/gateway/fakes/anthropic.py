"""A fake Anthropic Messages API as a real ASGI app.

It refuses requests without the right ``x-api-key`` (401) or without the expected
``anthropic-version`` (400), as Anthropic does, records the accepted ones and answers with
whatever ``reply`` returns: a JSON message, an error, or server-sent events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tests.gateway.fakes.bedrock import Reply, json_reply, read_body, run_lifespan, send_reply


def sse(event_type: str, data: Mapping[str, Any]) -> bytes:
    return b"event: " + event_type.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def error_reply(status: int, error_type: str, message: str, **headers: str) -> Reply:
    extra = {k.replace("_", "-"): v for k, v in headers.items()}
    return json_reply(error_body(error_type, message), status, extra)


def stream_reply(events: list[bytes], pieces: int | None = 5) -> Reply:
    return Reply(200, {"content-type": "text/event-stream"}, b"".join(events), pieces)


def message_start(usage: Mapping[str, int] | None = None) -> bytes:
    message: dict[str, Any] = {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [],
        "stop_reason": None,
        "usage": dict(usage or {"input_tokens": 25, "output_tokens": 1}),
    }
    return sse("message_start", {"type": "message_start", "message": message})


def text_events(
    *texts: str, stop_reason: str = "end_turn", usage: Mapping[str, int] | None = None
) -> list[bytes]:
    """The events of a plain text answer, as the Messages API streams them."""
    events = [
        message_start(),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        sse("ping", {"type": "ping"}),
    ]
    events += [
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
        )
        for text in texts
    ]
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": dict(usage or {"output_tokens": 15}),
            },
        )
    )
    events.append(sse("message_stop", {"type": "message_stop"}))
    return events


def message_reply(
    content: list[dict[str, Any]], stop_reason: str = "end_turn", **usage: int
) -> Reply:
    return json_reply(
        {
            "id": "msg_fake02",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage or {"input_tokens": 10, "output_tokens": 4},
        }
    )


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: Any


class FakeAnthropic:
    def __init__(self, api_key: str, version: str = "2023-06-01") -> None:
        self.api_key = api_key
        self.version = version
        self.received: list[Received] = []
        self.reply: Callable[[Received], Reply] = lambda _: message_reply(
            [{"type": "text", "text": "hello"}]
        )

    def reset(self) -> None:
        self.received.clear()
        self.reply = lambda _: message_reply([{"type": "text", "text": "hello"}])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await run_lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        await send_reply(send, self._handle(scope["method"], scope["path"], headers, body))

    def _handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if headers.get("x-api-key") != self.api_key:
            return error_reply(401, "authentication_error", "invalid x-api-key")
        if headers.get("anthropic-version") != self.version:
            got = headers.get("anthropic-version")
            return error_reply(400, "invalid_request_error", f"anthropic-version: got {got!r}")
        if (method, path) != ("POST", "/v1/messages"):
            return error_reply(404, "not_found_error", f"no route {method} {path}")
        if headers.get("content-type") != "application/json":
            return error_reply(400, "invalid_request_error", "content-type must be JSON")
        received = Received(headers, orjson.loads(body))
        self.received.append(received)
        return self.reply(received)
