"""A worker process that hammers one shared Redis rate limit (see test_two_processes)."""

from __future__ import annotations

import asyncio
import time
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier

from gateway.limits import LimitsConfig, RateLimit, RateLimitExceeded, create_rate_limiter
from tests.gateway.limits.redis_support import make_client


def run(
    url: str,
    prefix: str,
    rpm: int,
    burst_seconds: float,
    duration: float,
    barrier: Barrier,
    start: Synchronized,  # type: ignore[type-arg]
    admitted: Synchronized,  # type: ignore[type-arg]
) -> None:
    """Wait until every process is ready, then offer far more than the limit until the end."""
    barrier.wait()  # every process has imported and is ready
    barrier.wait()  # the parent has set the common start time
    admitted.value = asyncio.run(_hammer(url, prefix, rpm, burst_seconds, start.value, duration))


async def _hammer(
    url: str, prefix: str, rpm: int, burst_seconds: float, start_at: float, duration: float
) -> int:
    client = make_client(url)
    config = LimitsConfig(
        backend="redis",
        key_prefix=prefix,
        burst_seconds=burst_seconds,
        default_key=RateLimit(rpm=rpm),
    )
    limiter = create_rate_limiter(config, redis=client)
    stop_at = start_at + duration
    count = 0

    async def worker() -> None:
        nonlocal count
        while time.time() < stop_at:
            try:
                await limiter.admit("shared-key", None, 0)
                count += 1
            except RateLimitExceeded:
                pass
            await asyncio.sleep(0.005)

    # open the pool's connections and load the script before the clock starts
    await asyncio.gather(*(limiter.admit(f"warm-up-{i}", None, 0) for i in range(4)))
    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(worker() for _ in range(4)))
    await client.aclose()
    return count
