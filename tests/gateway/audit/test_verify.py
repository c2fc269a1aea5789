"""Tamper tests: every kind of change to an archived trail is found, and named."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import AuditTrail, verify
from gateway.audit.canonical import canonical
from gateway.audit.cli import main
from gateway.audit.keys import public_key_pem, raw_private
from tests.gateway.audit.conftest import Archive
from tests.gateway.audit.support import (
    SIGNING_ENV,
    append_sequentially,
    config,
    public_b64,
    read_records,
    rehash,
    segment_path,
    write_records,
)


def run_cli(archive: Archive, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["verify", str(archive.root), "--public-key", archive.public_key])
    out, err = capsys.readouterr()
    return code, out, err


def assert_named(
    archive: Archive, capsys: pytest.CaptureFixture[str], segment: int, seq: int, words: str
) -> None:
    """Verification fails, and both the API and the CLI (exit 1) name segment and seq."""
    result = verify(archive.root, archive.public_key)
    assert not result.ok
    problem = result.first_problem
    assert problem is not None
    assert (problem.trail, problem.segment, problem.seq) == (archive.trail, segment, seq), problem
    assert words in problem.message, problem
    code, _, err = run_cli(archive, capsys)
    assert code == 1
    assert f"segment {segment} seq {seq}" in err


def test_untouched_trail_verifies(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    result = verify(archive.root, archive.public_key)
    assert result.ok, result.problems
    (summary,) = result.trails
    assert (summary.trail, summary.segments, summary.events) == (archive.trail, 3, 15)
    assert summary.first_time is not None and summary.first_time.endswith("Z")
    code, out, err = run_cli(archive, capsys)
    assert code == 0, err
    assert f"trail {archive.trail}: 3 segment(s), 15 event(s)" in out
    assert "intact" in out


def test_public_key_accepted_as_pem_file(archive: Archive, signing_key: Ed25519PrivateKey) -> None:
    path = archive.root.parent / "audit.pub"
    path.write_bytes(public_key_pem(signing_key.public_key()))
    assert verify(archive.root, str(path)).ok


def test_edited_event_is_named(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    path = segment_path(archive.root, archive.trail, 2)
    records = read_records(path)
    records[1]["event"]["status"] = 500  # seq 7
    write_records(path, records)
    assert_named(archive, capsys, segment=2, seq=7, words="modified")


def test_edit_with_recomputed_hashes_is_caught_by_the_signed_checkpoint(
    archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    path = segment_path(archive.root, archive.trail, 2)
    records = read_records(path)
    records[1]["event"]["tokens"]["output"] = 0
    prev = records[0]["hash"]
    for index in range(1, 5):  # re-chain seq 7..10 so every event hash is consistent
        records[index] = rehash(records[index], prev)
        prev = records[index]["hash"]
    write_records(path, records)
    assert_named(archive, capsys, segment=2, seq=10, words="checkpoint")


def test_deleted_event_is_named(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    path = segment_path(archive.root, archive.trail, 2)
    records = read_records(path)
    del records[1]  # seq 7
    write_records(path, records)
    assert_named(archive, capsys, segment=2, seq=8, words="deleted")


def test_inserted_event_is_named(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    path = segment_path(archive.root, archive.trail, 2)
    records = read_records(path)
    forged = rehash(
        {**records[1], "event": {**records[1]["event"], "request_id": "forged"}}, records[0]["hash"]
    )
    records.insert(1, forged)  # a well-formed seq 7 before the real one
    write_records(path, records)
    assert_named(archive, capsys, segment=2, seq=7, words="inserted")


def test_reordered_events_are_named(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    path = segment_path(archive.root, archive.trail, 2)
    records = read_records(path)
    records[1], records[2] = records[2], records[1]  # seq 8 now comes before seq 7
    write_records(path, records)
    assert_named(archive, capsys, segment=2, seq=8, words="reordered")


def test_truncated_segment_is_named(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    path = segment_path(archive.root, archive.trail, 2)
    records = read_records(path)
    write_records(path, records[:3])  # seq 6..8 kept; seq 9, 10 and the checkpoint cut
    assert_named(archive, capsys, segment=2, seq=8, words="truncated")


def test_byte_truncated_newest_segment_is_named(
    archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    path = segment_path(archive.root, archive.trail, 3)
    path.chmod(0o644)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = verify(archive.root, archive.public_key)
    problem = result.first_problem
    assert problem is not None and problem.segment == 3
    assert "truncated" in problem.message
    assert run_cli(archive, capsys)[0] == 1


def test_deleted_segment_is_named(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    segment_path(archive.root, archive.trail, 2).unlink()
    assert_named(archive, capsys, segment=2, seq=6, words="missing")


def test_reformatted_line_is_detected(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    path = segment_path(archive.root, archive.trail, 1)
    lines = path.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'{"event":', b'{ "event":')  # same JSON, not canonical
    path.chmod(0o644)
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert_named(archive, capsys, segment=1, seq=3, words="canonical")


def test_events_appended_after_the_checkpoint_are_detected(
    archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    path = segment_path(archive.root, archive.trail, 3)
    records = read_records(path)
    extra = rehash(
        {"event": records[0]["event"], "seq": 16, "prev": records[-2]["hash"]}, records[-2]["hash"]
    )
    write_records(path, [*records, extra])
    assert_named(archive, capsys, segment=3, seq=16, words="after sealing")


def test_wrong_public_key_fails(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    other = public_b64(Ed25519PrivateKey.generate().public_key())
    result = verify(archive.root, other)
    problem = result.first_problem
    assert problem is not None and problem.segment == 1
    assert "signed by key" in problem.message


def test_forged_checkpoint_signature_fails(
    archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    path = segment_path(archive.root, archive.trail, 1)
    records = read_records(path)
    records[-1]["checkpoint"]["reason"] = "count "
    write_records(path, records)
    assert_named(archive, capsys, segment=1, seq=5, words="signature is invalid")


def test_unexpected_object_fails(archive: Archive) -> None:
    (archive.root / archive.trail / "000000000002.jsonl.bak").write_bytes(b"x")
    result = verify(archive.root, archive.public_key)
    assert not result.ok
    assert "unexpected object" in str(result.first_problem)


def test_empty_archive_is_not_reported_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = public_b64(Ed25519PrivateKey.generate().public_key())
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["verify", str(empty), "--public-key", key]) == 1
    assert "no audit segments found" in capsys.readouterr().err


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "ftp://example/x", "--public-key", "AAAA"]) == 2
    assert main(["verify"]) == 2
    assert main([]) == 2


def test_canonical_bytes_are_reproducible() -> None:
    assert canonical({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()


async def test_rotated_key_verifies_with_both_public_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "wal"
    public = []
    for round_ in range(2):
        key = Ed25519PrivateKey.generate()
        monkeypatch.setenv(SIGNING_ENV, base64.b64encode(raw_private(key)).decode())
        public.append(public_b64(key.public_key()))
        trail = AuditTrail(config(segment_max_events=2), default_dir=directory)
        await trail.start()
        await append_sequentially(trail, 2, start=1 + 2 * round_)
        await trail.aclose()
    archive = directory / "archive"
    problem = verify(archive, public[0]).first_problem
    assert problem is not None and problem.segment == 2 and "not a given key" in problem.message
    assert verify(archive, public).ok
    argv = ["verify", str(archive), "--public-key", public[0], "--public-key", public[1]]
    assert main(argv) == 0, capsys.readouterr().err
