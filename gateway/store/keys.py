"""API-key records in the store.

Every change bumps the single ``store_revision`` counter in the same transaction and stamps
the row with the new value, so a replica learns of changes with one cheap query and then
reads only the changed rows (:meth:`KeyStore.changes_since`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.store.schema import api_keys, store_revision


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    key_hash: str
    team: str
    cost_center: str | None
    jurisdictions: tuple[str, ...]
    models: tuple[str, ...] | None
    redaction: str | None
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    revision: int

    @classmethod
    def from_row(cls, row: Any) -> KeyRecord:
        created = utc(row.created_at)
        assert created is not None
        return cls(
            id=row.id,
            key_hash=row.key_hash,
            team=row.team,
            cost_center=row.cost_center,
            jurisdictions=tuple(row.jurisdictions or ()),
            models=None if row.models is None else tuple(row.models),
            redaction=row.redaction,
            expires_at=utc(row.expires_at),
            created_at=created,
            revoked_at=utc(row.revoked_at),
            revision=int(row.revision),
        )

    def public(self) -> dict[str, Any]:
        """What the admin API shows: everything but the hash."""
        return {
            "id": self.id,
            "team": self.team,
            "cost_center": self.cost_center,
            "jurisdictions": list(self.jurisdictions),
            "models": None if self.models is None else list(self.models),
            "redaction": self.redaction,
            "expires_at": _iso(self.expires_at),
            "created_at": _iso(self.created_at),
            "revoked_at": _iso(self.revoked_at),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class NewKey:
    """The attributes of a key to create (the hash is computed by the caller)."""

    id: str
    key_hash: str
    team: str
    cost_center: str | None
    jurisdictions: Sequence[str]
    models: Sequence[str] | None
    redaction: str | None
    expires_at: datetime | None


async def _read_revision(conn: AsyncConnection) -> int:
    value = await conn.scalar(sa.select(store_revision.c.revision).where(store_revision.c.id == 1))
    if value is None:
        raise RuntimeError("the store has no revision row; its migrations were not applied")
    return int(value)


async def _bump(conn: AsyncConnection) -> int:
    await conn.execute(
        sa.update(store_revision)
        .where(store_revision.c.id == 1)
        .values(revision=store_revision.c.revision + 1)
    )
    return await _read_revision(conn)


class KeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, new: NewKey, *, now: datetime | None = None) -> KeyRecord:
        now = now or datetime.now(UTC)
        async with self._engine.begin() as conn:
            revision = await _bump(conn)
            await conn.execute(
                sa.insert(api_keys).values(
                    id=new.id,
                    key_hash=new.key_hash,
                    team=new.team,
                    cost_center=new.cost_center,
                    jurisdictions=list(new.jurisdictions),
                    models=None if new.models is None else list(new.models),
                    redaction=new.redaction,
                    expires_at=new.expires_at,
                    created_at=now,
                    revoked_at=None,
                    revision=revision,
                )
            )
            row = (await conn.execute(sa.select(api_keys).where(api_keys.c.id == new.id))).one()
        return KeyRecord.from_row(row)

    async def revoke(self, key_id: str, *, now: datetime | None = None) -> KeyRecord | None:
        """Mark a key revoked; ``None`` when no such key exists. Revoking twice is a no-op."""
        now = now or datetime.now(UTC)
        async with self._engine.begin() as conn:
            query = sa.select(api_keys).where(api_keys.c.id == key_id)
            row = (await conn.execute(query)).one_or_none()
            if row is None:
                return None
            if row.revoked_at is None:
                revision = await _bump(conn)
                await conn.execute(
                    sa.update(api_keys)
                    .where(api_keys.c.id == key_id)
                    .values(revoked_at=now, revision=revision)
                )
                row = (await conn.execute(query)).one()
        return KeyRecord.from_row(row)

    async def all(self) -> list[KeyRecord]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at))
            return [KeyRecord.from_row(r) for r in rows]

    async def revision(self) -> int:
        async with self._engine.connect() as conn:
            return await _read_revision(conn)

    async def changes_since(self, revision: int) -> list[KeyRecord]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(api_keys)
                .where(api_keys.c.revision > revision)
                .order_by(api_keys.c.revision)
            )
            return [KeyRecord.from_row(r) for r in rows]
