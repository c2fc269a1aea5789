"""The upstream HTTP/1.1 client against raw loopback servers that misbehave on purpose:
keep-alive and its limits, framing and codings, timeouts, broken peers, TLS."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.config import Timeouts, UpstreamPool
from gateway.providers.base import UpstreamError, UpstreamRequest
from gateway.upstream import ClientPool, exchange

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Peer:
    """A raw HTTP/1.1 server: ``handler`` serves each connection; connections are counted."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = await reader.readexactly(length)
        self.requests.append(head + body)
        return head + body


@asynccontextmanager
async def running(
    handler_for: Callable[[Peer], Handler], tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[Peer, str]]:
    peer = Peer(lambda r, w: handler_for(peer)(r, w))
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    try:
        yield peer, f"{scheme}://localhost:{port}" if tls else f"http://127.0.0.1:{port}"
    finally:
        server.close()


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def keep_alive(reply: bytes, delay: float = 0.0) -> Callable[[Peer], Handler]:
    """Answer every request on the connection with ``reply``."""

    def handler_for(peer: Peer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await peer.read_request(reader)
                await asyncio.sleep(delay)
                writer.write(reply)
                await writer.drain()

        return handle

    return handler_for


def once(reply: bytes) -> Callable[[Peer], Handler]:
    """Answer one request with ``reply``, then close the connection."""

    def handler_for(peer: Peer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await peer.read_request(reader)
            writer.write(reply)
            await writer.drain()

        return handle

    return handler_for


def pool(**timeouts: float) -> ClientPool:
    return ClientPool(Timeouts(**timeouts), UpstreamPool())


async def post(client: ClientPool, url: str, **headers: str) -> tuple[int, bytes]:
    response = await exchange(
        client, UpstreamRequest("POST", f"{url}/v1/x", headers, b"{}"), stream=False
    )
    return response.status, response.content


async def test_connections_are_kept_alive_and_reused() -> None:
    async with running(keep_alive(answer(b"ok"))) as (peer, url):
        client = pool()
        try:
            for _ in range(5):
                assert await post(client, url) == (200, b"ok")
        finally:
            await client.aclose()
    assert (peer.connections, len(peer.requests)) == (1, 5)
    head = peer.requests[0].split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"post /v1/x http/1.1\r\nhost: 127.0.0.1:")
    assert b"content-length: 2" in head


async def test_an_answer_with_connection_close_is_not_reused() -> None:
    async with running(keep_alive(answer(b"bye", "connection: close"))) as (peer, url):
        client = pool()
        try:
            for _ in range(3):
                assert await post(client, url) == (200, b"bye")
        finally:
            await client.aclose()
    assert peer.connections == 3


async def test_a_connection_the_upstream_closed_while_idle_is_replaced() -> None:
    async with running(once(answer(b"once"))) as (peer, url):  # keep-alive promised, not kept
        client = pool()
        try:
            assert await post(client, url) == (200, b"once")
            await asyncio.sleep(0.05)  # the close reaches the idle connection
            assert await post(client, url) == (200, b"once")
        finally:
            await client.aclose()
    assert peer.connections == 2


async def test_chunked_gzip_and_close_delimited_bodies_are_decoded() -> None:
    payload = b'{"answer": "' + b"x" * 5000 + b'"}'
    packed = gzip.compress(payload)
    chunked = (
        b"".join(
            b"%x\r\n%s\r\n" % (len(packed[i : i + 700]), packed[i : i + 700])
            for i in range(0, len(packed), 700)
        )
        + b"0\r\n\r\n"
    )
    replies = [
        answer(chunked, "transfer-encoding: chunked", "content-encoding: gzip"),
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + payload,  # ends with the connection
    ]
    for reply in replies:
        async with running(once(reply)) as (_, url):
            client = pool()
            try:
                assert await post(client, url) == (200, payload)
            finally:
                await client.aclose()


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (answer(b"x", "content-encoding: br"), "upstream_disconnected"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", "upstream_disconnected"),
        (b"NOT HTTP AT ALL\r\n\r\n", "upstream_disconnected"),
    ],
    ids=["unsupported-coding", "truncated", "garbage"],
)
async def test_broken_answers_are_retryable_upstream_errors(reply: bytes, code: str) -> None:
    async with running(once(reply)) as (_, url):
        client = pool()
        try:
            with pytest.raises(UpstreamError) as caught:
                await post(client, url)
        finally:
            await client.aclose()
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (502, code, True)


async def test_a_silent_upstream_times_out() -> None:
    async with running(keep_alive(answer(b"late"), delay=5)) as (_, url):
        client = pool(read=0.2)
        try:
            with pytest.raises(UpstreamError) as caught:
                await post(client, url)
        finally:
            await client.aclose()
    assert (caught.value.status, caught.value.code) == (504, "upstream_timeout")


async def test_a_stream_that_stalls_after_its_head_times_out() -> None:
    def handler_for(peer: Peer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await peer.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()
            await asyncio.sleep(5)

        return handle

    async with running(handler_for) as (_, url):
        client = pool(read=0.2)
        try:
            request = UpstreamRequest("POST", f"{url}/v1/x", {}, b"{}")
            response = await exchange(client, request, stream=True)
            received = []
            with pytest.raises(UpstreamError) as caught:
                async for data in response.aiter_bytes():
                    received.append(data)
            await response.aclose()
        finally:
            await client.aclose()
    assert received == [b"first"]
    assert caught.value.code == "upstream_timeout"


async def test_a_large_stream_arrives_whole_through_backpressure() -> None:
    pieces = [bytes([65 + i % 26]) * 65536 for i in range(40)]  # 2.6 MB

    def handler_for(peer: Peer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await peer.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for piece in pieces:
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            await peer.read_request(reader)  # the connection is reused afterwards
            writer.write(answer(b"again"))
            await writer.drain()

        return handle

    async with running(handler_for) as (peer, url):
        client = pool()
        try:
            request = UpstreamRequest("POST", f"{url}/v1/x", {}, b"{}")
            response = await exchange(client, request, stream=True)
            received = bytearray()
            async for data in response.aiter_bytes():
                received += data
                await asyncio.sleep(0)  # a slow reader
            await response.aclose()
            assert await post(client, url) == (200, b"again")
        finally:
            await client.aclose()
    assert bytes(received) == b"".join(pieces)
    assert peer.connections == 1


async def test_the_pool_limit_queues_callers_and_bounds_their_wait() -> None:
    async with running(keep_alive(answer(b"ok"), delay=0.05)) as (peer, url):
        client = ClientPool(Timeouts(), UpstreamPool(max_connections=1))
        try:
            results = await asyncio.gather(*(post(client, url) for _ in range(4)))
        finally:
            await client.aclose()
    assert results == [(200, b"ok")] * 4
    assert peer.connections == 1

    async with running(keep_alive(answer(b"ok"), delay=2)) as (_, url):
        client = ClientPool(Timeouts(pool=0.1), UpstreamPool(max_connections=1))
        try:
            first = asyncio.create_task(post(client, url))
            await asyncio.sleep(0.05)
            with pytest.raises(UpstreamError) as caught:
                await post(client, url)
            first.cancel()
        finally:
            await client.aclose()
    assert caught.value.code == "upstream_timeout"


async def test_header_injection_is_refused_before_anything_is_sent() -> None:
    async with running(keep_alive(answer(b"ok"))) as (peer, url):
        client = pool()
        try:
            with pytest.raises(UpstreamError) as caught:
                await post(client, url, authorization="Bearer k\r\nx-injected: 1")
        finally:
            await client.aclose()
    assert (caught.value.code, caught.value.retryable) == ("upstream_invalid", False)
    assert peer.requests == []


async def test_an_unreachable_upstream_is_retryable() -> None:
    async with running(keep_alive(answer(b"ok"))) as (_, url):
        pass  # closed: nothing listens on the port any more
    client = pool()
    try:
        with pytest.raises(UpstreamError) as caught:
            await post(client, url)
    finally:
        await client.aclose()
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (
        502,
        "upstream_unreachable",
        True,
    )


def self_signed(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for ``localhost`` and a client context that trusts only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_tls_is_verified(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    async with running(keep_alive(answer(b"secure")), tls=server_tls) as (peer, url):
        trusting = ClientPool(Timeouts(), UpstreamPool(), tls=client_tls)
        default = pool()  # the system's trust store does not know this certificate
        try:
            assert await post(trusting, url) == (200, b"secure")
            assert await post(trusting, url) == (200, b"secure")
            with pytest.raises(UpstreamError) as caught:
                await post(default, url)
        finally:
            await trusting.aclose()
            await default.aclose()
    assert caught.value.code == "upstream_unreachable"
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert len(peer.requests) == 2


async def test_a_path_that_would_split_the_request_line_is_refused() -> None:
    async with running(keep_alive(answer(b"ok"))) as (peer, url):
        client = pool()
        try:
            request = UpstreamRequest("POST", f"{url}/v1/x y", {}, b"{}")
            with pytest.raises(UpstreamError) as caught:
                await exchange(client, request, stream=False)
        finally:
            await client.aclose()
    assert caught.value.code == "upstream_invalid"
    assert "/v1/x y" in caught.value.message and "path" in caught.value.message
    assert peer.requests == []
