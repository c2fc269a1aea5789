"""Verify an archived trail: every event, every segment, every checkpoint signature.

:func:`verify` reads a sink (a directory, ``s3://bucket/prefix`` or an Azure container URL)
one segment at a time and, per trail, checks that:

* every line is a canonical record, every event's hash matches its content, seqs count up
  from 1 without gaps and each ``prev`` is the previous event's hash (so any modified,
  deleted, inserted or reordered event is found);
* segments are numbered from 1 without gaps, and each ends with a checkpoint signed by a
  given public key (several may be given, for key rotation) whose seq range, count, last
  hash and previous-checkpoint digest match (so a deleted or truncated segment is found).

The first problem per trail is reported with its segment, seq and line. A trail's newest
segment can only be deleted without trace where the archive allows deletion: that is what
S3 Object Lock and Azure immutability prevent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.canonical import GENESIS, digest
from gateway.audit.keys import key_id, load_public_key
from gateway.audit.layout import object_name, parse_object_name
from gateway.audit.location import parse_location
from gateway.audit.records import (
    FORMAT_VERSION,
    RecordError,
    checkpoint_problem,
    decode_line,
    event_problem,
    is_checkpoint,
)
from gateway.audit.sinks import Sink, open_sink


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong in a trail."""

    trail: str
    object: str
    message: str
    segment: int | None = None
    seq: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = [f"trail {self.trail}"] if self.trail else []
        if self.segment is not None:
            where.append(f"segment {self.segment}")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        at = f"{self.object}, line {self.line}" if self.line is not None else self.object
        return f"{' '.join(where)} ({at}): {self.message}"


@dataclass(frozen=True, slots=True)
class TrailSummary:
    trail: str
    segments: int
    events: int
    first_time: str | None
    last_time: str | None
    last_checkpoint: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    source: str
    trails: tuple[TrailSummary, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.trails)

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


class _Bad(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(slots=True)
class _Chain:
    """What the verifier has established so far about one trail."""

    trail: str
    keys: Mapping[str, Ed25519PublicKey]
    seq: int = 0
    hash: str = GENESIS
    checkpoint: str = GENESIS
    segments: int = 0
    first_time: str | None = None
    last_time: str | None = None

    def bad(self, name: str, segment: int, message: str, seq: int | None, line: int | None) -> _Bad:
        return _Bad(Problem(self.trail, name, message, segment, seq, line))

    def segment(self, number: int, name: str, data: bytes) -> None:
        lines = data.split(b"\n")
        if lines[-1]:
            raise self.bad(
                name,
                number,
                "the last record is cut off: the segment was truncated",
                self.seq + 1,
                len(lines),
            )
        lines.pop()
        first = self.seq + 1
        for index, raw in enumerate(lines, start=1):
            try:
                record = decode_line(raw)
            except RecordError as exc:
                raise self.bad(name, number, str(exc), self.seq + 1, index) from None
            if is_checkpoint(record):
                self._checkpoint(record, number, name, first, index, last=index == len(lines))
                return
            problem = event_problem(record, self.seq + 1, self.hash)
            if problem is not None:
                raise self.bad(name, number, problem, _seq(record), index)
            self.seq, self.hash = record["seq"], record["hash"]
            self._time(record["event"])
        raise self.bad(
            name,
            number,
            f"the segment ends after seq {self.seq} without its checkpoint: it was truncated",
            self.seq,
            len(lines),
        )

    def _time(self, event: dict[str, Any]) -> None:
        time = event.get("time")
        if isinstance(time, str):
            self.first_time = self.first_time or time
            self.last_time = time

    def _checkpoint(
        self, record: dict[str, Any], number: int, name: str, first: int, line: int, *, last: bool
    ) -> None:
        if not last:
            raise self.bad(
                name,
                number,
                "records follow the checkpoint: events were appended after sealing",
                self.seq + 1,
                line + 1,
            )
        if self.seq < first:
            raise self.bad(name, number, "the segment holds no events", first, line)
        expected = {
            "version": FORMAT_VERSION,
            "trail": self.trail,
            "segment": number,
            "first_seq": first,
            "last_seq": self.seq,
            "count": self.seq - first + 1,
            "last_hash": self.hash,
            "prev_checkpoint": self.checkpoint,
        }
        problem = checkpoint_problem(record, expected, self.keys)
        if problem is not None:
            raise self.bad(name, number, problem, self.seq, line)
        self.checkpoint = digest(record["checkpoint"])
        self.segments += 1


def _seq(record: dict[str, Any]) -> int | None:
    seq = record.get("seq")
    return seq if isinstance(seq, int) else None


def _verify_trail(
    sink: Sink, trail: str, numbers: list[int], keys: Mapping[str, Ed25519PublicKey]
) -> TrailSummary:
    chain = _Chain(trail, keys)
    for expected, number in enumerate(numbers, start=1):
        name = object_name(trail, expected)
        if number != expected:
            raise chain.bad(
                name,
                expected,
                f"segment {expected} is missing (the next one present is {number}): it was deleted",
                chain.seq + 1,
                None,
            )
        data = sink.get(name)
        if data is None:
            raise chain.bad(name, expected, "the segment vanished while verifying", None, None)
        chain.segment(number, name, data)
    return TrailSummary(
        trail, chain.segments, chain.seq, chain.first_time, chain.last_time, chain.checkpoint
    )


def verify_sink(sink: Sink, public_keys: Sequence[Ed25519PublicKey]) -> VerifyResult:
    """Verify every trail in ``sink`` against the given checkpoint public keys."""
    keys = {key_id(key): key for key in public_keys}
    trails: dict[str, list[int]] = {}
    problems: list[Problem] = []
    for name in sink.list():
        parsed = parse_object_name(name)
        if parsed is None:
            problems.append(Problem("", name, "unexpected object in the audit archive"))
        else:
            trails.setdefault(parsed[0], []).append(parsed[1])
    summaries: list[TrailSummary] = []
    for trail in sorted(trails):
        try:
            summaries.append(_verify_trail(sink, trail, sorted(trails[trail]), keys))
        except _Bad as bad:
            problems.append(bad.problem)
    if not trails and not problems:
        problems.append(Problem("", sink.url, "no audit segments found"))
    return VerifyResult(sink.url, tuple(summaries), tuple(problems))


def verify(
    source: str | Path | Sink,
    public_key: Ed25519PublicKey | str | Sequence[Ed25519PublicKey | str],
    *,
    s3_endpoint_url: str | None = None,
    azure_account_key_env: str | None = None,
) -> VerifyResult:
    """Verify the archive at ``source`` (a path, file://, s3:// or Azure URL, or a sink).

    ``public_key`` is the checkpoint signing key's public half: a key object, PEM or base64
    text, or the path of a file holding one; or a list of them when the key was rotated.
    """
    given = [public_key] if isinstance(public_key, str | Ed25519PublicKey) else public_key
    keys = [load_public_key(k) if isinstance(k, str) else k for k in given]
    if isinstance(source, Path):
        source = str(source)
    if isinstance(source, str):
        location = parse_location(source, allow_bare_path=True)
        source = open_sink(
            location,
            s3_endpoint_url=s3_endpoint_url,
            azure_account_key_env=azure_account_key_env,
            azure_immutability="unprotected",
        )
    return verify_sink(source, keys)
