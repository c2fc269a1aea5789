from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from gateway.ledger.memory_store import MemoryReservationStore
from gateway.ledger.redis_store import RedisReservationStore
from gateway.ledger.store import ReservationStore
from tests.gateway.limits.redis_support import FakeClock, redis_with_prefix

# Test time runs in the future: Redis expires counters by its own (real) clock, so a
# counter of a period that is already past in real time would vanish at once.
START = datetime(2030, 11, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START.timestamp())


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    async for pair in redis_with_prefix():
        yield pair


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ReservationStore]:
    """Each engine test runs against both stores."""
    if request.param == "memory":
        yield MemoryReservationStore()
        return
    async for client, prefix in redis_with_prefix():
        yield RedisReservationStore(client, prefix=prefix, timeout=5)
