from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.ledger.memory_store import MemoryReservationStore
from gateway.ledger.redis_store import RedisReservationStore
from gateway.ledger.store import ReservationStore
from gateway.store import Store
from tests.gateway.conftest import sqlite_store
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
async def migrated_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The gateway store, migrated, on SQLite and on PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        url = sqlite_store(tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
    store = Store(url)
    await store.migrate()
    try:
        yield store
    finally:
        await store.aclose()
