"""The usage outbox: settled usage events leave the request path through a bounded queue.

:meth:`UsageOutbox.put` only appends to an in-process queue; a background task writes what is
pending every ``flush_interval_seconds``, or at once when a full batch is waiting, in one
transaction of a few multi-row INSERTs (:meth:`gateway.ledger.usage_log.UsageLog.write`). The
hot path therefore never waits for the database and never updates a shared row.

Nothing is dropped silently:

* a failed write keeps its events at the head of the queue and is retried with back-off
  (``gatehouse_usage_outbox_write_failures_total``, an error log per failure);
* when the queue is full (the store has been unreachable for a long time), ``put`` waits for
  room, so answers slow down instead of losing their spend record;
* :meth:`UsageOutbox.aclose` (gateway shutdown) writes everything still pending, retrying
  for up to ``shutdown_timeout_seconds``; events that still cannot be written are logged one
  by one at ERROR, in full, and counted in ``gatehouse_usage_events_lost_total``.

Writes are idempotent by request id, so a batch retried after an ambiguous failure (the
commit succeeded but the answer was lost) is not counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.ledger.budgets import UsageOutboxConfig
from gateway.ledger.events import UsageEvent
from gateway.ledger.tasks import stop_task
from gateway.ledger.usage_log import UsageLog

_log = logging.getLogger("gatehouse.ledger.outbox")
MAX_BACKOFF_SECONDS = 5.0


def _event_json(event: UsageEvent) -> str:
    return orjson.dumps(dataclasses.asdict(event), default=str).decode()


class UsageOutbox:
    def __init__(
        self,
        log: UsageLog,
        config: UsageOutboxConfig,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._log = log
        self._config = config
        self._pending: deque[UsageEvent] = deque()
        self._full_batch = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._writer = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._written = Counter(
            "gatehouse_usage_events_written",
            "Usage events written to the store (duplicates by request id excluded)",
            registry=registry,
        )
        self._failures = Counter(
            "gatehouse_usage_outbox_write_failures",
            "Failed attempts to write a batch of usage events (the batch is kept and retried)",
            registry=registry,
        )
        self._lost = Counter(
            "gatehouse_usage_events_lost",
            "Usage events that could not be written before shutdown (each one is logged)",
            registry=registry,
        )
        pending = Gauge(
            "gatehouse_usage_outbox_pending",
            "Usage events waiting to be written to the store",
            registry=registry,
        )
        pending.set_function(lambda: len(self._pending))

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def put(self, event: UsageEvent) -> None:
        """Queue ``event``; waits only while the queue is full."""
        while len(self._pending) >= self._config.max_pending:
            if self._room.is_set():
                self._room.clear()
                _log.error(
                    "usage outbox is full (%d events not yet written); answers wait for room",
                    len(self._pending),
                )
            await self._room.wait()
        self._pending.append(event)
        if len(self._pending) >= self._config.batch_size:
            self._full_batch.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-outbox")

    async def flush(self) -> bool:
        """Write everything pending now; False if a write failed (the events are kept)."""
        async with self._writer:
            while self._pending:
                batch = [self._pending[i] for i in range(min(len(self._pending), self._batch))]
                try:
                    written = await self._log.write(batch)
                except Exception as exc:
                    self._failures.inc()
                    _log.error(
                        "writing %d usage events failed; they are kept and retried: %s",
                        len(batch),
                        exc,
                    )
                    return False
                for _ in batch:
                    self._pending.popleft()
                self._written.inc(written)
                if len(self._pending) < self._config.max_pending:
                    self._room.set()
        return True

    @property
    def _batch(self) -> int:
        return self._config.batch_size

    async def _run(self) -> None:
        interval = self._config.flush_interval_seconds
        delay = interval
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._full_batch.wait()
            self._full_batch.clear()
            if await self.flush():
                delay = interval
            else:
                delay = min(max(delay, interval) * 2, MAX_BACKOFF_SECONDS)

    async def aclose(self) -> None:
        """Stop the background task and write what is pending (see the module docstring)."""
        await stop_task(self._task)
        self._task = None
        deadline = time.monotonic() + self._config.shutdown_timeout_seconds
        delay = self._config.flush_interval_seconds
        while not await self.flush():
            if time.monotonic() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        for event in self._pending:
            _log.error(
                "usage event lost at shutdown (not written to the store): %s", _event_json(event)
            )
        self._lost.inc(len(self._pending))
        self._pending.clear()
        self._room.set()
