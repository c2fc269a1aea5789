"""The usage outbox: batched multi-row inserts, retries, the shutdown flush, back-pressure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.ledger.budgets import UsageOutboxConfig
from gateway.ledger.events import UsageEvent
from gateway.ledger.outbox import UsageOutbox
from gateway.ledger.usage_log import UsageLog, pages
from gateway.store import Store
from tests.gateway.ledger.sql_support import count_inserts
from tests.gateway.ledger.test_usage_log import event


def outbox_config(**overrides: Any) -> UsageOutboxConfig:
    return UsageOutboxConfig.model_validate({"flush_interval_seconds": 0.05, **overrides})


async def until(predicate: Any, within: float = 5.0) -> None:
    """Poll ``predicate`` (the outbox offers no event to wait on) until true or timeout."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class FailingLog:
    """Fails its first ``failures`` writes (an unreachable store), then writes for real."""

    def __init__(self, log: UsageLog, failures: int) -> None:
        self.log = log
        self.failures = failures
        self.attempts = 0

    async def write(self, events: Sequence[UsageEvent]) -> int:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionRefusedError("store unreachable")
        return await self.log.write(events)


def sample(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value(name)
    return 0.0 if value is None else value


async def test_events_are_written_in_batches_of_a_few_inserts_each(migrated_store: Store) -> None:
    inserts = count_inserts(migrated_store)
    log = UsageLog(migrated_store.engine)
    outbox = UsageOutbox(log, outbox_config(batch_size=500, flush_interval_seconds=5))
    outbox.start()
    try:
        for i in range(1000):
            await outbox.put(event(f"r{i}"))
        # two full batches go at once, without waiting for the 5 s interval, each in the
        # power-of-two pages of UsageLog.write (500 rows: 256 + 128 + 64 + 32 + 16 + 4)
        await until(lambda: outbox.pending == 0, within=3)
        assert len(inserts) == 2 * len(pages(500)) == 12
        assert await log.count() == 1000
    finally:
        await outbox.aclose()


async def test_a_partial_batch_is_written_after_the_interval(migrated_store: Store) -> None:
    inserts = count_inserts(migrated_store)
    outbox = UsageOutbox(UsageLog(migrated_store.engine), outbox_config())
    outbox.start()
    try:
        for i in range(3):
            await outbox.put(event(f"r{i}"))
        assert outbox.pending == 3  # put never writes
        await until(lambda: outbox.pending == 0)
        assert len(inserts) == len(pages(3)) == 2  # one flush: pages of 2 and 1
    finally:
        await outbox.aclose()


async def test_a_failed_write_is_retried_and_nothing_is_lost(
    migrated_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    log = UsageLog(migrated_store.engine)
    failing = FailingLog(log, failures=2)
    outbox = UsageOutbox(failing, outbox_config(), registry=registry)  # type: ignore[arg-type]
    outbox.start()
    try:
        for i in range(10):
            await outbox.put(event(f"r{i}"))
        await until(lambda: outbox.pending == 0)
    finally:
        await outbox.aclose()
    assert await log.count() == 10
    assert failing.attempts == 3
    assert sample(registry, "gatehouse_usage_outbox_write_failures_total") == 2
    assert sample(registry, "gatehouse_usage_events_written_total") == 10
    assert sample(registry, "gatehouse_usage_events_lost_total") == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        errors
        == ["writing 10 usage events failed; they are kept and retried: store unreachable"] * 2
    )


async def test_shutdown_writes_what_is_pending(migrated_store: Store) -> None:
    log = UsageLog(migrated_store.engine)
    outbox = UsageOutbox(log, outbox_config(flush_interval_seconds=10))
    outbox.start()
    for i in range(7):
        await outbox.put(event(f"r{i}"))
    await outbox.aclose()
    assert await log.count() == 7


async def test_events_that_cannot_be_written_by_shutdown_are_logged_and_counted(
    migrated_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    failing = FailingLog(UsageLog(migrated_store.engine), failures=1_000_000)
    config = outbox_config(shutdown_timeout_seconds=0.2)
    outbox = UsageOutbox(failing, config, registry=registry)  # type: ignore[arg-type]
    for i in range(3):
        await outbox.put(event(f"lost-{i}"))
    await outbox.aclose()
    assert failing.attempts >= 2  # retried until the shutdown deadline
    assert sample(registry, "gatehouse_usage_events_lost_total") == 3
    lost = [r.getMessage() for r in caplog.records if "lost at shutdown" in r.getMessage()]
    assert len(lost) == 3
    assert all('"cost":"0.000125"' in line and '"team":"risk"' in line for line in lost)
    assert [f'"request_id":"lost-{i}"' in lost[i] for i in range(3)] == [True] * 3


class GatedLog:
    """Writes only once the gate opens: a store that is down for a while."""

    def __init__(self, log: UsageLog) -> None:
        self.log = log
        self.gate = asyncio.Event()

    async def write(self, events: Sequence[UsageEvent]) -> int:
        if not self.gate.is_set():
            raise ConnectionRefusedError("store unreachable")
        return await self.log.write(events)


async def test_a_full_outbox_makes_answers_wait_instead_of_dropping(migrated_store: Store) -> None:
    log = UsageLog(migrated_store.engine)
    gated = GatedLog(log)
    outbox = UsageOutbox(gated, outbox_config(max_pending=1000, batch_size=1000))  # type: ignore[arg-type]
    outbox.start()
    try:
        for i in range(1000):
            await outbox.put(event(f"r{i}"))
        late = asyncio.create_task(outbox.put(event("late")))
        await asyncio.sleep(0.2)
        assert not late.done()  # waiting for room, not dropped
        gated.gate.set()
        await asyncio.wait_for(late, timeout=10)
        await until(lambda: outbox.pending == 0, within=10)
    finally:
        await outbox.aclose()
    assert await log.count() == 1001
