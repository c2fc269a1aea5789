"""The durable record of spend: usage events in the gateway store, and their totals.

:meth:`UsageLog.write` inserts a batch of events with
``INSERT ... ON CONFLICT (request_id) DO NOTHING RETURNING request_id`` (SQLite and
PostgreSQL alike), so writing an event again (a retried flush, a settle repeated by a client
retry) never counts it twice, and the rows returned are the new ones. The statement is built
once and executed with the batch's parameter list: SQLAlchemy compiles it once, caches it, and
sends the batch as multi-row ``VALUES`` ("insertmanyvalues"), instead of compiling a new
statement for every batch size.

A multi-row ``VALUES`` of n rows is its own SQL text, and the drivers keep a prepared
statement per text and connection (:mod:`sqlite3` up to 128, asyncpg up to 100): batches of
every size between 1 and 1,000 once grew a loaded worker by hundreds of megabytes of
prepared 13-column inserts. So a batch is sent in pages whose sizes are powers of two, at
most :data:`MAX_PAGE` rows (437 rows: 256 + 128 + 32 + 16 + 4 + 1), in one transaction: the
store only ever sees ten statement texts.
:meth:`UsageLog.totals` sums events per group over a time range: the spend report, the
chargeback and the start-up re-seeding of budget counters all read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.ledger.events import UsageEvent
from gateway.ledger.tables import combine_sum, exact_sum, insert_for, to_pico, usage_events

Dimension = Literal["cost_center", "team", "key", "model"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
_COLUMNS: Mapping[Dimension, str] = {
    "cost_center": "cost_center",
    "team": "team",
    "key": "key_id",
    "model": "model",
}


MAX_PAGE = 512
"""the largest page of rows sent as one statement (a power of two)"""


def pages(count: int) -> list[tuple[int, int]]:
    """``(start, end)`` slices covering ``count`` rows, each a power of two of at most
    :data:`MAX_PAGE` rows, largest first."""
    slices: list[tuple[int, int]] = []
    start = 0
    while start < count:
        size = min(MAX_PAGE, 1 << ((count - start).bit_length() - 1))
        slices.append((start, start + size))
        start += size
    return slices


def utc(value: datetime) -> datetime:
    """Every time in the store is UTC (SQLite keeps no offset, so it must be normalised)."""
    if value.tzinfo is None:
        raise ValueError(f"time {value.isoformat()} has no timezone; expected an aware time")
    return value.astimezone(UTC)


def _row(event: UsageEvent) -> dict[str, Any]:
    return {
        "request_id": event.request_id,
        "time": utc(event.time),
        "key_id": event.key_id,
        "team": event.team,
        "cost_center": event.cost_center,
        "model": event.model_alias,
        "deployment": event.deployment,
        "region": event.region,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "cached_input_tokens": event.cached_input_tokens,
        "cost_pico": to_pico(event.cost),
        "currency": event.currency,
    }


@dataclass(frozen=True, slots=True)
class SpendRow:
    """Totals of one group: ``group`` maps each dimension to its value (None: not set)."""

    group: Mapping[Dimension, str | None]
    currency: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost: Decimal


class UsageLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = (
            insert_for(engine.dialect.name, usage_events)
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(usage_events.c.request_id)
        )

    async def write(self, events: Sequence[UsageEvent]) -> int:
        """Insert ``events`` in one transaction; returns how many were new."""
        if not events:
            return 0
        rows = [_row(e) for e in events]
        written = 0
        async with self._engine.begin() as conn:
            for start, end in pages(len(rows)):
                result = await conn.execute(self._insert, rows[start:end])
                written += len(result.all())
        return written

    async def totals(
        self,
        group_by: Sequence[Dimension],
        *,
        start: datetime,
        end: datetime | None = None,
        currency: str | None = None,
    ) -> list[SpendRow]:
        """Totals per group (and currency) of the events with ``start <= time < end``."""
        t = usage_events
        keys = [t.c[_COLUMNS[d]].label(d) for d in group_by]
        query = (
            sa.select(
                *keys,
                t.c.currency,
                sa.func.count().label("requests"),
                sa.func.coalesce(sa.func.sum(t.c.input_tokens), 0).label("input_tokens"),
                sa.func.coalesce(sa.func.sum(t.c.output_tokens), 0).label("output_tokens"),
                sa.func.coalesce(sa.func.sum(t.c.cached_input_tokens), 0).label("cached"),
                *exact_sum(t.c.cost_pico, "cost"),
            )
            .where(t.c.time >= utc(start))
            .group_by(*keys, t.c.currency)
            .order_by(*keys, t.c.currency)
        )
        if end is not None:
            query = query.where(t.c.time < utc(end))
        if currency is not None:
            query = query.where(t.c.currency == currency)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            SpendRow(
                group={d: getattr(r, d) for d in group_by},
                currency=r.currency,
                requests=int(r.requests),
                input_tokens=int(r.input_tokens),
                output_tokens=int(r.output_tokens),
                cached_input_tokens=int(r.cached),
                cost=combine_sum(r.cost_hi, r.cost_lo),
            )
            for r in rows
        ]

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(usage_events)) or 0)
