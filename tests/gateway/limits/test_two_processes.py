"""Two gateway processes sharing Redis hold the combined rate within 5% of the limit."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from redis.asyncio import Redis

from tests.gateway.limits import hammer
from tests.gateway.limits.redis_support import REDIS_URL

pytestmark = pytest.mark.services

RPM = 12_000  # 200 requests per second
BURST_SECONDS = 0.05  # a bucket of 10 requests
DURATION = 1.5


async def test_two_processes_share_one_rate(redis_prefix: tuple[Redis, str]) -> None:
    _, prefix = redis_prefix
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    start = ctx.Value("d", 0.0)
    counts = [ctx.Value("i", -1) for _ in range(2)]
    procs = [
        ctx.Process(
            target=hammer.run,
            args=(REDIS_URL, prefix, RPM, BURST_SECONDS, DURATION, barrier, start, count),
        )
        for count in counts
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=30)
        start.value = time.time() + 0.1
        barrier.wait(timeout=5)
        for proc in procs:
            proc.join(timeout=30)
            assert proc.exitcode == 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
    per_process = [c.value for c in counts]
    total = sum(per_process)
    expected = RPM * BURST_SECONDS / 60 + RPM / 60 * DURATION  # burst + rate x time = 310
    print(f"admitted {per_process} = {total}, limit allows {expected:.0f}")
    assert abs(total - expected) <= 0.05 * expected
    # both processes competed for the same budget (each alone would have got ~all of it)
    assert min(per_process) > 0.25 * expected
