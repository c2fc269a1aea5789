"""A usage write that shutdown interrupts on SQLite must not keep the store locked.

The outbox's shutdown cancels its background task; when that task is inside
``INSERT ... RETURNING`` the driver thread still finishes the statement, and SQLAlchemy then
closes the connection it abandoned. A SQLite connection closed while a statement of it is
unfinished lives on as a "zombie" holding its transaction, and with it the write lock, until
that statement is freed. The shutdown's final flush then waited for the lock in vain and the
events it held were lost.

Here a second connection holds the write lock while the outbox writes, so the INSERT is
still in the driver when shutdown interrupts it; the lock is given up as soon as the
interrupted connection is abandoned (invalidated), so the INSERT then completes, as it does
when nothing competes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from gateway.ledger.outbox import UsageOutbox
from gateway.ledger.usage_log import UsageLog
from gateway.store import Store
from gateway.store.engine import sqlite_path
from tests.gateway.conftest import sqlite_store
from tests.gateway.ledger.test_outbox import outbox_config, sample
from tests.gateway.ledger.test_usage_log import event


@pytest.fixture
def competitor(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the store's file, outside the engine's pool."""
    path = sqlite_path(sqlite_store(tmp_path))
    assert path is not None
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


async def test_a_write_interrupted_by_shutdown_leaves_no_lock_behind(
    tmp_path: Path, competitor: sqlite3.Connection
) -> None:
    store = Store(sqlite_store(tmp_path))
    await store.migrate()
    registry = CollectorRegistry()
    log = UsageLog(store.engine)
    outbox = UsageOutbox(log, outbox_config(shutdown_timeout_seconds=1), registry=registry)
    insert_sent = asyncio.Event()

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO USAGE_EVENTS"):
            insert_sent.set()

    def on_invalidate(*args: Any) -> None:
        if competitor.in_transaction:
            competitor.rollback()  # the interrupted INSERT can now complete in its thread

    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", on_execute)
    sa.event.listen(store.engine.sync_engine.pool, "invalidate", on_invalidate)
    try:
        competitor.execute("BEGIN IMMEDIATE")
        outbox.start()
        for i in range(3):
            await outbox.put(event(f"r{i}"))
        await asyncio.wait_for(insert_sent.wait(), timeout=10)
        await outbox.aclose()
        assert not competitor.in_transaction  # the shutdown did interrupt the write
        assert sample(registry, "gatehouse_usage_events_lost_total") == 0
        assert await log.count() == 3
        assert sample(registry, "gatehouse_usage_events_written_total") == 3
    finally:
        await store.aclose()
