"""Durability: group commit, the 503 on an unwritable write-ahead file, crash and restart."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import AuditTrail, AuditUnavailable, FileOps, ShipFailure, verify
from gateway.audit.layout import object_name
from gateway.audit.sinks import LocalSink
from tests.gateway.audit.support import (
    append_sequentially,
    config,
    public_b64,
    request_event,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[3]


class FsyncCounter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        os.fsync(fd)


class Faults:
    """Write/fsync/open functions that fail with ``errno_`` while ``active`` is set."""

    def __init__(self, errno_: int = errno.EIO) -> None:
        self.errno = errno_
        self.active = False

    def _check(self) -> None:
        if self.active:
            raise OSError(self.errno, os.strerror(self.errno))

    def write(self, fd: int, data: bytes) -> int:
        self._check()
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        self._check()
        os.fsync(fd)

    def open(self, path: str, flags: int, mode: int) -> int:
        self._check()
        return os.open(path, flags, mode)


async def concurrent_appends(trail: AuditTrail, count: int) -> None:
    await asyncio.gather(*(trail.append(request_event(n)) for n in range(count)))


async def test_concurrent_appends_share_fsyncs(tmp_path: Path, signing_key: object) -> None:
    counter = FsyncCounter()
    trail = AuditTrail(config(), default_dir=tmp_path / "wal", ops=FileOps(fsync=counter))
    await trail.start()
    await concurrent_appends(trail, 200)
    grouped = counter.calls
    await trail.aclose()
    assert grouped <= 10, f"{grouped} fsyncs for 200 concurrent events"

    baseline = FsyncCounter()
    single = AuditTrail(
        config(), default_dir=tmp_path / "single", ops=FileOps(fsync=baseline), max_batch=1
    )
    await single.start()
    await concurrent_appends(single, 200)
    assert baseline.calls >= 200  # fsync-per-event, the comparison point
    await single.aclose()


async def test_append_returns_only_after_fsync(tmp_path: Path, signing_key: object) -> None:
    synced: list[int] = []

    def fsync(fd: int) -> None:
        os.fsync(fd)
        synced.append(fd)

    trail = AuditTrail(config(), default_dir=tmp_path / "wal", ops=FileOps(fsync=fsync))
    await trail.start()
    before = len(synced)
    receipt = await trail.append(request_event(1))
    assert len(synced) > before
    data = (tmp_path / "wal" / "wal" / "000000000001.wal").read_bytes()
    assert receipt.hash.encode() in data and data.endswith(b"\n")
    await trail.aclose()


async def refused_with_503(trail: AuditTrail) -> AuditUnavailable:
    with pytest.raises(AuditUnavailable) as refused:
        await asyncio.gather(trail.append(request_event(2)), trail.append(request_event(3)))
    assert refused.value.status == 503
    assert refused.value.code == "audit_unavailable"
    return refused.value


def assert_archive(directory: Path, key: Ed25519PrivateKey, events: int) -> None:
    result = verify(directory / "archive", public_b64(key.public_key()))
    assert result.ok, result.problems
    assert [t.events for t in result.trails] == [events]


async def test_failed_write_answers_503_and_the_chain_continues(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    faults = Faults()
    trail = AuditTrail(config(), default_dir=tmp_path / "wal", ops=FileOps(write=faults.write))
    await trail.start()
    await trail.append(request_event(1))
    faults.active = True
    assert "cannot be written" in (await refused_with_503(trail)).detail
    faults.active = False
    receipt = await trail.append(request_event(4))
    assert receipt.seq == 2  # the refused events never entered the chain
    assert trail.problem is None
    await trail.aclose()
    assert_archive(tmp_path / "wal", signing_key, 2)


async def test_failed_fsync_answers_503_until_restart(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    faults = Faults()
    directory = tmp_path / "wal"
    trail = AuditTrail(config(), default_dir=directory, ops=FileOps(fsync=faults.fsync))
    await trail.start()
    await trail.append(request_event(1))
    faults.active = True
    await refused_with_503(trail)
    faults.active = False
    # after a failed fsync the page cache cannot be trusted: refuse until a restart recovers
    with pytest.raises(AuditUnavailable, match="until restart"):
        await trail.append(request_event(4))
    assert trail.problem is not None
    await trail.aclose()
    restarted = AuditTrail(config(), default_dir=directory)
    await restarted.start()
    assert (await restarted.append(request_event(5))).seq == 2
    await restarted.aclose()
    assert_archive(directory, signing_key, 2)


async def test_segment_that_cannot_be_created_answers_503(
    tmp_path: Path, signing_key: object
) -> None:
    faults = Faults(errno.EROFS)
    trail = AuditTrail(config(), default_dir=tmp_path / "wal", ops=FileOps(open=faults.open))
    await trail.start()
    faults.active = True
    with pytest.raises(AuditUnavailable, match="cannot be created") as refused:
        await trail.append(request_event(1))
    assert refused.value.status == 503
    await trail.aclose()


async def test_unusable_directory_refuses_to_start(tmp_path: Path, signing_key: object) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    trail = AuditTrail(config(), default_dir=blocker)
    with pytest.raises(AuditUnavailable, match="not usable"):
        await trail.start()
    with pytest.raises(AuditUnavailable, match="not running"):
        await trail.append(request_event(1))


async def test_segments_seal_on_count_and_time(tmp_path: Path, signing_key: object) -> None:
    trail = AuditTrail(
        config(segment_max_events=3, segment_max_seconds=0.05), default_dir=tmp_path / "wal"
    )
    await trail.start()
    await append_sequentially(trail, 3)  # closes on count
    await trail.append(request_event(4))  # closes on time
    archive = tmp_path / "wal" / "archive"
    await wait_until(lambda: len(LocalSink(archive).list()) == 2)
    await trail.aclose()


def _sink_names(archive: Path) -> list[str]:
    return LocalSink(archive).list()


def crash_after(directory: Path, count: int) -> None:
    """Run a gateway's trail in a child process, append ``count`` events, then SIGKILL it."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway.audit.crash_writer", str(directory), str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"durable"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


async def test_crash_between_append_and_ship_loses_and_duplicates_nothing(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    directory = tmp_path / "wal"
    archive = directory / "archive"
    crash_after(directory, 10)
    # seq 9..10 were acknowledged but sit in the open write-ahead segment, not in the sink
    assert (directory / "wal" / "000000000003.wal").exists()
    assert all("000000000003" not in name for name in _sink_names(archive))

    failures: list[ShipFailure] = []
    restarted = AuditTrail(
        config(segment_max_events=4), default_dir=directory, on_ship_failure=failures.append
    )
    await restarted.start()
    await append_sequentially(restarted, 5, start=11)
    await restarted.aclose()

    assert failures == []
    trail_id = orjson.loads((directory / "trail.json").read_bytes())["trail"]
    assert restarted.trail_id == trail_id
    names = _sink_names(archive)
    assert names == [object_name(trail_id, n) for n in range(1, 6)]
    result = verify(archive, public_b64(signing_key.public_key()))
    assert result.ok, result.problems
    assert result.trails[0].events == 15
    request_ids = [
        orjson.loads(line)["event"]["request_id"]
        for name in names
        for line in (archive / name).read_bytes().splitlines()
        if b'"request_id"' in line
    ]
    assert sorted(request_ids) == sorted(f"req-{n}" for n in range(1, 16))  # each exactly once


async def test_restart_after_ship_but_before_state_write_is_idempotent(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    directory = tmp_path / "wal"
    first = AuditTrail(config(segment_max_events=3), default_dir=directory)
    await first.start()
    await append_sequentially(first, 6)
    await first.aclose()
    archive = directory / "archive"
    before = {name: (archive / name).read_bytes() for name in _sink_names(archive)}
    (directory / "shipped.json").unlink()  # the crash hit before the state was recorded

    failures: list[ShipFailure] = []
    second = AuditTrail(
        config(segment_max_events=3), default_dir=directory, on_ship_failure=failures.append
    )
    await second.start()
    await wait_until(lambda: (directory / "shipped.json").exists())
    await second.aclose()
    assert failures == []
    assert {name: (archive / name).read_bytes() for name in _sink_names(archive)} == before


async def test_torn_tail_is_dropped_on_recovery(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    directory = tmp_path / "wal"
    crash_after(directory, 3)
    with (directory / "wal" / "000000000001.wal").open("ab") as file:
        file.write(b'{"event":{"request_id":"half')  # a batch cut off mid-write, never acked
    restarted = AuditTrail(config(), default_dir=directory)
    await restarted.start()
    await restarted.append(request_event(4))
    await restarted.aclose()
    result = verify(directory / "archive", public_b64(signing_key.public_key()))
    assert result.ok, result.problems
    assert [t.events for t in result.trails] == [4]


async def test_corrupt_write_ahead_file_stops_start_up(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    directory = tmp_path / "wal"
    crash_after(directory, 3)
    path = directory / "wal" / "000000000001.wal"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[2])  # seq 2 vanished from a complete file
    restarted = AuditTrail(config(), default_dir=directory)
    with pytest.raises(AuditUnavailable, match="line 2"):
        await restarted.start()


async def test_one_process_per_write_ahead_directory(tmp_path: Path, signing_key: object) -> None:
    first = AuditTrail(config(), default_dir=tmp_path / "wal")
    await first.start()
    second = AuditTrail(config(), default_dir=tmp_path / "wal")
    with pytest.raises(AuditUnavailable, match="in use by another gateway process"):
        await second.start()
    await first.aclose()
    await second.start()  # the lock went with the first trail
    await second.aclose()


async def test_concurrent_batches_never_overfill_a_segment(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    trail = AuditTrail(config(segment_max_events=50), default_dir=tmp_path / "wal")
    await trail.start()
    await concurrent_appends(trail, 200)
    await trail.aclose()
    result = verify(tmp_path / "wal" / "archive", public_b64(signing_key.public_key()))
    assert result.ok, result.problems
    assert (result.trails[0].segments, result.trails[0].events) == (4, 200)
