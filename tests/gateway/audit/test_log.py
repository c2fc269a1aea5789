"""The group-commit front end: its writer thread hands every result back to the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import AuditUnavailable
from gateway.audit.events import event_payload
from gateway.audit.layout import segment_file
from gateway.audit.log import AuditLog
from gateway.audit.wal import WAL_SUBDIR, SegmentLimits, WriteAheadLog
from tests.gateway.audit.support import request_event, wait_until


def write_ahead_log(directory: Path, limits: SegmentLimits) -> WriteAheadLog:
    return WriteAheadLog(directory, "trail", Ed25519PrivateKey.generate(), limits)


async def test_receipts_and_seal_notices_arrive_on_the_event_loop(tmp_path: Path) -> None:
    loop_thread = threading.get_ident()
    sealed: list[tuple[int, int]] = []
    log = AuditLog(
        write_ahead_log(tmp_path, SegmentLimits(max_events=2)),
        on_sealed=lambda number: sealed.append((number, threading.get_ident())),
    )
    await log.start()
    appends = (log.append(event_payload(request_event(n))) for n in range(1, 6))
    receipts = await asyncio.gather(*appends)
    await log.aclose()
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]
    assert [r.segment for r in receipts] == [1, 1, 2, 2, 3]
    assert sealed == [(1, loop_thread), (2, loop_thread), (3, loop_thread)]


async def test_closed_log_refuses_appends_and_closes_once(tmp_path: Path) -> None:
    log = AuditLog(write_ahead_log(tmp_path, SegmentLimits()))
    await log.start()
    await log.append(event_payload(request_event(1)))
    await log.aclose()
    await log.aclose()
    assert log.problem == "the audit trail is not running"
    with pytest.raises(AuditUnavailable, match="not running"):
        await log.append(event_payload(request_event(2)))


def test_a_loop_closed_without_aclose_does_not_break_the_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = AuditLog(write_ahead_log(tmp_path, SegmentLimits(max_seconds=0.05)))

    async def append_and_leave() -> None:
        await log.start()
        await log.append(event_payload(request_event(1)))

    with caplog.at_level(logging.WARNING, logger="gateway.audit.log"):
        asyncio.run(append_and_leave())  # the loop closes; the segment's time runs out later
        asyncio.run(wait_until(lambda: "event loop closed" in caplog.text))
    assert segment_file(tmp_path / WAL_SUBDIR, 1, sealed=True).exists()  # sealed all the same
    writer = log._writer
    assert writer is not None and writer.is_alive()
    log._queue.put(None)  # aclose() needs the closed loop: stop the thread by hand
    writer.join(5)
    assert not writer.is_alive()


async def test_appends_fail_fast_once_the_writer_thread_has_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wal = write_ahead_log(tmp_path, SegmentLimits())
    log = AuditLog(wal)
    await log.start()
    await log.append(event_payload(request_event(1)))

    def broken() -> int:
        raise RuntimeError("disk controller gone")

    monkeypatch.setattr(wal, "room", broken)
    with pytest.raises(AuditUnavailable, match="writer stopped"):
        async with asyncio.timeout(5):  # refused, never left waiting
            await log.append(event_payload(request_event(2)))
    assert log.problem == "the audit trail is not running"
    with pytest.raises(AuditUnavailable, match="not running"):
        await log.append(event_payload(request_event(3)))
    assert "writer stopped" in caplog.text
    await log.aclose()
