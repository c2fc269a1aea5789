"""Engines for the two supported stores: SQLite (embedded default) and PostgreSQL.

The same SQLAlchemy Core code runs on both; only connection set-up differs here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """``sqlite:///x.db`` / ``postgresql://...`` with the asyncio driver filled in."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported store {backend!r}; expected sqlite or postgresql")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


class _SQLiteConnection(sqlite3.Connection):
    """A connection that gives up its transaction, and so its locks, when it is closed.

    :mod:`sqlite3` closes with ``sqlite3_close_v2``: while a statement of the connection is
    unfinished (a cursor not yet freed, e.g. ``INSERT ... RETURNING`` whose rows were never
    read because its caller was cancelled, after which SQLAlchemy closes the connection it
    gave up), the connection lives on as a "zombie" that keeps its transaction open, and with
    it the database's single write lock, for as long as that cursor stays alive. Every other
    writer then fails with "database is locked". Rolling back first releases the lock at once;
    closing would have discarded the uncommitted changes anyway.
    """

    def close(self) -> None:
        try:
            if self.in_transaction:
                self.rollback()
        except sqlite3.ProgrammingError:  # closed already: nothing is held
            pass
        finally:
            super().close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the single writer
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    target = async_url(url)
    if target.startswith("sqlite"):
        engine = create_async_engine(target, connect_args={"factory": _SQLiteConnection})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(target, pool_pre_ping=True, pool_size=5, max_overflow=5)


def sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL, or ``None`` (PostgreSQL, in-memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database
