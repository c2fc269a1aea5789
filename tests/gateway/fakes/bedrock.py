"""A fake Amazon Bedrock Runtime: Converse and ConverseStream as a real ASGI app.

It checks every request's SigV4 signature by recomputing it with botocore from the secret
of the access key it was given, for service ``bedrock`` and the configured region, and
answers with whatever ``reply`` returns. Streams use the AWS event-stream framing, encoded
here (prelude, string headers, payload, both CRC32s) since botocore only ships a decoder.
"""

from __future__ import annotations

import calendar
import hmac
import struct
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

_STRING = 7  # event-stream header value type: UTF-8 string


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message: total and header lengths, prelude CRC, headers, payload, CRC."""
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name
        encoded += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    headers = {
        ":message-type": "event",
        ":event-type": event_type,
        ":content-type": "application/json",
    }
    return frame(headers, orjson.dumps(payload))


def exception(exception_type: str, message: str) -> bytes:
    headers = {
        ":message-type": "exception",
        ":exception-type": exception_type,
        ":content-type": "application/json",
    }
    return frame(headers, orjson.dumps({"message": message}))


def text_stream(
    *texts: str, stop_reason: str = "end_turn", usage: Mapping[str, int] | None = None
) -> list[bytes]:
    """The frames of a plain text answer, as ConverseStream sends them."""
    frames = [event("messageStart", {"role": "assistant"})]
    frames += [
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}}) for t in texts
    ]
    frames.append(event("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(event("messageStop", {"stopReason": stop_reason}))
    usage = usage or {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18}
    frames.append(event("metadata", {"usage": usage, "metrics": {"latencyMs": 42}}))
    return frames


@dataclass(frozen=True)
class Received:
    """A request that passed signature verification."""

    operation: str  # "converse" or "converse-stream"
    model_id: str  # decoded from the path
    raw_path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    pieces: int | None = None  # send the body in pieces of this many bytes


# Plain ASGI plumbing, shared by the fakes of this package.


async def run_lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        kind = message["type"].replace("lifespan.", "")
        await send({"type": f"lifespan.{kind}.complete"})
        if kind == "shutdown":
            return


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def send_reply(send: Any, reply: Reply) -> None:
    """Send ``reply``, its body in pieces of ``reply.pieces`` bytes when set."""
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [(k.encode(), v.encode()) for k, v in reply.headers.items()],
        }
    )
    step = reply.pieces or max(1, len(reply.body))
    for start in range(0, len(reply.body), step):
        piece = reply.body[start : start + step]
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    headers = {"content-type": "application/json", **(headers or {})}
    return Reply(status, headers, orjson.dumps(data))


def error_reply(status: int, error_type: str, message: str, **headers: str) -> Reply:
    extra = {
        "x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    }
    extra.update({k.replace("_", "-"): v for k, v in headers.items()})
    return json_reply({"message": message}, status, extra)


def stream_reply(frames: list[bytes], pieces: int | None = 7) -> Reply:
    headers = {"content-type": "application/vnd.amazon.eventstream"}
    return Reply(200, headers, b"".join(frames), pieces)


def _text_reply(text: str) -> Reply:
    return json_reply(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
            "metrics": {"latencyMs": 1},
        }
    )


class FakeBedrock:
    """ASGI app. ``secrets`` maps access key id to (secret key, session token or None)."""

    def __init__(self, region: str, secrets: Mapping[str, tuple[str, str | None]]) -> None:
        self.region = region
        self.secrets = dict(secrets)
        self.received: list[Received] = []
        self.reply: Callable[[Received], Reply] = lambda _: _text_reply("hello")

    def reset(self) -> None:
        self.received.clear()
        self.reply = lambda _: _text_reply("hello")

    def _signature_problem(
        self, method: str, host: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> str | None:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return "missing SigV4 Authorization header"
        parts = dict(
            item.strip().split("=", 1)
            for item in authorization[len("AWS4-HMAC-SHA256 ") :].split(",")
        )
        access_key, date, region, service, terminator = parts["Credential"].split("/")
        if service != "bedrock" or region != self.region or terminator != "aws4_request":
            return f"credential scope {region}/{service} is not {self.region}/bedrock"
        if access_key not in self.secrets:
            return f"unknown access key {access_key}"
        secret, token = self.secrets[access_key]
        if token is not None and headers.get("x-amz-security-token") != token:
            return "missing or wrong X-Amz-Security-Token"
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            return f"X-Amz-Date {amz_date!r} is not a SigV4 timestamp"
        if not amz_date.startswith(date) or abs(time.time() - signed_at) > 300:
            return f"X-Amz-Date {amz_date!r} is not current"
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "host and x-amz-date must be signed"
        request = AWSRequest(
            method=method,
            url=f"http://{host}{raw_path}",
            data=body,
            headers={name: headers[name] for name in signed},
        )
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(ReadOnlyCredentials(access_key, secret, token), "bedrock", region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, parts["Signature"]):
            return "The request signature we calculated does not match the signature you provided"
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await run_lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        raw_path = scope["raw_path"].decode()
        await send_reply(send, self._handle(scope["method"], raw_path, headers, body))

    def _handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        problem = self._signature_problem(method, headers.get("host", ""), raw_path, headers, body)
        if problem is not None:
            return error_reply(403, "InvalidSignatureException", problem)
        segments = raw_path.split("/")
        if method != "POST" or len(segments) != 4 or segments[1] != "model":
            return error_reply(404, "UnknownOperationException", f"no route {method} {raw_path}")
        if segments[3] not in ("converse", "converse-stream"):
            return error_reply(404, "UnknownOperationException", f"no operation {segments[3]}")
        received = Received(
            segments[3], unquote(segments[2]), raw_path, headers, orjson.loads(body)
        )
        self.received.append(received)
        return self.reply(received)
