"""Deliveries that never succeeded, kept in the store (``webhook_dead_letters``).

A delivery is dead-lettered after its last attempt, at once on an answer that retrying cannot
fix (4xx other than 408/425/429), or when the gateway shuts down before it went out. The row
holds the exact body that was (or would have been) posted, so it can be inspected and
replayed; the signature is not kept, it is recomputed with a fresh timestamp on replay.
The table is created by the migration ``0002_webhook_dead_letters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.store.keys import utc

metadata = sa.MetaData()

webhook_dead_letters = sa.Table(
    "webhook_dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(32), nullable=False, index=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_id: str
    event_type: str
    url: str
    format: str
    body: str
    attempts: int
    last_status: int | None
    last_error: str
    created_at: datetime
    """when the event was published"""
    failed_at: datetime
    id: int | None = None


class DeadLetterStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, letter: DeadLetter) -> None:
        values = {
            "event_id": letter.event_id,
            "event_type": letter.event_type,
            "url": letter.url,
            "format": letter.format,
            "body": letter.body,
            "attempts": letter.attempts,
            "last_status": letter.last_status,
            "last_error": letter.last_error,
            "created_at": letter.created_at,
            "failed_at": letter.failed_at,
        }
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(webhook_dead_letters).values(**values))

    async def recent(self, limit: int = 100) -> list[DeadLetter]:
        """The newest ``limit`` dead letters, newest first."""
        table = webhook_dead_letters
        query = sa.select(table).order_by(table.c.failed_at.desc(), table.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            DeadLetter(
                id=row.id,
                event_id=row.event_id,
                event_type=row.event_type,
                url=row.url,
                format=row.format,
                body=row.body,
                attempts=row.attempts,
                last_status=row.last_status,
                last_error=row.last_error,
                created_at=utc(row.created_at) or row.created_at,
                failed_at=utc(row.failed_at) or row.failed_at,
            )
            for row in rows
        ]
