"""The ``anthropic`` provider: the Anthropic Messages API.

* ``POST {base_url}/v1/messages`` with ``x-api-key`` (read at creation from the environment
  variable that ``api_key_env`` names), ``anthropic-version`` and ``content-type``.
* Translation lives in ``_anthropic_messages`` (request, response, errors) and
  ``_anthropic_stream`` (server-sent events).
* ``max_tokens`` is required by Anthropic: the request's ``max_completion_tokens`` or
  ``max_tokens``, else ``DEFAULT_MAX_TOKENS`` (4096).
* Embeddings are not offered by Anthropic: an embeddings request is refused with a 400.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from gateway.config import AnthropicDeployment, ConfigError
from gateway.providers._anthropic_messages import (
    PROVIDER,
    error_details,
    messages_request,
    messages_response,
)
from gateway.providers._anthropic_stream import MessagesStreamTranslator
from gateway.providers.base import JSON, Operation, UpstreamError, UpstreamRequest
from gateway.providers.common import require_env
from gateway.providers.openai_shapes import parse_json_object, upstream_error


class AnthropicAdapter:
    """Adapter for one Anthropic deployment (one model behind one base URL and key)."""

    provider = PROVIDER

    def __init__(self, deployment: AnthropicDeployment, api_key: str) -> None:
        self.model = deployment.model
        self.url = f"{str(deployment.base_url).rstrip('/')}/v1/messages"
        self._headers = {
            "x-api-key": api_key,
            "anthropic-version": deployment.anthropic_version,
            "content-type": "application/json",
        }

    def __repr__(self) -> str:  # never show the key
        return f"AnthropicAdapter(model={self.model!r}, url={self.url!r})"

    async def build_request(self, op: Operation, body: JSON, *, stream: bool) -> UpstreamRequest:
        if op != "chat":
            raise UpstreamError(
                status=400,
                message=f"model {body.get('model')!r} is served by the Anthropic Messages API, "
                f"which does not provide {op}",
                type="invalid_request_error",
                code="unsupported_operation",
            )
        payload = orjson.dumps(messages_request(body, model=self.model, stream=stream))
        accept = "text/event-stream" if stream else "application/json"
        headers = {**self._headers, "accept": accept}
        return UpstreamRequest(method="POST", url=self.url, headers=headers, body=payload)

    def translate_response(self, op: Operation, status: int, body: bytes) -> JSON:
        return messages_response(parse_json_object(PROVIDER, body), model=self.model)

    def stream_translator(self, model_alias: str) -> MessagesStreamTranslator:
        return MessagesStreamTranslator(model_alias)

    def translate_error(self, status: int, headers: dict[str, str], body: bytes) -> UpstreamError:
        kind, message = error_details(body)
        if message is None:
            message = body.decode("utf-8", "replace").strip() or f"Anthropic answered {status}"
        return upstream_error(status, message, code=kind, headers=headers)


def create(deployment: AnthropicDeployment, environ: Mapping[str, str]) -> AnthropicAdapter:
    """The adapter for ``deployment``; raises ``ConfigError`` naming a missing key variable."""
    if not deployment.api_key_env:
        raise ConfigError(
            f"anthropic deployment {deployment.model!r} (region {deployment.region}): "
            "api_key_env: got nothing; expected the name of the environment variable that "
            "holds the Anthropic API key"
        )
    return AnthropicAdapter(deployment, require_env(environ, deployment.api_key_env))
