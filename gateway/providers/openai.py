"""OpenAI-compatible upstreams (OpenAI, vLLM, and anything speaking the same wire).

The request body passes through untouched except for ``model`` (the upstream's model
replaces the client's alias) and, for streams, ``stream_options.include_usage`` (forced on
so usage is always known; the gateway hides the usage chunk from clients that did not ask).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.config import OpenAIDeployment
from gateway.providers.base import JSON, Adapter, Operation, UpstreamError, UpstreamRequest
from gateway.providers.common import openai_style_error, require_env
from gateway.providers.sse import SSEDecoder

_PATHS: Mapping[Operation, str] = {"chat": "/chat/completions", "embeddings": "/embeddings"}


def stream_body(payload: JSON) -> JSON:
    """``payload`` asking the upstream to report usage at the end of the stream."""
    options = payload.get("stream_options")
    merged = dict(options) if isinstance(options, dict) else {}
    merged["include_usage"] = True
    return {**payload, "stream_options": merged}


def decode_object(body: bytes, provider: str) -> JSON:
    """A JSON object from an upstream 2xx body, or a 502-style :class:`UpstreamError`."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamError(
            502,
            f"{provider} upstream returned a body that is not a JSON object",
            code="bad_upstream_response",
            retryable=True,
        )
    return data


class OpenAIStreamTranslator:
    """SSE ``data:`` lines of ``chat.completion.chunk`` objects, ended by ``[DONE]``.

    An error event (or a chunk that is not a JSON object) arriving in the same read as good
    chunks does not discard them: as in :class:`~gateway.providers.openai_shapes.ChunkStream`,
    the chunks decoded before it are returned first, and the error is raised by the next
    ``feed`` or by ``close``.
    """

    __slots__ = ("_alias", "_done", "_failure", "_provider", "_sse")

    def __init__(self, alias: str, provider: str) -> None:
        self._alias = alias
        self._provider = provider
        self._sse = SSEDecoder()
        self._done = False
        self._failure: UpstreamError | None = None

    def feed(self, data: bytes) -> list[JSON]:
        if self._failure is not None:
            raise self._failure
        chunks: list[JSON] = []
        try:
            for event in self._sse.feed(data):
                if event.data == "[DONE]":
                    self._done = True
                    continue
                chunk = decode_object(event.data.encode(), self._provider)
                error = chunk.get("error")
                if error is not None:
                    body = orjson.dumps({"error": error})
                    raise openai_style_error(502, {}, body, self._provider)
                if "model" in chunk:
                    chunk["model"] = self._alias
                chunks.append(chunk)
        except UpstreamError as exc:
            self._failure = exc
            if not chunks:
                raise
        return chunks

    def close(self) -> list[JSON]:
        if self._failure is not None:
            raise self._failure
        if not self._done:
            raise UpstreamError(
                502,
                f"the {self._provider} upstream stream ended before its [DONE] marker",
                code="stream_truncated",
            )
        return []


class OpenAIWire:
    """Requests and answers in OpenAI's wire format; subclasses say where and how to auth."""

    provider = "openai"

    def __init__(self, urls: Mapping[Operation, str], headers: Mapping[str, str]) -> None:
        self._urls = dict(urls)
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        self._headers.update(headers)

    def url(self, op: Operation) -> str:
        return self._urls[op]

    async def auth_headers(self) -> dict[str, str]:
        return self._headers

    def prepare(self, body: JSON) -> JSON:
        return body

    async def build_request(self, op: Operation, body: JSON, *, stream: bool) -> UpstreamRequest:
        payload = self.prepare(body)
        if stream:
            payload = stream_body(payload)
        headers = dict(await self.auth_headers())
        return UpstreamRequest("POST", self.url(op), headers, orjson.dumps(payload))

    def translate_response(self, op: Operation, status: int, body: bytes) -> JSON:
        return decode_object(body, self.provider)

    def stream_translator(self, model_alias: str) -> OpenAIStreamTranslator:
        return OpenAIStreamTranslator(model_alias, self.provider)

    def translate_error(self, status: int, headers: dict[str, str], body: bytes) -> UpstreamError:
        return openai_style_error(status, headers, body, self.provider)


class OpenAIAdapter(OpenAIWire):
    """An OpenAI-compatible server at ``base_url`` (``.../v1``), bearer auth if a key is set."""

    def __init__(self, base_url: str, model: str, api_key: str | None) -> None:
        base = base_url.rstrip("/")
        auth = {"authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__({op: base + path for op, path in _PATHS.items()}, auth)
        self._model = model

    def prepare(self, body: JSON) -> JSON:
        return {**body, "model": self._model}


def create(deployment: Any, environ: Mapping[str, str]) -> Adapter:
    if not isinstance(deployment, OpenAIDeployment):
        raise TypeError(f"expected an OpenAIDeployment, got {type(deployment).__name__}")
    key = require_env(environ, deployment.api_key_env) if deployment.api_key_env else None
    return OpenAIAdapter(str(deployment.base_url), deployment.model, key)
