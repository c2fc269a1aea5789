"""Background tasks stop even when a library swallows the first cancellation."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.ledger.tasks import stop_task


async def test_a_swallowed_cancellation_is_repeated_until_the_task_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)  # a Redis call that eats the cancellation
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed == 1:
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await stop_task(task, recheck_seconds=0.05)
    assert task.cancelled()
    assert swallowed == 2


async def test_stopping_nothing_or_a_finished_task_is_harmless() -> None:
    await stop_task(None)

    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    with contextlib.suppress(RuntimeError):
        await task
    await stop_task(task)  # logged, not raised
