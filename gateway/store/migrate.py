"""Apply the packaged Alembic migrations, once, even when replicas start together.

PostgreSQL: a transaction-scoped advisory lock serialises concurrent starters.
SQLite: an exclusive lock on ``<database>.migrate.lock`` does the same across processes.
"""

from __future__ import annotations

import asyncio
import fcntl
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.store.engine import sqlite_path

_ADVISORY_LOCK_KEY = 0x6761_7465  # arbitrary, constant for this schema
SCRIPT_LOCATION = "gateway.store:migrations"


def _upgrade(connection: Connection) -> None:
    from alembic import command  # imported here: only start-up needs it
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def _run(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        await conn.run_sync(_upgrade)


async def migrate(engine: AsyncEngine, url: str) -> None:
    """Bring the store's schema to the newest revision shipped with this package."""
    path = sqlite_path(url)
    if path is None:
        await _run(engine)
        return
    lock_path = Path(path).with_name(Path(path).name + ".migrate.lock")
    with lock_path.open("a") as lock:
        await asyncio.to_thread(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
        try:
            await _run(engine)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
