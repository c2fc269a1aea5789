"""Stopping background tasks reliably.

redis-py's asyncio client can swallow a cancellation that arrives while it waits on a
connection (https://github.com/redis/redis-py/issues/2028,
https://github.com/redis/redis-py/issues/2551): the task then carries on and a plain
``task.cancel(); await task`` waits forever. :func:`stop_task` cancels again until the task
has really ended.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

_log = logging.getLogger("gatehouse.ledger")


async def stop_task(task: asyncio.Task[Any] | None, *, recheck_seconds: float = 0.2) -> None:
    """Cancel ``task`` and wait until it has ended; log an error it ended with."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=recheck_seconds)
    if not task.cancelled() and task.exception() is not None:
        _log.error("background task %s failed", task.get_name(), exc_info=task.exception())
