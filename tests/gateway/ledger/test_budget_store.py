"""Budgets in the store: set, deleted, overlaid on the config's, seen by another replica."""

from __future__ import annotations

from decimal import Decimal

from gateway.ledger.budget_store import BudgetCache, BudgetTable
from gateway.ledger.budgets import Budget, BudgetsConfig
from gateway.store import Store

CONFIG = BudgetsConfig.model_validate(
    {"teams": {"risk": [{"amount": 100, "period": "monthly"}, {"amount": 10, "period": "daily"}]}}
)


def ids(budgets: object) -> list[str]:
    return [b.budget_id for b in budgets]  # type: ignore[attr-defined]


def test_config_budgets_apply_by_key_team_and_cost_center() -> None:
    cache = BudgetCache(
        BudgetsConfig.model_validate(
            {
                "keys": {"k1": {"amount": 1}},
                "teams": {"risk": {"amount": 2}},
                "cost_centers": {"cc-1": {"amount": 3, "period": "daily"}},
            }
        )
    )
    assert ids(cache.budgets_for("k1", "risk", "cc-1")) == [
        "key:k1:monthly",
        "team:risk:monthly",
        "cost_center:cc-1:daily",
    ]
    assert ids(cache.budgets_for("k2", None, "cc-2")) == []


async def test_an_admin_budget_replaces_the_config_one_until_deleted(
    migrated_store: Store,
) -> None:
    table = BudgetTable(migrated_store.engine)
    cache = BudgetCache(CONFIG, table)
    record = await table.put(Budget("team", "risk", "monthly", Decimal("250.5")))
    assert cache.apply(record) == Budget("team", "risk", "monthly", Decimal("250.5"))
    found = {b.period: b for b in cache.budgets_for("k", "risk", None)}
    assert (found["monthly"].amount, found["daily"].amount) == (Decimal("250.5"), Decimal(10))
    assert cache.origin(found["monthly"]) == "admin"
    assert cache.origin(found["daily"]) == "config"
    deleted = await table.delete("team", "risk", "monthly")
    assert deleted is not None and deleted.amount is None
    assert cache.apply(deleted) == Budget("team", "risk", "monthly", Decimal(100))
    assert await table.delete("team", "risk", "monthly") is None  # already gone


async def test_another_replica_sees_changes_and_deletions(migrated_store: Store) -> None:
    here = BudgetCache(BudgetsConfig(), BudgetTable(migrated_store.engine))
    there = BudgetCache(BudgetsConfig(), BudgetTable(migrated_store.engine))
    table = BudgetTable(migrated_store.engine)
    for subject in ("a", "b", "c"):
        here.apply(await table.put(Budget("key", subject, "daily", Decimal(5))))
    assert ids(await there.refresh()) == ["key:a:daily", "key:b:daily", "key:c:daily"]
    assert await there.refresh() == []  # nothing new
    here.apply(await table.put(Budget("key", "b", "daily", Decimal(7))))
    deleted = await table.delete("key", "c", "daily")
    assert deleted is not None
    here.apply(deleted)
    assert ids(await there.refresh()) == ["key:b:daily"]
    assert [(b.budget_id, b.amount) for b in there.all()] == [
        ("key:a:daily", Decimal(5)),
        ("key:b:daily", Decimal(7)),
    ]
    assert there.all() == here.all()
    assert there.revision == here.revision == 5
