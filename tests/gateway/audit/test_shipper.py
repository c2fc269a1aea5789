"""The shipper: retries with back-off, reports failures, never overwrites, prunes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson

from gateway.audit import AuditTrail, Backoff, ShipFailure
from gateway.audit.layout import object_name
from gateway.audit.sinks import LocalSink
from tests.gateway.audit.support import append_sequentially, config, wait_until

FAST = Backoff(initial=0.01, maximum=0.05)


class FlakySink(LocalSink):
    """A directory sink whose first ``failures`` writes fail like a network outage."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put_new(self, name: str, data: bytes, retain_until: datetime) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("sink unreachable")
        return super().put_new(name, data, retain_until)


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 10, 10]


async def test_failures_are_reported_and_retried(tmp_path: Path, signing_key: object) -> None:
    sink = FlakySink(tmp_path / "archive", failures=2)
    failures: list[ShipFailure] = []
    trail = AuditTrail(
        config(segment_max_events=2),
        default_dir=tmp_path / "wal",
        sink=sink,
        on_ship_failure=failures.append,
        backoff=FAST,
    )
    await trail.start()
    await append_sequentially(trail, 2)
    assert trail.trail_id is not None
    name = object_name(trail.trail_id, 1)
    await wait_until(lambda: sink.get(name) is not None)
    await trail.aclose()
    assert [(f.segment, f.attempt, f.conflict) for f in failures] == [(1, 1, False), (1, 2, False)]
    assert "ConnectionError: sink unreachable" in failures[0].error
    assert failures[0].object_name == name


async def test_conflicting_object_is_an_alarm_and_is_not_overwritten(
    tmp_path: Path, signing_key: object
) -> None:
    directory = tmp_path / "wal"
    directory.mkdir()
    (directory / "trail.json").write_bytes(orjson.dumps({"trail": "fixedtrail"}))
    archive = tmp_path / "archive"
    foreign = archive / object_name("fixedtrail", 1)
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"someone else's segment\n")
    failures: list[ShipFailure] = []
    trail = AuditTrail(
        config(segment_max_events=2),
        default_dir=directory,
        sink=LocalSink(archive),
        on_ship_failure=failures.append,
        backoff=FAST,
    )
    await trail.start()
    await append_sequentially(trail, 2)
    await wait_until(lambda: len(failures) >= 2)
    await trail.aclose()
    assert all(f.conflict and f.segment == 1 for f in failures)
    assert "different content" in failures[0].error
    assert foreign.read_bytes() == b"someone else's segment\n"
    assert not (directory / "shipped.json").exists()
    assert (directory / "wal" / "000000000001.jsonl").exists()  # kept until shipped


async def test_shipped_segments_are_pruned_except_the_newest(
    tmp_path: Path, signing_key: object
) -> None:
    directory = tmp_path / "wal"
    trail = AuditTrail(config(segment_max_events=2), default_dir=directory)
    await trail.start()
    await append_sequentially(trail, 6)
    await trail.aclose()
    assert sorted(p.name for p in (directory / "wal").iterdir()) == ["000000000003.jsonl"]
    assert orjson.loads((directory / "shipped.json").read_bytes()) == {"segment": 3}
    assert len(LocalSink(directory / "archive").list()) == 3


async def test_sink_equal_to_the_write_ahead_directory_is_refused(
    tmp_path: Path, signing_key: object
) -> None:
    import pytest

    from gateway.audit import AuditConfigError

    directory = tmp_path / "wal"
    trail = AuditTrail(config(sink=directory.absolute().as_uri()), default_dir=directory)
    with pytest.raises(AuditConfigError, match="write-ahead directory itself"):
        await trail.start()
