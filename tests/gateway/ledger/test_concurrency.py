"""200 concurrent requests against a budget that fits 10 worst cases."""

from __future__ import annotations

import multiprocessing

import pytest
from redis.asyncio import Redis

from gateway.ledger.store import ReservationStore
from tests.gateway.ledger import worker
from tests.gateway.ledger.contention import BUDGET, WORST, contend
from tests.gateway.ledger.engine_support import SUBJECT, make_engine
from tests.gateway.limits.redis_support import REDIS_URL, FakeClock

BUDGETS = {"teams": {"risk": {"amount": str(BUDGET)}}}


async def test_exactly_the_requests_that_fit_are_admitted(
    store: ReservationStore, clock: FakeClock
) -> None:
    engine = make_engine(store, clock, **BUDGETS)
    tally = await contend(engine, "worst", 200, actual=WORST)
    # every worst case was used in full: exactly 10 fit, none that fit was refused
    assert (tally.admitted, tally.refused, tally.unjustified) == (10, 190, 0)
    [status] = await engine.status(SUBJECT)
    assert status.spent == tally.settled == BUDGET
    assert status.reserved == 0


async def test_settled_spend_never_exceeds_the_budget_when_usage_is_lower(
    store: ReservationStore, clock: FakeClock
) -> None:
    engine = make_engine(store, clock, **BUDGETS)
    tally = await contend(engine, "half", 200, actual=WORST // 2)
    [status] = await engine.status(SUBJECT)
    assert status.spent == tally.settled <= BUDGET
    assert status.reserved == 0
    # settlements below the worst case freed room for more than 10, at most 20
    assert 10 <= tally.admitted <= 20
    assert tally.admitted + tally.refused == 200
    assert tally.unjustified == 0


@pytest.mark.services
async def test_two_processes_sharing_redis_never_overspend(
    redis_prefix: tuple[Redis, str],
) -> None:
    _, prefix = redis_prefix
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=worker.run, args=(REDIS_URL, prefix, f"p{i}", 100, barrier, results))
        for i in range(2)
    ]
    for proc in procs:
        proc.start()
    try:
        tallies = [results.get(timeout=60) for _ in procs]
        assert [t[2] for t in tallies] == ["", ""]
        for proc in procs:
            proc.join(timeout=30)
            assert proc.exitcode == 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
    admitted = sum(t[0] for t in tallies)
    settled = sum(t[1] for t in tallies)
    assert admitted == 10
    assert settled == BUDGET
    client = Redis.from_url(REDIS_URL)
    try:
        counter = f"{prefix}c:team:risk:monthly:{worker.MONTH}"
        spent, reserved = await client.hmget(counter, ["spent", "reserved"])
    finally:
        await client.aclose()
    assert spent is not None
    assert int(spent) == BUDGET * 1_000_000
    assert int(reserved or 0) == 0
