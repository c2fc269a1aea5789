"""API keys: generation, hashing, and the in-memory cache the hot path reads.

A key looks like ``gth_<16 hex id>_<43 url-safe chars>``: 256 random bits from
:mod:`secrets`. The store keeps only its SHA-256; a presented key is hashed and compared
with :func:`hmac.compare_digest` against the record named by its id, so a lookup never
depends on the secret part. The cache polls the store's revision counter (one integer) and
loads only changed rows, so a revocation on any replica reaches every replica within one
refresh interval.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.context import Identity
from gateway.errors import unauthorized
from gateway.store.keys import KeyRecord, KeyStore

log = logging.getLogger("gateway.auth.api_keys")

KEY_PREFIX = "gth_"
_ID_HEX = 16
_ID_END = len(KEY_PREFIX) + _ID_HEX
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: str
    key: str
    key_hash: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> IssuedKey:
    key_id = secrets.token_hex(_ID_HEX // 2)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return IssuedKey(key_id, key, hash_key(key))


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


@dataclass(frozen=True, slots=True)
class _Entry:
    key_hash: str
    identity: Identity
    expires_at: float | None
    revoked: bool


def _entry(record: KeyRecord) -> _Entry:
    identity = Identity(
        kind="api_key",
        subject=record.id,
        team=record.team,
        cost_center=record.cost_center,
        jurisdictions=frozenset(record.jurisdictions) or None,
        models=None if record.models is None else frozenset(record.models),
        redaction=record.redaction,
    )
    expires = record.expires_at.timestamp() if record.expires_at else None
    return _Entry(record.key_hash, identity, expires, record.revoked_at is not None)


class KeyCache:
    """Every key record, in memory, kept in step with the store."""

    def __init__(self, keys: KeyStore, *, clock: Callable[[], float] = time.time) -> None:
        self._keys = keys
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self.revision = -1
        self.last_refresh: float | None = None
        """``time.monotonic()`` of the last successful refresh"""

    def age(self) -> float | None:
        """Seconds since the last successful refresh; ``None`` before the first."""
        return None if self.last_refresh is None else time.monotonic() - self.last_refresh

    def put(self, record: KeyRecord) -> None:
        """Apply a change made by this replica at once, without waiting for the poll."""
        self._entries[record.id] = _entry(record)

    async def refresh(self) -> None:
        """One poll: a single-integer query, then the changed rows if any."""
        current = await self._keys.revision()
        if current != self.revision:
            changes = await self._keys.changes_since(max(self.revision, 0))
            for record in changes:
                self.put(record)
            self.revision = max([current, *(r.revision for r in changes)])
        self.last_refresh = time.monotonic()

    async def run(self, interval: float) -> None:
        """Refresh every ``interval`` seconds until cancelled; failures are logged."""
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception as exc:
                if not failing:
                    log.error("cannot refresh API keys from the store: %s", exc)
                failing = True
            else:
                if failing:
                    log.warning("API key refresh from the store recovered")
                failing = False

    def authenticate(self, token: str) -> Identity:
        entry = (
            self._entries.get(token[len(KEY_PREFIX) : _ID_END]) if len(token) > _ID_END else None
        )
        presented = hash_key(token)
        if (
            not hmac.compare_digest(presented, entry.key_hash if entry else _DUMMY_HASH)
            or not entry
        ):
            raise unauthorized("invalid API key")
        if entry.revoked:
            raise unauthorized("this API key has been revoked")
        if entry.expires_at is not None and self._clock() >= entry.expires_at:
            raise unauthorized("this API key has expired")
        return entry.identity
