"""Budgets set through the admin API: kept in the gateway store, served from memory.

:class:`BudgetTable` is the ``budgets`` table. :class:`BudgetCache` is the engine's
:class:`~gateway.ledger.budgets.BudgetSource`: the budgets of the config, overlaid by those
of the table (a budget set through the admin API replaces the config's budget of the same
scope, subject and period; deleting it brings the config's back). The request path only
reads the cache (dictionary lookups); every replica polls the table for rows changed since
the last revision it saw (``budgets.refresh_seconds``), the way API keys are refreshed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.ledger.budgets import Budget, BudgetPeriod, BudgetsConfig, BudgetScope
from gateway.ledger.pricing import budget_micros, from_micros
from gateway.ledger.tables import budget_revision, budgets, insert_for

BudgetOrigin = Literal["config", "admin"]
_Subject = tuple[BudgetScope, str]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StoredBudget:
    """One row of the table; ``amount`` None means the budget was deleted."""

    scope: BudgetScope
    subject: str
    period: BudgetPeriod
    amount: Decimal | None
    revision: int
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredBudget:
        micros = row.amount_micros
        return cls(
            scope=row.scope,
            subject=row.subject,
            period=row.period,
            amount=None if micros is None else from_micros(int(micros)),
            revision=int(row.revision),
            updated_at=_utc(row.updated_at),
        )

    @property
    def budget(self) -> Budget | None:
        if self.amount is None:
            return None
        return Budget(self.scope, self.subject, self.period, self.amount)


async def _bump(conn: AsyncConnection) -> int:
    """Take the next revision; the row lock orders concurrent changes by commit."""
    await conn.execute(
        sa.update(budget_revision)
        .where(budget_revision.c.id == 1)
        .values(revision=budget_revision.c.revision + 1)
    )
    value = await conn.scalar(
        sa.select(budget_revision.c.revision).where(budget_revision.c.id == 1)
    )
    if value is None:
        raise RuntimeError("the store has no budget revision row; its migrations were not applied")
    return int(value)


class BudgetTable:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _write(
        self, scope: BudgetScope, subject: str, period: BudgetPeriod, micros: int | None
    ) -> StoredBudget:
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            revision = await _bump(conn)
            values = {"amount_micros": micros, "revision": revision, "updated_at": now}
            statement = (
                insert_for(conn.dialect.name, budgets)
                .values(scope=scope, subject=subject, period=period, **values)
                .on_conflict_do_update(index_elements=["scope", "subject", "period"], set_=values)
            )
            await conn.execute(statement)
        return StoredBudget(
            scope, subject, period, None if micros is None else from_micros(micros), revision, now
        )

    async def put(self, budget: Budget) -> StoredBudget:
        """Set (create or replace) one budget."""
        return await self._write(
            budget.scope, budget.subject, budget.period, budget_micros(budget.amount)
        )

    async def delete(
        self, scope: BudgetScope, subject: str, period: BudgetPeriod
    ) -> StoredBudget | None:
        """Delete one budget; None when the table holds no such budget."""
        if await self.get(scope, subject, period) is None:
            return None
        return await self._write(scope, subject, period, None)

    async def get(
        self, scope: BudgetScope, subject: str, period: BudgetPeriod
    ) -> StoredBudget | None:
        query = sa.select(budgets).where(
            budgets.c.scope == scope,
            budgets.c.subject == subject,
            budgets.c.period == period,
            budgets.c.amount_micros.is_not(None),
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else StoredBudget.from_row(row)

    async def changes_since(self, revision: int) -> list[StoredBudget]:
        query = sa.select(budgets).where(budgets.c.revision > revision).order_by(budgets.c.revision)
        async with self._engine.connect() as conn:
            return [StoredBudget.from_row(r) for r in await conn.execute(query)]


def _config_table(config: BudgetsConfig) -> dict[_Subject, dict[BudgetPeriod, Budget]]:
    tables: tuple[tuple[BudgetScope, dict[str, Any]], ...] = (
        ("key", config.keys),
        ("team", config.teams),
        ("cost_center", config.cost_centers),
    )
    found: dict[_Subject, dict[BudgetPeriod, Budget]] = {}
    for scope, table in tables:
        for subject, specs in table.items():
            found[(scope, subject)] = {
                s.period: Budget(scope, subject, s.period, s.amount) for s in specs
            }
    return found


class BudgetCache:
    """The budgets in force: the config's, overlaid by the admin API's (see the module)."""

    def __init__(self, config: BudgetsConfig, table: BudgetTable | None = None) -> None:
        self._config = _config_table(config)
        self._stored: dict[_Subject, dict[BudgetPeriod, Budget]] = {}
        self._effective: dict[_Subject, tuple[Budget, ...]] = {}
        self._table = table
        self.revision = 0
        for subject in self._config:
            self._rebuild(subject)

    @property
    def table(self) -> BudgetTable | None:
        return self._table

    def _rebuild(self, subject: _Subject) -> None:
        merged = {**self._config.get(subject, {}), **self._stored.get(subject, {})}
        if merged:
            self._effective[subject] = tuple(merged[p] for p in sorted(merged))
        else:
            self._effective.pop(subject, None)

    def budgets_for(
        self, key_id: str, team: str | None, cost_center: str | None
    ) -> Sequence[Budget]:
        found = self._effective.get(("key", key_id), ())
        if team is not None:
            found += self._effective.get(("team", team), ())
        if cost_center is not None:
            found += self._effective.get(("cost_center", cost_center), ())
        return found

    def all(self) -> list[Budget]:
        """Every budget in force, ordered by scope and subject."""
        return [b for subject in sorted(self._effective) for b in self._effective[subject]]

    def origin(self, budget: Budget) -> BudgetOrigin:
        stored = self._stored.get((budget.scope, budget.subject), {})
        return "admin" if budget.period in stored else "config"

    def in_config(self, scope: BudgetScope, subject: str, period: BudgetPeriod) -> bool:
        return period in self._config.get((scope, subject), {})

    def apply(self, record: StoredBudget) -> Budget | None:
        """Take one table row into account; returns the budget now in force for it, if any."""
        subject: _Subject = (record.scope, record.subject)
        periods = self._stored.setdefault(subject, {})
        budget = record.budget
        if budget is None:
            periods.pop(record.period, None)
        else:
            periods[record.period] = budget
        if not periods:
            del self._stored[subject]
        self._rebuild(subject)
        self.revision = max(self.revision, record.revision)
        return next(
            (b for b in self._effective.get(subject, ()) if b.period == record.period), None
        )

    def apply_all(self, records: Iterable[StoredBudget]) -> list[Budget]:
        return [b for b in (self.apply(r) for r in records) if b is not None]

    async def refresh(self) -> list[Budget]:
        """Read the rows changed since the last refresh; returns the budgets they set."""
        if self._table is None:
            return []
        return self.apply_all(await self._table.changes_since(self.revision))
