"""The ledger's durable side: usage events to the store, budgets from it, spend restored.

:class:`DurableLedger` ties the gateway store to a :class:`BudgetEngine`:

* settled usage events go through the :class:`~gateway.ledger.outbox.UsageOutbox`;
* budgets set through the admin API are cached (:class:`BudgetCache`) and refreshed every
  ``budgets.refresh_seconds``;
* at start-up, and whenever a budget appears, the budget's counter for the current period is
  re-seeded from the SQL total of its usage events (:meth:`BudgetEngine.seed` only ever
  raises a counter, so a shared counter ahead of the record keeps its value). Spend therefore
  survives a restart of a single replica (memory counters) and a loss of Redis alike. A seed
  that fails (store unreachable) is retried at the next refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.ledger.budget_store import BudgetCache, BudgetTable, StoredBudget
from gateway.ledger.budgets import Budget, BudgetPeriod, BudgetsConfig, BudgetScope, period_start
from gateway.ledger.events import UsageEvent
from gateway.ledger.outbox import UsageOutbox
from gateway.ledger.reservations import BudgetEngine
from gateway.ledger.tasks import stop_task
from gateway.ledger.usage_log import Dimension, UsageLog

_log = logging.getLogger("gatehouse.ledger")
_DIMENSION: dict[BudgetScope, Dimension] = {
    "key": "key",
    "team": "team",
    "cost_center": "cost_center",
}


class DurableLedger:
    def __init__(
        self,
        engine: AsyncEngine,
        config: BudgetsConfig,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.usage = UsageLog(engine)
        self.outbox = UsageOutbox(self.usage, config.outbox, registry=registry)
        self.budgets = BudgetCache(config, BudgetTable(engine))
        self._refresh_seconds = config.refresh_seconds
        self._unseeded: set[Budget] = set()
        self._refresher: asyncio.Task[None] | None = None

    async def start(self, engine: BudgetEngine) -> None:
        """Load the budgets, restore this period's spend, start writing and refreshing."""
        await self.budgets.refresh()
        self._unseeded.update(self.budgets.all())
        await self.seed_pending(engine)
        self.outbox.start()
        self._refresher = asyncio.create_task(self._refresh_loop(engine), name="budget-refresh")

    async def aclose(self) -> None:
        await stop_task(self._refresher)
        await self.outbox.aclose()

    async def record(self, event: UsageEvent) -> None:
        await self.outbox.put(event)

    async def apply(self, engine: BudgetEngine, record: StoredBudget) -> Budget | None:
        """A budget row written here (admin API): in force at once on this replica."""
        budget = self.budgets.apply(record)
        if budget is not None:
            self._unseeded.add(budget)
            await self.seed_pending(engine)
        return budget

    async def seed_pending(self, engine: BudgetEngine) -> None:
        """Seed the counters of budgets not yet seeded; keep them for later on failure."""
        if not self._unseeded:
            return
        pending = set(self._unseeded)
        if not await self.outbox.flush():  # this replica's own spend must be in the totals
            return
        try:
            await self._seed(engine, pending)
        except Exception as exc:
            _log.error("restoring budget spend from the store failed; retrying later: %s", exc)
            return
        self._unseeded -= pending

    async def _seed(self, engine: BudgetEngine, budgets: Iterable[Budget]) -> None:
        now = engine.now()
        wanted: dict[tuple[BudgetScope, BudgetPeriod], dict[str, Budget]] = {}
        for budget in budgets:
            wanted.setdefault((budget.scope, budget.period), {})[budget.subject] = budget
        for (scope, period), by_subject in wanted.items():
            start = period_start(period, now)
            dimension = _DIMENSION[scope]
            rows = await self.usage.totals([dimension], start=start, currency=engine.currency)
            for row in rows:
                found = by_subject.get(row.group[dimension] or "")
                if found is not None and row.cost > 0:
                    await engine.seed(found.budget_id, start, row.cost)

    async def _refresh_loop(self, engine: BudgetEngine) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                self._unseeded.update(await self.budgets.refresh())
                await self.seed_pending(engine)
            except Exception as exc:  # the store may be back at the next round
                _log.warning("budget refresh failed: %s", exc)
