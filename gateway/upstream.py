"""Upstream HTTP: one pooled aiohttp session per origin, and one exchange per attempt.

The proxied exchange runs on aiohttp: on the same loopback upstream it costs about 0.2 ms of
CPU per request where httpx's pool costs about 1.5 ms (docs/benchmarks.md). The gateway's
own occasional calls (OIDC discovery and JWKS) keep an httpx client from
:meth:`ClientPool.client_for`.

Timeouts are explicit and each attempt also has a total deadline: the whole exchange, or for
a stream until the response headers arrive. ``connect`` bounds the TCP and TLS set-up,
``pool`` + ``connect`` the wait for a pooled connection plus that set-up, ``read`` every
silence while reading. Redirects are never followed, no proxy or ``.netrc`` is read from the
environment, no client defaults (user agent, compression) are sent, and no cookie is kept
(the pooled session is shared by all callers). Transport failures
become retryable :class:`~gateway.providers.base.UpstreamError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp
import httpx
from yarl import URL

from gateway.config import Timeouts, UpstreamPool
from gateway.providers.base import UpstreamError, UpstreamRequest

_MAX_CACHED_URLS = 4096
DNS_CACHE_SECONDS = 10
_SKIPPED_DEFAULTS = frozenset({"User-Agent", "Accept", "Accept-Encoding"})


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class UpstreamResponse:
    """An upstream answer: status, headers (lower-case names) and the body.

    A complete answer carries ``content``. A streamed 2xx answer is read with
    :meth:`aiter_bytes` and must be closed with :meth:`aclose`.
    """

    __slots__ = ("_raw", "content", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        content: bytes,
        raw: aiohttp.ClientResponse | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        self._raw = raw

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives; a broken or silent connection raises UpstreamError."""
        if self._raw is None:
            if self.content:
                yield self.content
            return
        try:
            async for data in self._raw.content.iter_any():
                yield data
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc) from None

    async def aclose(self) -> None:
        """Give the connection back to the pool (closed instead if the body was not read)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            raw.release()


class ClientPool:
    def __init__(self, timeouts: Timeouts, pool: UpstreamPool) -> None:
        self.total = timeouts.total
        self._pool = pool
        self._aiohttp_timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.pool + timeouts.connect,
            sock_connect=timeouts.connect,
            sock_read=timeouts.read,
        )
        self._httpx_timeout = httpx.Timeout(
            connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
        )
        self._httpx_limits = httpx.Limits(
            max_connections=pool.max_connections,
            max_keepalive_connections=pool.max_keepalive_connections,
            keepalive_expiry=pool.keepalive_expiry_seconds,
        )
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._targets: dict[str, tuple[aiohttp.ClientSession, URL]] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}

    def target(self, url: str) -> tuple[aiohttp.ClientSession, URL]:
        """The pooled session for ``url``'s origin and the parsed URL (both cached)."""
        target = self._targets.get(url)
        if target is None:
            target = (self._session(_origin(url)), URL(url, encoded=False))
            if len(self._targets) < _MAX_CACHED_URLS:
                self._targets[url] = target
        return target

    def _session(self, origin: str) -> aiohttp.ClientSession:
        session = self._sessions.get(origin)
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self._pool.max_connections,
                limit_per_host=0,
                keepalive_timeout=self._pool.keepalive_expiry_seconds,
                ttl_dns_cache=DNS_CACHE_SECONDS,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._aiohttp_timeout,
                skip_auto_headers=_SKIPPED_DEFAULTS,
                trust_env=False,
                # one session serves every caller: a cookie an upstream sets for one
                # caller's answer must not ride along on another caller's request
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._sessions[origin] = session
        return session

    def client_for(self, url: str) -> httpx.AsyncClient:
        """An httpx client for the gateway's own calls to ``url``'s origin (OIDC, JWKS)."""
        origin = _origin(url)
        client = self._clients.get(origin)
        if client is None:
            # trust_env=False: no proxy, netrc or CA settings picked up implicitly.
            client = httpx.AsyncClient(
                timeout=self._httpx_timeout, limits=self._httpx_limits, trust_env=False
            )
            self._clients[origin] = client
        return client

    async def aclose(self) -> None:
        self._targets = {}
        sessions, self._sessions = list(self._sessions.values()), {}
        clients, self._clients = list(self._clients.values()), {}
        for session in sessions:
            await session.close()
        for client in clients:
            await client.aclose()
        if sessions:
            await asyncio.sleep(0)  # lets the closed transports finish (aiohttp's advice)


def transport_error(exc: BaseException) -> UpstreamError:
    """A retryable :class:`UpstreamError` for a timeout or a broken connection."""
    if isinstance(exc, TimeoutError):
        return UpstreamError(
            504, "the upstream did not answer in time", code="upstream_timeout", retryable=True
        )
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError(
            502, f"cannot reach the upstream: {detail}", code="upstream_unreachable", retryable=True
        )
    return UpstreamError(
        502,
        f"the upstream connection failed: {detail}",
        code="upstream_disconnected",
        retryable=True,
    )


async def exchange(pool: ClientPool, req: UpstreamRequest, *, stream: bool) -> UpstreamResponse:
    """Send ``req``. The body is read unless ``stream`` is set and the status is 2xx, in
    which case the caller must consume and close the returned response."""
    session, url = pool.target(req.url)
    raw: aiohttp.ClientResponse | None = None
    try:
        async with asyncio.timeout(pool.total):
            raw = await session.request(
                req.method, url, headers=req.headers, data=req.body, allow_redirects=False
            )
            if not stream or not 200 <= raw.status < 300:
                content = await raw.read()
                raw.release()
                return UpstreamResponse(raw.status, _lower(raw.headers), content)
    except (TimeoutError, aiohttp.ClientError) as exc:
        if raw is not None:
            raw.close()
        raise transport_error(exc) from None
    except BaseException:
        if raw is not None:
            raw.close()
        raise
    return UpstreamResponse(raw.status, _lower(raw.headers), b"", raw)
