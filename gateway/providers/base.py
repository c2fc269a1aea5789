"""The provider adapter protocol.

Every upstream wire format (OpenAI, Azure OpenAI, Bedrock Converse, Anthropic Messages)
implements :class:`Adapter`. The gateway core owns the HTTP connection pool, retries and
routing; an adapter only translates:

* an OpenAI-shaped request body into the upstream's HTTP request (``build_request``);
* the upstream's complete response into an OpenAI-shaped response (``translate_response``);
* the upstream's streamed bytes into OpenAI ``chat.completion.chunk`` objects
  (``stream_translator``);
* the upstream's error into an :class:`UpstreamError` (``translate_error``).

Usage is always reported in OpenAI form (``prompt_tokens``, ``completion_tokens``,
``total_tokens``), in streams too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Operation = Literal["chat", "embeddings"]
JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One HTTP request to send upstream, fully signed and authenticated."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(eq=False, slots=True)
class UpstreamError(Exception):
    """An upstream failure translated to OpenAI's error vocabulary.

    ``retryable`` is true for 408, 429 and 5xx answers and for transport failures;
    ``retry_after`` carries the upstream's ``Retry-After`` in seconds when it sent one.
    Not frozen, and compared by identity like any exception, so that context managers
    can attach tracebacks to it.
    """

    status: int
    message: str
    type: str = "upstream_error"
    code: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    extra: JSON = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class StreamTranslator(Protocol):
    """Stateful decoder for one streamed response.

    ``feed`` receives raw bytes exactly as they arrive (frames may be split anywhere) and
    returns the OpenAI chunks that became complete. ``close`` is called once at the end of
    the upstream body and returns any final chunks; it raises :class:`UpstreamError` when
    the upstream stream ended abnormally (an error event, or a truncated frame).
    """

    def feed(self, data: bytes) -> list[JSON]: ...

    def close(self) -> list[JSON]: ...


class Adapter(Protocol):
    """Translate between the OpenAI wire format and one upstream provider."""

    provider: str

    async def build_request(self, op: Operation, body: JSON, *, stream: bool) -> UpstreamRequest:
        """Translate an OpenAI request body into the upstream HTTP request.

        ``body["model"]`` is the client's alias; the adapter substitutes its own upstream
        model or deployment. When ``stream`` is true and the wire supports it, the adapter
        asks the upstream to report usage in the stream.
        """
        ...

    def translate_response(self, op: Operation, status: int, body: bytes) -> JSON:
        """Translate a complete 2xx upstream body into an OpenAI response object."""
        ...

    def stream_translator(self, model_alias: str) -> StreamTranslator:
        """A fresh decoder for one streamed response."""
        ...

    def translate_error(self, status: int, headers: dict[str, str], body: bytes) -> UpstreamError:
        """Translate a non-2xx upstream answer; the provider's message is kept."""
        ...
