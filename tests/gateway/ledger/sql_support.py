"""Watching the SQL the ledger sends to the store."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.store import Store


def count_inserts(store: Store) -> list[str]:
    """Every INSERT into usage_events the engine sends, recorded as it happens."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO USAGE_EVENTS"):
            seen.append(statement)

    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    return seen
