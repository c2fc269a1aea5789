"""A worker process that contends for one budget in Redis (see test_concurrency)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from gateway.ledger.redis_store import RedisReservationStore
from tests.gateway.ledger.conftest import START
from tests.gateway.ledger.contention import BUDGET, WORST, contend
from tests.gateway.ledger.engine_support import make_engine
from tests.gateway.limits.redis_support import FakeClock, make_client

MONTH = START.strftime("%Y-%m")


def run(
    url: str,
    prefix: str,
    name: str,
    count: int,
    barrier: Barrier,
    results: Queue[tuple[int, Decimal, str]],
) -> None:
    barrier.wait()
    try:
        results.put(asyncio.run(_contend(url, prefix, name, count)))
    except BaseException as exc:  # report, so the parent fails with the reason at once
        results.put((-1, Decimal(0), repr(exc)))
        raise


async def _contend(url: str, prefix: str, name: str, count: int) -> tuple[int, Decimal, str]:
    client = make_client(url)
    # a generous timeout: this test is about correctness on a shared, busy machine
    store = RedisReservationStore(client, prefix=prefix, timeout=10)
    engine = make_engine(store, FakeClock(START.timestamp()), teams={"risk": {"amount": BUDGET}})
    tally = await contend(engine, name, count, actual=WORST)
    await client.aclose()
    return tally.admitted, tally.settled, ""
