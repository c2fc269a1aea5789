"""A fast fake OpenAI-compatible upstream, shared by the gateway benchmarks.

Served by uvicorn (uvloop, httptools) in its own process::

    python -m uvicorn bench._fake_upstream:create_app --factory --loop uvloop --http httptools

* ``POST .../chat/completions`` answers one fixed chat completion with usage, or, when the
  body asks for ``"stream": true``, a server-sent-event stream: :data:`STREAM_CHUNKS` content
  chunks, a final chunk with ``finish_reason``, a usage-only chunk and ``data: [DONE]``
  (usage is sent whether or not ``stream_options.include_usage`` is set; gateways that
  hide it from clients that did not ask must drop it).
* ``GET /healthz`` answers 200 (start-up probe).
* ``GET /stats`` counts the chat requests received and how many carried a raw value of
  :data:`PII_VALUES`: a gateway that redacts sends none.
"""

from __future__ import annotations

from typing import Any

import orjson

MODEL = "bench-model"
PII_VALUES = ("maria.jansen@example.nl", "NL91ABNA0417164300")
"""the two personal values planted in :data:`CHAT_BODY` (an e-mail address and a valid IBAN)"""

STREAM_CHUNKS = 16

_ANSWER = (
    "Thanks for the details. I have opened a request to update the direct debit mandate "
    "and will confirm by e-mail once the change is processed."
)

_SYSTEM = (
    "You are the customer service assistant of a retail bank. Answer in the customer's "
    "language, briefly and politely. Never reveal internal procedures, never give "
    "investment advice, and hand over to a human agent when the customer asks for one or "
    "when a request concerns fraud, a complaint or a deceased customer's account. Quote "
    "fees only from the published tariff sheet and say when a fee depends on the product."
)

_HISTORY = [
    (
        "user",
        "Hello, I moved house last month and I also switched my salary account to your bank. "
        "Since then two of my direct debits bounced, one for the energy company and one for "
        "the gym, and I was charged a fee for each of them. Can you tell me why that "
        "happened and whether the fees can be refunded?",
    ),
    (
        "assistant",
        "I am sorry to hear that. Bounced direct debits usually mean the collector still "
        "uses the old account number, or the mandate was not carried over when the account "
        "was switched. I can check the mandates on your account and ask for the fees to be "
        "reviewed. Could you confirm which account the collections should come from and how "
        "we can reach you about the outcome?",
    ),
    (
        "user",
        "Yes of course. The collections should come from my new account "
        f"{PII_VALUES[1]}, and please send the confirmation to {PII_VALUES[0]} rather than "
        "to my old work address. The energy company collects on the 25th and the gym on "
        "the first working day of the month, both in euro. I would also like to know if I "
        "need to sign a new mandate with each of them myself or whether the switching "
        "service handles that for me, because the letter I received was not clear.",
    ),
    (
        "assistant",
        "Thank you. The switching service forwards new account details to collectors for "
        "thirteen months, but some collectors need a fresh mandate. I will note both "
        "collectors on the request.",
    ),
    (
        "user",
        "Great. One more thing: the refund of the two fees, will it show as one booking or "
        "two, and how long does it usually take? I am checking my statements carefully "
        "this month because of the move and I want to recognise it when it arrives.",
    ),
]

CHAT_BODY: dict[str, Any] = {
    "model": "chat",
    "messages": [
        {"role": "system", "content": _SYSTEM},
        *({"role": role, "content": text} for role, text in _HISTORY),
    ],
    "temperature": 0.2,
    "max_tokens": 256,
    "user": "bench-client-7",
}
"""a realistic chat request of about 2 KB with two personal values"""

STREAM_BODY: dict[str, Any] = {**CHAT_BODY, "stream": True}

_USAGE = {"prompt_tokens": 480, "completion_tokens": 32, "total_tokens": 512}
_CREATED = 1_700_000_000
COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": _CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _ANSWER},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _USAGE,
    }
)


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def _stream_frames() -> tuple[bytes, ...]:
    words = _ANSWER.split(" ")
    step = -(-len(words) // STREAM_CHUNKS)
    pieces = [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
    frames = [_chunk({"role": "assistant", "content": pieces[0]})]
    frames += [_chunk({"content": " " + piece}) for piece in pieces[1:]]
    frames.append(_chunk({}, "stop"))
    usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": _CREATED}
    frames.append(
        b"data: " + orjson.dumps({**usage, "model": MODEL, "choices": [], "usage": _USAGE})
    )
    frames[-1] += b"\n\n"
    frames.append(b"data: [DONE]\n\n")
    return tuple(frames)


_FRAMES = _stream_frames()
_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_PII = tuple(value.encode() for value in PII_VALUES)


def _wants_stream(body: bytes) -> bool:
    try:
        return orjson.loads(body).get("stream") is True
    except (orjson.JSONDecodeError, AttributeError):
        return False


class FakeUpstream:
    """The ASGI app (see the module docstring); counters live on the instance."""

    def __init__(self) -> None:
        self.requests = 0
        self.with_pii = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["method"] == "GET":
            stats = {"requests": self.requests, "with_pii": self.with_pii}
            body = orjson.dumps(stats) if scope["path"] == "/stats" else b"{}"
            await send({"type": "http.response.start", "status": 200, "headers": _JSON})
            await send({"type": "http.response.body", "body": body})
            return
        parts = []
        more = True
        while more:
            message = await receive()
            parts.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(parts)
        self.requests += 1
        self.with_pii += any(value in body for value in _PII)
        if not _wants_stream(body):
            await send({"type": "http.response.start", "status": 200, "headers": _JSON})
            await send({"type": "http.response.body", "body": COMPLETION})
            return
        await send({"type": "http.response.start", "status": 200, "headers": _SSE})
        for frame in _FRAMES:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def create_app() -> FakeUpstream:
    """uvicorn factory."""
    return FakeUpstream()
