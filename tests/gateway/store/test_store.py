"""The store on SQLite and PostgreSQL: migrations, key records, the revision counter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.auth.api_keys import generate_key
from gateway.store import NewKey, Store
from gateway.store.engine import async_url
from gateway.store.migrate import SCRIPT_LOCATION


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    store = Store(store_url)
    await store.migrate()
    yield store
    await store.aclose()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def new_key(**overrides: object) -> NewKey:
    issued = generate_key()
    fields: dict[str, object] = {
        "id": issued.id,
        "key_hash": issued.key_hash,
        "team": "payments",
        "cost_center": "CC-1001",
        "jurisdictions": ["eu"],
        "models": ["chat-eu"],
        "redaction": None,
        "expires_at": None,
        **overrides,
    }
    return NewKey(**fields)  # type: ignore[arg-type]


async def test_migrations_create_the_schema_and_are_idempotent(store: Store) -> None:
    await store.migrate()  # a second start finds the schema at head
    async with store.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    assert {"api_keys", "store_revision", "alembic_version"} <= tables
    assert version == head_revision()
    assert await store.keys.revision() == 0


async def test_concurrent_starters_migrate_once(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(3)]
    await asyncio.gather(*(s.migrate() for s in stores))
    assert [await s.keys.revision() for s in stores] == [0, 0, 0]
    for s in stores:
        await s.aclose()


async def test_create_list_revoke_and_changes(store: Store) -> None:
    expires = datetime.now(UTC) + timedelta(days=30)
    first = await store.keys.create(new_key(expires_at=expires, redaction="mask"))
    second = await store.keys.create(new_key(team="risk", models=None, cost_center=None))
    assert (first.revision, second.revision) == (1, 2)
    assert first.expires_at is not None and abs((first.expires_at - expires).total_seconds()) < 1
    assert first.created_at.tzinfo is not None
    assert first.redaction == "mask"
    assert second.models is None and second.cost_center is None
    assert [r.id for r in await store.keys.all()] == [first.id, second.id]

    revoked = await store.keys.revoke(first.id)
    assert revoked is not None and revoked.revoked_at is not None
    assert revoked.revision == 3
    again = await store.keys.revoke(first.id)
    assert again is not None and again.revision == 3  # a second revocation changes nothing
    assert await store.keys.revoke("0000000000000000") is None

    assert await store.keys.revision() == 3
    changed = await store.keys.changes_since(2)
    assert [(r.id, r.revision) for r in changed] == [(first.id, 3)]
    assert await store.keys.changes_since(3) == []


async def test_public_view_has_no_hash(store: Store) -> None:
    record = await store.keys.create(new_key())
    public = record.public()
    assert "key_hash" not in public
    assert record.key_hash not in str(public)


async def test_ping(store: Store) -> None:
    await store.ping()


def test_async_urls() -> None:
    assert async_url("sqlite:///./gatehouse.db") == "sqlite+aiosqlite:///./gatehouse.db"
    assert async_url("postgresql://app@db:5432/g") == "postgresql+asyncpg://app@db:5432/g"
    assert async_url("postgres://app@db/g") == "postgresql+asyncpg://app@db/g"
    with pytest.raises(ValueError, match="unsupported store"):
        async_url("mysql://db/g")
