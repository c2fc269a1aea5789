"""Minimal ASGI plumbing: the request wrapper and the two response kinds.

Kept deliberately small: the gateway serves a handful of JSON endpoints and one stream,
and every byte of overhead here is paid on each proxied call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from gateway.errors import too_large, unsupported_media_type

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_TYPE = b"application/json"
_JSON_HEADERS = ((b"content-type", JSON_TYPE),)
_SSE_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)


class Request:
    __slots__ = ("_receive", "headers", "method", "path", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: dict[str, str] = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
        }

    async def body(self, limit: int) -> bytes:
        """The whole body; 413 as soon as it is known to exceed ``limit`` bytes."""
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large(limit)
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
            more = message.get("more_body", False)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def json_body(self, limit: int) -> bytes:
        """The body of a JSON request: 415 unless the content type is JSON, 413 if too big."""
        media_type = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise unsupported_media_type(media_type)
        return await self.body(limit)


def _headers(extra: dict[str, str] | None) -> list[tuple[bytes, bytes]]:
    if not extra:
        return []
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]


class Response:
    """A complete response, sent with its ``content-length`` (not chunked)."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    async def __call__(self, send: Send) -> None:
        headers = [*self.headers, (b"content-length", b"%d" % len(self.body))]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return raw_json_response(status, orjson.dumps(payload), headers)


def raw_json_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(status, body, [*_JSON_HEADERS, *_headers(headers)])


class StreamResponse:
    """A server-sent-event stream; the iterator yields ready-made event bytes."""

    __slots__ = ("events", "status")

    def __init__(self, events: AsyncIterator[bytes], status: int = 200) -> None:
        self.events = events
        self.status = status

    async def __call__(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status, "headers": list(_SSE_HEADERS)}
        )
        async for part in self.events:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


AnyResponse = Response | StreamResponse
