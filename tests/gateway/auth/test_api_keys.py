"""API keys: format, hashing, constant-time check, cache refresh from the store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.auth.api_keys import KEY_PREFIX, KeyCache, generate_key, hash_key
from gateway.errors import GatewayError
from gateway.store import NewKey, Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'keys.db'}")
    await store.migrate()
    yield store
    await store.aclose()


async def issue(store: Store, **overrides: object) -> tuple[str, str]:
    issued = generate_key()
    fields: dict[str, object] = {
        "id": issued.id,
        "key_hash": issued.key_hash,
        "team": "payments",
        "cost_center": "CC-1",
        "jurisdictions": ["eu"],
        "models": None,
        "redaction": "block",
        "expires_at": None,
        **overrides,
    }
    await store.keys.create(NewKey(**fields))  # type: ignore[arg-type]
    return issued.id, issued.key


def test_generated_keys() -> None:
    a, b = generate_key(), generate_key()
    assert a.key != b.key and a.id != b.id
    assert a.key.startswith(f"{KEY_PREFIX}{a.id}_")
    assert len(a.key) >= 60  # 256 random bits after the id
    assert a.key_hash == hashlib.sha256(a.key.encode()).hexdigest() == hash_key(a.key)
    assert a.key not in a.key_hash


async def test_identity_from_a_key(store: Store) -> None:
    key_id, key = await issue(store)
    cache = KeyCache(store.keys)
    await cache.refresh()
    identity = cache.authenticate(key)
    assert identity.kind == "api_key" and identity.subject == key_id
    assert (identity.team, identity.cost_center, identity.redaction) == (
        "payments",
        "CC-1",
        "block",
    )
    assert identity.jurisdictions == frozenset({"eu"})
    assert identity.models is None


async def test_unknown_forged_and_malformed_keys(store: Store) -> None:
    key_id, key = await issue(store)
    cache = KeyCache(store.keys)
    await cache.refresh()
    forged = key[: len(KEY_PREFIX) + 17] + "x" * (len(key) - len(KEY_PREFIX) - 17)
    for bad in (forged, generate_key().key, f"{KEY_PREFIX}{key_id}", KEY_PREFIX):
        with pytest.raises(GatewayError) as caught:
            cache.authenticate(bad)
        assert caught.value.status == 401


async def test_revocation_reaches_another_cache_on_refresh(store: Store) -> None:
    key_id, key = await issue(store)
    here, there = KeyCache(store.keys), KeyCache(store.keys)
    await here.refresh()
    await there.refresh()
    assert there.authenticate(key).subject == key_id
    revoked = await store.keys.revoke(key_id)
    assert revoked is not None
    here.put(revoked)
    with pytest.raises(GatewayError, match="revoked"):
        here.authenticate(key)
    assert there.authenticate(key).subject == key_id  # until its next poll
    await there.refresh()
    with pytest.raises(GatewayError, match="revoked"):
        there.authenticate(key)


async def test_refresh_reads_only_changes(store: Store) -> None:
    await issue(store)
    cache = KeyCache(store.keys)
    await cache.refresh()
    calls: list[int] = []
    original = store.keys.changes_since

    async def spy(revision: int) -> list:  # type: ignore[type-arg]
        calls.append(revision)
        return await original(revision)

    store.keys.changes_since = spy  # type: ignore[method-assign]
    await cache.refresh()
    assert calls == []  # nothing changed: one integer read, no rows
    _, new = await issue(store)
    await cache.refresh()
    assert calls == [1]
    assert cache.authenticate(new).team == "payments"


async def test_expiry_uses_the_clock(store: Store) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    _, key = await issue(store, expires_at=expires)
    now = [expires.timestamp() - 1]
    cache = KeyCache(store.keys, clock=lambda: now[0])
    await cache.refresh()
    assert cache.authenticate(key).team == "payments"
    now[0] = expires.timestamp()
    with pytest.raises(GatewayError, match="expired"):
        cache.authenticate(key)
