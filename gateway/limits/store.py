"""Reaching the shared store (Redis), and what happens when it cannot be reached.

Every store call goes through :func:`call_store`: it bounds the call with a timeout and turns
connection failures into :class:`StoreUnavailable`, so callers apply their configured policy
(``fail_closed`` or an explicit fail-open) instead of a stack trace. :class:`FailOpenMeter`
makes every fail-open visible: a warning log line and a Prometheus counter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter
from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

T = TypeVar("T")


def connect_redis(url: str, *, timeout: float = 0.5, max_connections: int = 64) -> Redis:
    """A Redis client for the request path: bounded waits, no silent retry loops.

    Requests queue for one of ``max_connections`` pooled connections (instead of failing
    when all are busy); connecting, reading and waiting for a connection are each bounded
    by ``timeout`` seconds, and a failed command is not retried, so an outage surfaces at
    once and the configured ``on_store_error`` policy applies.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


def redis_for(section: str, url_env: str, environ: Mapping[str, str], timeout: float) -> Redis:
    """The Redis client a section with ``backend: redis`` names, or a clear start-up error."""
    url = environ.get(url_env)
    if not url:
        raise ValueError(
            f"{section}.backend is 'redis' but the environment variable {url_env} "
            f"({section}.redis_url_env) is not set; expected a redis:// or rediss:// URL"
        )
    return connect_redis(url, timeout=timeout)


class StoreUnavailable(Exception):
    """The shared store did not answer (refused, reset, timed out)."""


async def call_store(call: Awaitable[T], *, within: float, what: str) -> T:
    """Await one store call for at most ``within`` seconds; map outages to StoreUnavailable."""
    try:
        async with asyncio.timeout(within):
            return await call
    except TimeoutError as exc:
        raise StoreUnavailable(f"{what}: no answer within {within:g}s") from exc
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"{what}: {exc}") from exc


class FailOpenMeter:
    """Counts and logs every request served although its store could not be reached."""

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        logger: logging.Logger,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._logger = logger
        # registry None: counted but not exported (tests, embedded use)
        self._counter = Counter(name, documentation, ["operation"], registry=registry)

    def record(self, operation: str, error: StoreUnavailable) -> None:
        self._counter.labels(operation=operation).inc()
        self._logger.warning("store unreachable, failing open on %s: %s", operation, error)
