"""The HTTP/1.1 client of the proxied exchange: pooled keep-alive connections per origin.

Every model call crosses this code twice (request out, answer back), so it is built for that
one job from well-kept parts: asyncio's transports (TCP, and TLS through :mod:`ssl` with
certificate and host-name verification) and httptools, the llhttp parser uvicorn uses,
which does all the parsing (status line, headers, chunked framing). What is left here is the
request head, the pool and the timers. On the same loopback upstream it costs about a quarter
of aiohttp's CPU per request (docs/benchmarks.md, "Where the time goes").

What it does, and deliberately does not do:

* one request at a time per connection; a connection goes back to the pool only after a
  complete answer that both sides keep alive, otherwise it is closed;
* no redirects, cookies, proxies, ``.netrc``, or default headers (user agent,
  ``Accept-Encoding``); a ``gzip`` or ``deflate`` answer is still decoded, any other
  ``content-encoding`` is refused;
* header names and values with CR, LF or NUL are refused before anything is sent;
* timeouts: ``connect`` (TCP and TLS set-up), ``pool`` (waiting for a free connection),
  ``read`` (every silence while waiting for the answer) and an overall ``deadline`` for the
  answer's head, or the whole answer when it is read at once.

Errors: :class:`TimeoutError` for any timeout, :class:`ConnectFailed` when no connection can
be made, :class:`Disconnected` when the connection breaks or the answer is not valid HTTP.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

_BUFFER_HIGH = 256 * 1024
"""buffered body bytes of a streamed answer above which reading pauses"""
_FORBIDDEN = frozenset("\r\n\0")
_DECODERS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
"""zlib ``wbits`` per content coding: gzip framing, zlib framing (RFC 9110, section 8.4.1)"""


class ConnectFailed(OSError):
    """No connection to the upstream could be made (DNS, refused, TLS)."""


class Disconnected(OSError):
    """The connection broke, or the upstream's answer is not valid HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class Limits:
    connect: float
    pool: float
    read: float
    max_connections: int
    keepalive_seconds: float


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed URL: the origin's pool key and the bytes of the request line and Host."""

    origin: tuple[str, str, int]
    head: bytes
    """``POST /path?query HTTP/1.1\\r\\nhost: ...\\r\\n`` without the method"""


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"upstream URL {url!r}: expected http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"upstream URL {url!r}: credentials in the URL are not supported")
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname
    netloc = f"[{host}]" if ":" in host else host
    if port != default:
        netloc = f"{netloc}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not _FORBIDDEN.isdisjoint(path) or " " in path:
        raise ValueError(f"upstream URL {url!r}: the path must not hold spaces, CR, LF or NUL")
    return Target((scheme, host, port), f" {path} HTTP/1.1\r\nhost: {netloc}\r\n".encode())


def _check_header(name: str, value: str) -> None:
    if not _FORBIDDEN.isdisjoint(name) or not _FORBIDDEN.isdisjoint(value):
        raise ValueError(f"upstream request header {name!r}: CR, LF and NUL are not allowed")


def encode_head(method: str, target: Target, headers: Mapping[str, str], length: int) -> bytes:
    lines = [method.encode(), target.head]
    for name, value in headers.items():
        _check_header(name, value)
        lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    lines.append(b"content-length: %d\r\n\r\n" % length)
    return b"".join(lines)


class Connection(asyncio.Protocol):
    """One keep-alive connection; it carries one exchange at a time."""

    def __init__(self, pool: OriginPool) -> None:
        self._pool = pool
        self._loop = pool.loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.counted = False
        """counted against the pool's ``max_connections``"""
        self.idle_since = 0.0
        self._reset(0.0, whole=True)

    def _reset(self, deadline: float, *, whole: bool) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.complete = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._head_done = False
        self._until_close = False
        self._keep_alive = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: zlib._Decompress | None = None
        self._deadline = deadline
        self._whole = whole
        self._last_data = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.complete:  # bytes after the answer, or while idle: the stream is not clean
            self._fail(Disconnected("the upstream sent bytes after its answer"))
            return
        self._last_data = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(Disconnected(f"invalid HTTP answer from the upstream: {exc}"))

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._head_done and self._until_close and self._error is None and not self.complete:
            self.on_message_complete()  # an answer delimited by the end of the connection
        elif not self.complete:
            self._fail(Disconnected(f"the upstream closed the connection ({exc or 'EOF'})"))
        self._pool.forget(self)

    # --- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self._fail(Disconnected("the upstream sent a second answer"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # an interim answer (103 Early Hints...); the real one follows
            self.headers = {}
            return
        self.status = status
        headers = self.headers
        coding = headers.get("content-encoding", "identity").strip().lower()
        if coding in _DECODERS:
            self._decoder = zlib.decompressobj(_DECODERS[coding])
        elif coding != "identity":
            self._fail(Disconnected(f"unsupported content-encoding {coding!r} from the upstream"))
            return
        self._keep_alive = self._parser.should_keep_alive()  # only known during parsing
        self._until_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
            and status not in (204, 304)
        )
        self._head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.status < 200:
            return
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as exc:
                self._fail(Disconnected(f"undecodable upstream body: {exc}"))
                return
        self._chunks.append(body)
        self._buffered += len(body)
        if (
            not self._whole  # a streamed answer: hold the upstream back until it is read
            and self._buffered > _BUFFER_HIGH
            and not self._paused
            and self._transport is not None
        ):
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status < 200:
            return
        if self._decoder is not None:
            self._chunks.append(self._decoder.flush())
        self.complete = True
        self._stop_timer()
        self._wake()

    # --- the exchange -----------------------------------------------------------------------

    def send(self, head: bytes, body: bytes, deadline: float, *, whole: bool) -> None:
        """Write one request. ``deadline`` (loop time) bounds the whole answer when
        ``whole``, else its head; the read limit bounds every silence."""
        assert self._transport is not None
        self._reset(deadline, whole=whole)
        self._arm()
        self._transport.write(head + body)

    def _arm(self) -> None:
        ends = self._last_data + self._pool.limits.read
        if self._whole or not self._head_done:
            ends = min(ends, self._deadline)
        self._timer = self._loop.call_at(ends, self._tick)

    def _tick(self) -> None:
        """The read timer: fail on a silence past the read limit or a passed deadline."""
        self._timer = None
        if self.complete or self._error is not None:
            return
        ends = self._last_data + self._pool.limits.read
        if self._whole or not self._head_done:
            ends = min(ends, self._deadline)
        if self._loop.time() >= ends:
            self._fail(TimeoutError())
        else:
            self._arm()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fail(self, error: BaseException) -> None:
        """End the exchange with ``error``; the connection cannot be reused."""
        if self._error is None:
            self._error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        if self._error is None:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._error is not None:
            raise self._error

    async def head(self) -> None:
        """Wait for the answer's status and headers."""
        while not self._head_done:
            await self._wait()

    async def read_all(self) -> bytes:
        """Wait for the whole answer."""
        while not self.complete:
            await self._wait()
        chunks = self._chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if chunk:
                    yield chunk
            if self._paused and self._transport is not None:
                self._paused = False
                self._transport.resume_reading()
            if self.complete:
                return
            await self._wait()

    @property
    def reusable(self) -> bool:
        return self.complete and not self.closed and self._error is None and self._keep_alive

    def close(self) -> None:
        self._stop_timer()
        if not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.close()


class OriginPool:
    """The connections to one origin: at most ``max_connections``, idle ones reused LIFO."""

    def __init__(
        self, origin: tuple[str, str, int], limits: Limits, tls: ssl.SSLContext | None
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.limits = limits
        self._scheme, self._host, self._port = origin
        self._tls = tls if self._scheme == "https" else None
        self._idle: list[Connection] = []
        self._open = 0
        self._waiting: deque[asyncio.Future[Connection | None]] = deque()

    async def acquire(self) -> Connection:
        """A connection for one exchange: an idle one, a new one, or one handed over."""
        deadline = self.loop.time() + self.limits.pool
        while True:
            now = self.loop.time()
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and now - conn.idle_since < self.limits.keepalive_seconds:
                    return conn
                self._discard(conn)
            if self._open < self.limits.max_connections:
                return await self._connect()
            handed = await self._wait_turn(deadline)
            if handed is not None:
                return handed

    async def _wait_turn(self, deadline: float) -> Connection | None:
        """Wait until a connection is handed over (returned) or a slot frees up (None)."""
        waiter: asyncio.Future[Connection | None] = self.loop.create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                self.release(waiter.result())  # type: ignore[arg-type]
            raise
        finally:
            if waiter in self._waiting:
                self._waiting.remove(waiter)

    async def _connect(self) -> Connection:
        self._open += 1
        try:
            async with asyncio.timeout(self.limits.connect):
                _, conn = await self.loop.create_connection(
                    lambda: Connection(self),
                    self._host,
                    self._port,
                    ssl=self._tls,
                    server_hostname=self._host if self._tls is not None else None,
                )
        except BaseException as exc:
            self._open -= 1
            self._notify(None)
            if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                raise ConnectFailed(f"{self._host}:{self._port}: {exc}") from None
            raise
        conn.counted = True
        return conn

    def release(self, conn: Connection) -> None:
        """Take ``conn`` back after an exchange: kept alive if it can be, else closed."""
        if not conn.reusable:
            self._discard(conn)
            return
        conn.idle_since = self.loop.time()
        if not self._notify(conn):
            self._idle.append(conn)

    def _notify(self, conn: Connection | None) -> bool:
        """Hand ``conn`` to the next waiter, or with ``None`` tell it a slot is free."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    def _discard(self, conn: Connection) -> None:
        conn.close()
        if conn.counted:
            conn.counted = False
            self._open -= 1
            self._notify(None)

    def forget(self, conn: Connection) -> None:
        """``conn`` was closed (by either side): drop it from the idle list and the count."""
        if conn in self._idle:
            self._idle.remove(conn)
        self._discard(conn)

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
