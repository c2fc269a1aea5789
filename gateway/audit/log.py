"""Group commit: many concurrent ``append`` calls share one ``write`` + ``fsync``.

One writer task owns the :class:`~gateway.audit.wal.WriteAheadLog` and runs its blocking
calls on a dedicated thread. ``append`` queues the event with a future and waits; the writer
takes everything that queued up while the previous fsync ran (at most ``max_batch``), commits
it as one batch and resolves every future only after that fsync returned. No artificial delay
is added: under load, batches form by themselves. ``max_batch=1`` gives fsync-per-event (used
by the benchmark as the baseline).

After each batch, and when the open segment's time limit passes, the writer seals the segment
if a limit is reached and calls ``on_sealed`` (the shipper's wake-up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from gateway.audit.errors import AuditUnavailable
from gateway.audit.wal import Receipt, WriteAheadLog

log = logging.getLogger(__name__)

T = TypeVar("T")
_Pending = tuple[dict[str, Any], "asyncio.Future[Receipt]"]


class AuditLog:
    """The async, group-committing front end of one write-ahead log."""

    def __init__(
        self,
        wal: WriteAheadLog,
        *,
        max_batch: int = 4096,
        on_sealed: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch is {max_batch}, expected 1 or more")
        self._wal = wal
        self._max_batch = max_batch
        self._on_sealed = on_sealed
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._accepting = False

    async def _blocking(self, call: Callable[..., T], *args: Any) -> T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    async def start(self) -> None:
        """Recover the write-ahead directory, then start accepting appends."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-wal")
        try:
            recovered = await self._blocking(self._wal.recover)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        if recovered is not None:
            self._sealed(recovered)
        self._task = asyncio.create_task(self._run(), name="audit-writer")
        self._accepting = True

    @property
    def problem(self) -> str | None:
        """Why appends are refused (for a readiness probe), or ``None`` when healthy."""
        if not self._accepting:
            return "the audit trail is not running"
        return self._wal.problem

    async def append(self, payload: dict[str, Any]) -> Receipt:
        """Append an event's ``payload``; returns once it is durable (fsynced) in the
        write-ahead file. Raises :class:`AuditUnavailable` when it cannot be made durable.
        """
        if not self._accepting:
            raise AuditUnavailable("the audit trail is not running")
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((payload, future))
        return await future

    async def aclose(self) -> None:
        """Commit what is queued, seal the open segment (reason ``shutdown``) and stop."""
        if self._task is None:
            return
        self._accepting = False
        self._queue.put_nowait(None)
        await self._task
        self._task = None
        try:
            sealed = await self._blocking(self._wal.close)
        except AuditUnavailable as exc:
            log.error("audit: could not seal the open segment at shutdown: %s", exc)
            sealed = None
        if sealed is not None:
            self._sealed(sealed)
        assert self._executor is not None
        self._executor.shutdown(wait=True)
        self._executor = None

    def _sealed(self, number: int) -> None:
        if self._on_sealed is not None:
            self._on_sealed(number)

    async def _gather(self) -> tuple[list[_Pending], bool]:
        """The next batch and whether a stop was requested; empty when the segment's time is up."""
        try:
            item = await asyncio.wait_for(self._queue.get(), self._wal.seconds_until_due())
        except TimeoutError:
            return [], False
        batch: list[_Pending] = []
        limit = min(self._max_batch, self._wal.room())
        while item is not None:
            batch.append(item)
            if len(batch) >= limit or self._queue.empty():
                return batch, False
            item = self._queue.get_nowait()
        return batch, True

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = await self._gather()
            if batch:
                await self._commit(batch)
            await self._seal_if_due()

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            receipts = await self._blocking(self._wal.append_batch, [p for p, _ in batch])
        except Exception as exc:
            error = exc if isinstance(exc, AuditUnavailable) else AuditUnavailable(str(exc))
            log.error("audit: %d event(s) could not be made durable: %s", len(batch), error)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), receipt in zip(batch, receipts, strict=True):
            if not future.done():
                future.set_result(receipt)

    async def _seal_if_due(self) -> None:
        reason = self._wal.due()
        if reason is None:
            return
        try:
            sealed = await self._blocking(self._wal.seal, reason)
        except Exception as exc:
            log.error("audit: sealing failed: %s", exc)
            return
        if sealed is not None:
            self._sealed(sealed)
