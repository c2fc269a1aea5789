"""The usage_events table on SQLite and PostgreSQL: idempotent writes, exact totals."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from gateway.ledger import Price, Usage
from gateway.ledger.events import UsageEvent
from gateway.ledger.pricing import cost
from gateway.ledger.tables import usage_events
from gateway.ledger.usage_log import MAX_PAGE, UsageLog, pages
from gateway.store import Store
from gateway.store.migrate import SCRIPT_LOCATION
from tests.gateway.ledger.sql_support import count_inserts

T0 = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def event(request_id: str, **overrides: object) -> UsageEvent:
    base = UsageEvent(
        request_id=request_id,
        time=T0,
        key_id="k1",
        team="risk",
        cost_center="cc-1",
        model_alias="chat-eu",
        deployment="chat-eu#0",
        input_tokens=10,
        output_tokens=5,
        cached_input_tokens=2,
        cost=Decimal("0.000125"),
        currency="EUR",
        region="eu-west-1",
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def test_the_migrations_have_a_single_head() -> None:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several alembic heads: {heads}"


async def test_a_repeated_event_is_stored_once(migrated_store: Store) -> None:
    log = UsageLog(migrated_store.engine)
    assert await log.write([event("r1"), event("r2")]) == 2
    # a retried flush, a second replica, a duplicate inside one batch: still one row each
    assert await log.write([event("r1"), event("r2"), event("r3"), event("r3")]) == 1
    assert await log.count() == 3
    [row] = await log.totals(["team"], start=T0)
    assert (row.requests, row.cost, row.input_tokens, row.cached_input_tokens) == (
        3,
        Decimal("0.000375"),
        30,
        6,
    )


async def test_every_column_is_recorded(migrated_store: Store) -> None:
    await UsageLog(migrated_store.engine).write([event("r1")])
    async with migrated_store.engine.connect() as conn:
        row = (await conn.execute(sa.select(usage_events))).one()
    assert row.region == "eu-west-1"
    assert row.deployment == "chat-eu#0"
    assert row.cost_pico == 125_000_000
    assert row.currency == "EUR"


async def test_totals_are_exact_beyond_a_64_bit_sum_of_pico_units(migrated_store: Store) -> None:
    # 5 events of 4 million units: 2e19 pico-units, past the largest 64-bit integer
    big = [event(f"b{i}", cost=Decimal(4_000_000) + Decimal("0.000000000001")) for i in range(5)]
    log = UsageLog(migrated_store.engine)
    await log.write(big)
    [row] = await log.totals(["cost_center"], start=T0)
    assert row.cost == Decimal("20000000.000000000005")


async def test_totals_are_grouped_and_bounded_in_time(migrated_store: Store) -> None:
    log = UsageLog(migrated_store.engine)
    price = Price.of("0.15", "0.6", "0.075")
    usage = Usage(1000, 200, 400)
    small = cost(price, usage)  # 0.00009 + 0.00003 + 0.00012 = 0.00024
    await log.write(
        [
            event("a", team="risk", cost=small),
            event("b", team="risk", model_alias="embed-eu", cost=small),
            event("c", team="payments", cost=small, time=T0 + timedelta(days=1)),
            event("d", team=None, cost_center=None, cost=small),
            event("e", team="risk", cost=small, time=T0 - timedelta(seconds=1)),
        ]
    )
    rows = await log.totals(["team", "model"], start=T0, end=T0 + timedelta(days=1))
    found = {(r.group["team"], r.group["model"]): (r.requests, r.cost) for r in rows}
    assert found == {
        (None, "chat-eu"): (1, Decimal("0.00024")),
        ("risk", "chat-eu"): (1, Decimal("0.00024")),
        ("risk", "embed-eu"): (1, Decimal("0.00024")),
    }
    assert await log.totals(["key"], start=T0, currency="USD") == []


async def test_a_naive_time_is_refused(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    await store.migrate()
    try:
        with pytest.raises(ValueError, match="no timezone"):
            await UsageLog(store.engine).totals(["team"], start=datetime(2026, 11, 1))
    finally:
        await store.aclose()


async def test_a_cost_finer_than_the_stored_resolution_is_refused(migrated_store: Store) -> None:
    with pytest.raises(ValueError, match="cannot be stored exactly"):
        await UsageLog(migrated_store.engine).write([event("x", cost=Decimal("0.0000000000001"))])


def test_pages_are_powers_of_two_that_cover_the_batch_in_order() -> None:
    for count in range(0, 2100):
        slices = pages(count)
        covered = 0
        for start, end in slices:
            assert start == covered, (count, slices)
            covered = end
        assert covered == count
        for start, end in slices:
            size = end - start
            assert size <= MAX_PAGE and size & (size - 1) == 0, (count, slices)


async def test_batches_of_any_size_reach_the_store_as_few_statement_texts(
    migrated_store: Store,
) -> None:
    # Each distinct SQL text is a prepared statement the driver keeps per connection; one text
    # per batch size made a loaded worker grow by hundreds of megabytes.
    inserts = count_inserts(migrated_store)
    log = UsageLog(migrated_store.engine)
    written = 0
    for size in range(1, 64):
        written += await log.write([event(f"b{size}-{i}") for i in range(size)])
    assert written == sum(range(1, 64)) == await log.count()
    texts = set(inserts)
    assert len(texts) <= 6, f"{len(texts)} statement texts for 63 batch sizes"
