"""Provider adapter tests, and the small driver they share.

The driver plays the gateway core's part for one attempt: ``build_request``, send it with
``httpx``, then ``translate_response`` / ``stream_translator`` / ``translate_error``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from gateway.providers.base import JSON, Adapter, UpstreamError


async def complete(adapter: Adapter, client: httpx.AsyncClient, body: JSON) -> JSON:
    """One non-streaming chat call; a non-2xx answer is raised as the translated error."""
    request = await adapter.build_request("chat", body, stream=False)
    response = await client.request(
        request.method, request.url, headers=request.headers, content=request.body
    )
    if response.status_code >= 300:
        raise adapter.translate_error(
            response.status_code, dict(response.headers), response.content
        )
    return adapter.translate_response("chat", response.status_code, response.content)


@dataclass
class Streamed:
    chunks: list[JSON]
    error: UpstreamError | None = None

    @property
    def text(self) -> str:
        return "".join(
            choice["delta"].get("content") or ""
            for chunk in self.chunks
            for choice in chunk["choices"]
        )

    def tool_calls(self) -> dict[int, dict[str, str]]:
        """Tool calls reassembled from their deltas, by OpenAI index."""
        calls: dict[int, dict[str, str]] = {}
        for chunk in self.chunks:
            for choice in chunk["choices"]:
                for delta in choice["delta"].get("tool_calls", []):
                    call = calls.setdefault(delta["index"], {"arguments": ""})
                    if "id" in delta:
                        call["id"] = delta["id"]
                        call["name"] = delta["function"]["name"]
                    call["arguments"] += delta["function"].get("arguments", "")
        return calls

    @property
    def finish_reasons(self) -> list[str]:
        return [
            choice["finish_reason"]
            for chunk in self.chunks
            for choice in chunk["choices"]
            if choice["finish_reason"] is not None
        ]


async def stream(
    adapter: Adapter, client: httpx.AsyncClient, body: JSON, *, feed_size: int | None = None
) -> Streamed:
    """One streaming chat call. ``feed_size`` re-splits the bytes (1 = byte by byte).

    An error raised by the translator ends the stream and is returned with the chunks
    delivered before it; a non-2xx answer is raised as the translated error.
    """
    request = await adapter.build_request("chat", body, stream=True)
    translator = adapter.stream_translator(body["model"])
    result = Streamed(chunks=[])
    refused: UpstreamError | None = None
    # UpstreamError is a frozen dataclass: contextlib cannot set its __traceback__, so it is
    # raised only once the ``async with`` block has been left.
    async with client.stream(
        request.method, request.url, headers=request.headers, content=request.body
    ) as response:
        if response.status_code >= 300:
            raw = await response.aread()
            refused = adapter.translate_error(response.status_code, dict(response.headers), raw)
        else:
            try:
                async for data in response.aiter_bytes():
                    step = feed_size or len(data)
                    for start in range(0, len(data), step):
                        result.chunks += translator.feed(data[start : start + step])
                result.chunks += translator.close()
            except UpstreamError as exc:
                result.error = exc
    if refused is not None:
        raise refused
    return result
