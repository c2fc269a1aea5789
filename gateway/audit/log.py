"""Group commit: many concurrent ``append`` calls share one ``write`` + ``fsync``.

One writer thread owns the :class:`~gateway.audit.wal.WriteAheadLog`. ``append`` puts the
event's payload and a future on a thread-safe queue and waits; the writer takes everything
that queued up while the previous fsync ran (at most ``max_batch``), commits it as one batch
and resolves every future of the batch, on the event loop, only after that fsync returned.
No artificial delay is added: under load, batches form by themselves. ``max_batch=1`` gives
fsync-per-event (used by the benchmark as the baseline).

After each batch, and when the open segment's time limit passes, the writer seals the segment
if a limit is reached and calls ``on_sealed`` (the shipper's wake-up) on the event loop.

The event loop's share of an append is one queue put and one wake-up per batch: chaining,
hashing, writing and syncing all happen on the writer thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from gateway.audit.errors import AuditUnavailable
from gateway.audit.wal import Receipt, WriteAheadLog

log = logging.getLogger(__name__)

_Pending = tuple[dict[str, Any], "asyncio.Future[Receipt]"]
_WRITER_STOPPED = "the audit trail's writer stopped"


def _resolve(batch: list[_Pending], receipts: list[Receipt]) -> None:
    for (_, future), receipt in zip(batch, receipts, strict=True):
        if not future.done():
            future.set_result(receipt)


def _refuse(batch: list[_Pending], error: AuditUnavailable) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


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
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: threading.Thread | None = None
        self._stopped: asyncio.Future[int | None] | None = None
        self._accepting = False

    async def start(self) -> None:
        """Recover the write-ahead directory, then start accepting appends."""
        recovered = await asyncio.to_thread(self._wal.recover)
        if recovered is not None:
            self._sealed(recovered)
        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        self._writer = threading.Thread(target=self._run, name="audit-wal", daemon=True)
        self._writer.start()
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
        if not self._accepting or self._loop is None:
            raise AuditUnavailable("the audit trail is not running")
        future: asyncio.Future[Receipt] = self._loop.create_future()
        self._queue.put((payload, future))
        return await future

    async def aclose(self) -> None:
        """Commit what is queued, seal the open segment (reason ``shutdown``) and stop."""
        if self._writer is None or self._stopped is None:
            return
        self._accepting = False
        self._queue.put(None)
        sealed = await self._stopped
        self._writer.join()  # it ends right after reporting
        self._writer = None
        if sealed is not None:
            self._sealed(sealed)

    def _sealed(self, number: int) -> None:
        if self._on_sealed is not None:
            self._on_sealed(number)

    # --- the writer thread ----------------------------------------------------------------

    def _to_loop(self, callback: Callable[..., object], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop was closed without aclose(): nobody is waiting
            log.warning("audit: the event loop closed before the audit trail was closed")

    def _gather(self, batch: list[_Pending]) -> bool:
        """Fill ``batch`` with the next batch; True when a stop was requested. ``batch``
        stays empty when the segment's time is up first."""
        try:
            item = self._queue.get(timeout=self._wal.seconds_until_due())
        except queue.Empty:
            return False
        if item is None:
            return True
        batch.append(item)
        limit = min(self._max_batch, self._wal.room())  # once the item is held in ``batch``
        while len(batch) < limit:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:
                return True
            batch.append(item)
        return False

    def _run(self) -> None:
        sealed: int | None = None
        batch: list[_Pending] = []
        try:
            stopping = False
            while not stopping:
                batch = []
                stopping = self._gather(batch)
                if batch:
                    self._commit(batch)
                batch = []
                self._seal_if_due()
            sealed = self._close()
        except Exception:
            log.exception("audit: the write-ahead writer stopped; appends are refused")
        finally:
            self._to_loop(self._ended, sealed, batch)

    def _ended(self, sealed: int | None, uncommitted: list[_Pending]) -> None:
        """On the loop, once the writer is gone: stop accepting, and refuse what it will
        never commit (a batch it held when it failed, and anything still queued)."""
        self._accepting = False
        error = AuditUnavailable(_WRITER_STOPPED)
        _refuse(uncommitted, error)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _refuse([item], error)
        assert self._stopped is not None
        if not self._stopped.done():
            self._stopped.set_result(sealed)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            receipts = self._wal.append_batch([payload for payload, _ in batch])
        except Exception as exc:
            error = exc if isinstance(exc, AuditUnavailable) else AuditUnavailable(str(exc))
            log.error("audit: %d event(s) could not be made durable: %s", len(batch), error)
            self._to_loop(_refuse, batch, error)
            return
        self._to_loop(_resolve, batch, receipts)

    def _seal_if_due(self) -> None:
        reason = self._wal.due()
        if reason is None:
            return
        try:
            sealed = self._wal.seal(reason)
        except Exception as exc:
            log.error("audit: sealing failed: %s", exc)
            return
        if sealed is not None:
            self._to_loop(self._sealed, sealed)

    def _close(self) -> int | None:
        try:
            return self._wal.close()
        except AuditUnavailable as exc:
            log.error("audit: could not seal the open segment at shutdown: %s", exc)
            return None
