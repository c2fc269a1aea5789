from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gateway.limits.backend import LimiterBackend
from gateway.limits.memory import MemoryBackend
from gateway.limits.redis_backend import RedisBackend
from tests.gateway.limits.redis_support import FakeClock, redis_with_prefix


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    async for pair in redis_with_prefix():
        yield pair


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def backend(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[LimiterBackend]:
    """Each exact-behaviour test runs on both backends with the same injected clock."""
    if request.param == "memory":
        yield MemoryBackend(clock)
        return
    async for client, prefix in redis_with_prefix():
        yield RedisBackend(client, prefix=prefix, clock=clock)
