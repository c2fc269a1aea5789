"""Upstream HTTP: one pooled ``httpx.AsyncClient`` per origin, and one exchange per attempt.

Timeouts are explicit (connect, read, write, pool) and each attempt also has a total
deadline: the whole exchange, or for a stream until the response headers arrive. Transport
failures become retryable :class:`~gateway.providers.base.UpstreamError`.
"""

from __future__ import annotations

import asyncio

import httpx

from gateway.config import Timeouts, UpstreamPool
from gateway.providers.base import UpstreamError, UpstreamRequest

_MAX_CACHED_URLS = 4096


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


class ClientPool:
    def __init__(self, timeouts: Timeouts, pool: UpstreamPool) -> None:
        self.total = timeouts.total
        self._timeout = httpx.Timeout(
            connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
        )
        self._limits = httpx.Limits(
            max_connections=pool.max_connections,
            max_keepalive_connections=pool.max_keepalive_connections,
            keepalive_expiry=pool.keepalive_expiry_seconds,
        )
        self._timeout_extension = self._timeout.as_dict()
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._targets: dict[str, tuple[httpx.AsyncClient, httpx.URL]] = {}

    def request(self, req: UpstreamRequest) -> tuple[httpx.AsyncClient, httpx.Request]:
        """The pooled client for ``req``'s origin and the ``httpx.Request`` to send on it.

        Built directly rather than through ``client.build_request``: nothing of the
        client's defaults (user agent, compression) is wanted, and the parsed URL of each
        deployment endpoint is reused.
        """
        target = self._targets.get(req.url)
        if target is None:
            target = (self.client_for(req.url), httpx.URL(req.url))
            if len(self._targets) < _MAX_CACHED_URLS:
                self._targets[req.url] = target
        client, url = target
        request = httpx.Request(
            req.method,
            url,
            headers=req.headers,
            content=req.body,
            extensions={"timeout": dict(self._timeout_extension)},
        )
        return client, request

    def client_for(self, url: str) -> httpx.AsyncClient:
        origin = _origin(url)
        client = self._clients.get(origin)
        if client is None:
            # trust_env=False: no proxy, netrc or CA settings picked up implicitly.
            client = httpx.AsyncClient(timeout=self._timeout, limits=self._limits, trust_env=False)
            self._clients[origin] = client
        return client

    async def aclose(self) -> None:
        self._targets = {}
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def transport_error(exc: Exception) -> UpstreamError:
    """A retryable :class:`UpstreamError` for a timeout or a broken connection."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return UpstreamError(
            504, "the upstream did not answer in time", code="upstream_timeout", retryable=True
        )
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamError(
            502, f"cannot reach the upstream: {detail}", code="upstream_unreachable", retryable=True
        )
    return UpstreamError(
        502,
        f"the upstream connection failed: {detail}",
        code="upstream_disconnected",
        retryable=True,
    )


async def exchange(pool: ClientPool, req: UpstreamRequest, *, stream: bool) -> httpx.Response:
    """Send ``req``. The body is read unless ``stream`` is set and the status is 2xx, in
    which case the caller must consume and close the returned response."""
    client, request = pool.request(req)
    response: httpx.Response | None = None
    try:
        async with asyncio.timeout(pool.total):
            response = await client.send(request, stream=True)
            if not stream or not response.is_success:
                await response.aread()
    except (TimeoutError, httpx.TransportError) as exc:
        if response is not None:
            await response.aclose()
        raise transport_error(exc) from None
    except BaseException:
        if response is not None:
            await response.aclose()
        raise
    return response


def lower_headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}
