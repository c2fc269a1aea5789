"""Redis for tests: skip when absent, fail when GATEHOUSE_REQUIRE_SERVICES=1.

Each test gets its own key prefix and every key under it is deleted afterwards, so tests
never see each other's state on the shared server.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.limits.store import connect_redis

REDIS_URL = os.environ.get("GATEHOUSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def make_client(url: str = REDIS_URL) -> Redis:
    """The gateway's request-path client: fails fast instead of retrying for seconds."""
    return connect_redis(url, timeout=2)


async def connected_client() -> Redis:
    client = make_client()
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        message = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("GATEHOUSE_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return client


def unique_prefix() -> str:
    return f"gatehouse-test:{uuid.uuid4().hex}:"


async def delete_prefix(client: Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await client.delete(*keys)


async def redis_with_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """Body of a fixture yielding a client and a fresh prefix, cleaned up afterwards."""
    client = await connected_client()
    prefix = unique_prefix()
    try:
        yield client, prefix
    finally:
        await delete_prefix(client, prefix)
        await client.aclose()


def closed_port_url() -> str:
    """A Redis URL on a loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


class FakeClock:
    """A settable clock in seconds."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def record_commands(client: Redis, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every command ``client`` sends from now on (the list fills as they are sent)."""
    sent: list[tuple[Any, ...]] = []
    original: Callable[..., Awaitable[Any]] = client.execute_command

    async def recording(*args: Any, **kwargs: Any) -> Any:
        sent.append(args)
        return await original(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", recording)
    return sent
