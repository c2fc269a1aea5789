"""A fake OpenAI-compatible upstream (OpenAI, vLLM) as a real ASGI app.

It records every request it receives, answers chat completions (plain, tools, streamed,
with ``stream_options.include_usage``) and embeddings, and can be scripted to fail:
``fake.queue(Reply(status=503, headers={"retry-after": "0"}))`` makes the next request
fail, ``Reply(break_after=2)`` breaks a stream after two chunks, and so on.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """How to answer one request; the default is a normal answer."""

    status: int = 200
    error: Any = None
    """the JSON body of a non-2xx answer (default: an OpenAI error object)"""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    break_after: int | None = None
    """streams: send this many chunks, then break the connection"""
    error_event_after: int | None = None
    """streams: send this many chunks, then an error event"""
    omit_done: bool = False
    """streams: end the body without the [DONE] marker"""


def words(text: str) -> list[str]:
    return text.split() or ["ok"]


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


class FakeOpenAI:
    """``base_path`` is the path part of the deployment's base URL (``/v1``)."""

    def __init__(self, *, name: str = "fake", base_path: str = "/v1") -> None:
        self.name = name
        self.base_path = base_path
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()

    # -- scripting ---------------------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def _next(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Reply()

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    @property
    def calls(self) -> int:
        return len(self.requests)

    # -- routing (overridden by the Azure fake) -----------------------------------------

    def operation(self, path: str, query: dict[str, list[str]]) -> str | None:
        if path == f"{self.base_path}/chat/completions":
            return "chat"
        if path == f"{self.base_path}/embeddings":
            return "embeddings"
        return None

    def reject(self, recorded: Recorded) -> tuple[int, Any] | None:
        """A (status, body) refusal before the script is consulted; None to proceed."""
        return None

    # -- answers -----------------------------------------------------------------------

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        text = f"echo: {last_user_text(body)}"
        message: dict[str, Any] = {"role": "assistant", "content": text}
        finish = "stop"
        if body.get("tools"):
            tool = body["tools"][0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": tool, "arguments": '{"city": "Paris"}'},
                    }
                ],
            }
            finish = "tool_calls"
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self.usage(body, text),
        }

    def usage(self, body: dict[str, Any], text: str) -> dict[str, int]:
        prompt = len(words(last_user_text(body)))
        completion = len(words(text))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def chunks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        text = f"echo: {last_user_text(body)}"
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": body.get("model"),
        }
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": (" " if i else "") + w} for i, w in enumerate(words(text))]
        out = [
            {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
        ]
        out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if include_usage:
            for chunk in out:
                chunk["usage"] = None
            out.append({**base, "choices": [], "usage": self.usage(body, text)})
        return out

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return {
            "object": "list",
            "model": body.get("model"),
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, float(i)]}
                for i in range(len(inputs))
            ],
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }

    # -- ASGI --------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = b""
        more = True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        recorded = Recorded(
            method=scope["method"],
            path=scope["path"],
            query=parse_qs(scope["query_string"].decode()),
            headers={k.decode(): v.decode() for k, v in scope["headers"]},
            body=orjson.loads(raw) if raw else None,
        )
        with self._lock:
            self.requests.append(recorded)
        refusal = self.reject(recorded)
        if refusal is not None:
            await self._json(send, *refusal)
            return
        op = self.operation(recorded.path, recorded.query)
        if op is None:
            await self._json(send, 404, {"error": {"message": f"no route {recorded.path}"}})
            return
        reply = self._next()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status >= 300:
            error = reply.error or {
                "error": {
                    "message": f"{self.name} says {reply.status}",
                    "type": "invalid_request_error" if reply.status < 500 else "server_error",
                    "code": f"fake_{reply.status}",
                    "param": None,
                }
            }
            await self._json(send, reply.status, error, reply.headers)
            return
        body = recorded.body
        if op == "embeddings":
            await self._json(send, 200, self.embeddings(body))
        elif body.get("stream"):
            await self._stream(send, body, reply)
        else:
            await self._json(send, 200, self.completion(body))

    async def _json(
        self, send: Any, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(payload)})

    async def _stream(self, send: Any, body: dict[str, Any], reply: Reply) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for i, chunk in enumerate(self.chunks(body)):
            if reply.break_after is not None and i == reply.break_after:
                raise ConnectionAbortedError("fake upstream breaks the stream")
            if reply.error_event_after is not None and i == reply.error_event_after:
                event = {"error": {"message": "fake mid-stream failure", "type": "server_error"}}
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: " + orjson.dumps(event) + b"\n\n",
                        "more_body": True,
                    }
                )
                break
            data = b"data: " + orjson.dumps(chunk) + b"\n\n"
            await send({"type": "http.response.body", "body": data, "more_body": True})
        end = b"" if reply.omit_done or reply.error_event_after is not None else b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": end})
