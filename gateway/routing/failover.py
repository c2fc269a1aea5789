"""Retries with back-off and jitter, then fallback to the next deployment.

Retryable failures (connect errors, timeouts, 408, 429, 5xx) are retried on the same
deployment up to ``retry.attempts`` times, sleeping a full-jitter exponential back-off or
the upstream's ``Retry-After`` (a Retry-After longer than ``max_retry_after_seconds`` moves
on at once). Then the next deployment in order is tried. Circuit breakers are consulted
before every attempt and told every outcome; 429 counts as "alive" for the breaker.
Non-retryable upstream answers (4xx) end the request at once: they are the client's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from gateway.config import RetryPolicy
from gateway.context import Attempt, RequestContext
from gateway.errors import unavailable
from gateway.providers.base import UpstreamError
from gateway.routing.target import Target

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Failover:
    def __init__(
        self, policy: RetryPolicy, *, rng: random.Random, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._policy = policy
        self._rng = rng
        self._sleep = sleep

    def delay(self, attempt: int, err: UpstreamError) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``; ``None``: do not retry here."""
        if err.retry_after is not None:
            return (
                err.retry_after if err.retry_after <= self._policy.max_retry_after_seconds else None
            )
        cap = min(
            self._policy.backoff_max_seconds, self._policy.backoff_initial_seconds * 2**attempt
        )
        return self._rng.uniform(0.0, cap)

    async def run(
        self,
        ctx: RequestContext,
        targets: Sequence[Target],
        attempt: Callable[[Target], Awaitable[T]],
    ) -> tuple[Target, T]:
        last: UpstreamError | None = None
        for target in targets:
            for n in range(self._policy.attempts):
                if not target.breaker.allow():
                    break
                started = time.perf_counter()
                try:
                    result = await attempt(target)
                except UpstreamError as err:
                    ctx.attempts.append(
                        Attempt(target.id, err.status, err.message, time.perf_counter() - started)
                    )
                    if err.retryable and err.status != 429:
                        target.breaker.record_failure()
                    else:
                        target.breaker.record_success()
                    if not err.retryable:
                        raise
                    last = err
                    wait = self.delay(n, err)
                    if wait is None or n + 1 >= self._policy.attempts:
                        break
                    ctx.backoff_seconds += wait
                    await self._sleep(wait)
                    continue
                except BaseException:
                    target.breaker.release()
                    raise
                target.breaker.record_success()
                ctx.attempts.append(Attempt(target.id, 200, None, time.perf_counter() - started))
                return target, result
        if last is not None:
            raise last
        raise unavailable(
            f"every deployment of model {ctx.model!r} is failing (circuit open); retry later"
        )
