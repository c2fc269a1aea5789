"""The shipper: copies sealed segments from the write-ahead directory to the sink.

Segments are shipped in order. After each one is in the sink (written, or already present
with identical bytes), ``shipped.json`` records its number (written atomically), and local
copies of shipped segments are deleted except the newest sealed one, which the write-ahead
log needs to continue the chain after a restart. A crash anywhere in between only means the
next run ships that segment again, which the idempotent object names turn into a no-op:
nothing is lost and nothing is duplicated.

Failures are reported to ``on_failure`` (webhooks subscribe there) and retried with
exponential back-off; a :class:`~gateway.audit.errors.ShipConflict` is reported with
``conflict=True`` and is never resolved by overwriting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from gateway.audit.errors import ShipConflict
from gateway.audit.events import utc_now
from gateway.audit.layout import object_name, segment_file
from gateway.audit.sinks.base import Sink, ship_object
from gateway.audit.wal import WAL_SUBDIR, sealed_segments

log = logging.getLogger(__name__)

STATE_FILE = "shipped.json"


@dataclass(frozen=True, slots=True)
class ShipFailure:
    """One failed attempt to ship a segment, as reported to ``on_failure``."""

    trail: str
    segment: int
    object_name: str
    sink: str
    error: str
    attempt: int
    conflict: bool


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 1.0
    maximum: float = 300.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th consecutive failure (1-based)."""
        return float(min(self.maximum, self.initial * self.factor ** max(0, attempt - 1)))


DEFAULT_BACKOFF = Backoff()


class _Failed(Exception):
    def __init__(self, segment: int, name: str, cause: Exception) -> None:
        super().__init__(str(cause))
        self.segment, self.name, self.cause = segment, name, cause


def _write_state(path: Path, segment: int) -> None:
    temp = path.with_suffix(".tmp")
    with temp.open("wb") as file:
        file.write(orjson.dumps({"segment": segment}))
        file.flush()
        os.fsync(file.fileno())
    temp.replace(path)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class Shipper:
    """Ships one trail's sealed segments to one sink (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        trail: str,
        sink: Sink,
        *,
        retention_days: int,
        on_failure: Callable[[ShipFailure], None] | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        poll_seconds: float = 30.0,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._directory = directory
        self._wal = directory / WAL_SUBDIR
        self.trail = trail
        self.sink = sink
        self._retention = timedelta(days=retention_days)
        self._on_failure = on_failure
        self._backoff = backoff
        self._poll = poll_seconds
        self._now = now
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def shipped_through(self) -> int:
        """The highest segment number known to be in the sink (0 for none)."""
        try:
            state = orjson.loads((self._directory / STATE_FILE).read_bytes())
        except FileNotFoundError:
            return 0
        return int(state["segment"])

    def ship_pending(self) -> list[int]:
        """Ship every sealed, unshipped segment in order (blocking); returns their numbers."""
        done = self.shipped_through()
        local = sealed_segments(self._wal)
        shipped: list[int] = []
        for number in (n for n in local if n > done):
            name = object_name(self.trail, number)
            try:
                data = segment_file(self._wal, number, sealed=True).read_bytes()
                outcome = ship_object(self.sink, name, data, self._now() + self._retention)
                _write_state(self._directory / STATE_FILE, number)
            except Exception as exc:
                raise _Failed(number, name, exc) from exc
            log.info("audit: segment %d %s to %s as %s", number, outcome, self.sink.url, name)
            shipped.append(number)
            done = number
        self._prune(local, done)
        return shipped

    def _prune(self, local: list[int], done: int) -> None:
        newest = local[-1] if local else 0
        for number in local:
            if number <= done and number != newest:
                segment_file(self._wal, number, sealed=True).unlink(missing_ok=True)

    # --- background loop ------------------------------------------------------------------

    def wake(self) -> None:
        """Ship soon (called when a segment is sealed)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-shipper")

    async def aclose(self) -> None:
        """Stop the loop after one last attempt to ship what is sealed."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._task
        self._task = None

    async def _run(self) -> None:
        attempt = 0
        while True:
            stopping = self._stopping
            self._wake.clear()
            try:
                await asyncio.to_thread(self.ship_pending)
                attempt, delay = 0, self._poll
            except _Failed as failure:
                attempt += 1
                self._report(failure, attempt)
                delay = self._backoff.delay(attempt)
            if stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _report(self, failure: _Failed, attempt: int) -> None:
        conflict = isinstance(failure.cause, ShipConflict)
        report = ShipFailure(
            trail=self.trail,
            segment=failure.segment,
            object_name=failure.name,
            sink=self.sink.url,
            error=f"{type(failure.cause).__name__}: {failure.cause}",
            attempt=attempt,
            conflict=conflict,
        )
        (log.critical if conflict else log.error)(
            "audit: shipping segment %d to %s failed (attempt %d): %s",
            report.segment,
            report.sink,
            attempt,
            report.error,
        )
        if self._on_failure is not None:
            try:
                self._on_failure(report)
            except Exception:
                log.exception("audit: the ship-failure callback raised")
