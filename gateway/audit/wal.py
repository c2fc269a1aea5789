"""The local write-ahead file: segments of chained events, fsynced, sealed by a checkpoint.

:class:`WriteAheadLog` is synchronous and single-threaded: the async front end
(:mod:`gateway.audit.log`) calls it from one worker thread. ``append_batch`` writes a whole
batch with one ``write`` and one ``fdatasync`` (group commit); only after that returns is any
event of the batch acknowledged.

If a write or fsync fails, the file is truncated back to the last acknowledged byte and the
batch raises :class:`~gateway.audit.errors.AuditUnavailable` (the chain state does not
advance, so a later batch continues the chain cleanly). If even that rollback fails, the log
refuses every further append until the gateway restarts and recovers.

On start, recovery drops a torn last line (a batch whose fsync never returned, so nobody was
told it was durable), finishes a seal interrupted between checkpoint and rename, and seals a
left-over open segment with reason ``recovered`` so it can be shipped. Anything else that does
not chain is corruption and stops the start-up with the file and line named.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.canonical import GENESIS, digest
from gateway.audit.errors import AuditUnavailable
from gateway.audit.events import rfc3339_ms, utc_now
from gateway.audit.keys import key_id
from gateway.audit.layout import parse_segment_file, segment_file
from gateway.audit.records import (
    FORMAT_VERSION,
    RecordError,
    decode_line,
    encode_checkpoint,
    encode_event,
    event_problem,
    is_checkpoint,
)

log = logging.getLogger(__name__)

WAL_SUBDIR = "wal"


@dataclass(frozen=True, slots=True)
class FileOps:
    """The system calls the log makes; tests inject failures or count flushes here.

    ``fsync`` makes a segment's appended bytes durable. It defaults to ``fdatasync``: that
    flushes the data and the metadata needed to read it back (the grown file size) but not
    the timestamps, which saves a journal commit per batch on ext4 and XFS (fdatasync(2):
    https://man7.org/linux/man-pages/man2/fdatasync.2.html). ``fsync_dir`` makes a created
    or renamed segment's directory entry durable.
    """

    open: Callable[[str, int, int], int] = os.open
    write: Callable[[int, bytes], int] = os.write
    fsync: Callable[[int], None] = os.fdatasync
    fsync_dir: Callable[[int], None] = os.fsync


@dataclass(frozen=True, slots=True)
class SegmentLimits:
    max_events: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    max_seconds: float = 60.0


DEFAULT_OPS = FileOps()
DEFAULT_LIMITS = SegmentLimits()


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of durability handed back by ``append``: the event's seq, hash and segment."""

    seq: int
    hash: str
    segment: int


@dataclass(slots=True)
class _Head:
    seq: int = 0
    hash: str = GENESIS
    checkpoint: str = GENESIS
    segment: int = 0


@dataclass(slots=True)
class _Open:
    number: int
    path: Path
    fd: int
    opened: datetime
    opened_at: float
    first_seq: int
    size: int = 0
    count: int = 0


def _read_lines(path: Path) -> tuple[list[bytes], int]:
    """Complete lines of ``path`` and the byte length they cover (a torn tail is left out)."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(), end


class WriteAheadLog:
    """The segments of one trail in one directory (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        trail: str,
        key: Ed25519PrivateKey,
        limits: SegmentLimits = DEFAULT_LIMITS,
        ops: FileOps = DEFAULT_OPS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory / WAL_SUBDIR
        self.trail = trail
        self._key = key
        self._key_id = key_id(key.public_key())
        self._limits = limits
        self._ops = ops
        self._clock = clock
        self._head = _Head()
        self._open: _Open | None = None
        self._broken: str | None = None

    # --- start-up -------------------------------------------------------------------------

    def recover(self) -> int | None:
        """Load the chain head from disk; returns the segment sealed during recovery, if any."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            names = sorted(os.listdir(self.directory))
        except OSError as exc:
            raise AuditUnavailable(
                f"audit write-ahead directory {self.directory} is not usable: {exc}"
            ) from exc
        sealed: list[int] = []
        opened: list[int] = []
        for name in names:
            parsed = parse_segment_file(name)
            if parsed is not None:
                (sealed if parsed[1] else opened).append(parsed[0])
        if sealed:
            self._load_head(max(sealed))
        if len(opened) > 1 or (opened and opened[0] <= self._head.segment):
            raise AuditUnavailable(
                f"audit write-ahead directory {self.directory} holds unexpected open segments "
                f"{opened} after sealed segment {self._head.segment}"
            )
        return self._recover_open(opened[0]) if opened else None

    def _corrupt(self, path: Path, line: int, why: str) -> AuditUnavailable:
        return AuditUnavailable(f"audit write-ahead file {path} line {line}: {why}")

    def _load_head(self, number: int) -> None:
        path = segment_file(self.directory, number, sealed=True)
        lines, _ = _read_lines(path)
        try:
            record = decode_line(lines[-1]) if lines else {}
        except RecordError as exc:
            raise self._corrupt(path, len(lines), str(exc)) from None
        fields = record.get("checkpoint")
        if not isinstance(fields, dict) or fields.get("segment") != number:
            raise self._corrupt(path, len(lines), "a sealed segment must end with its checkpoint")
        self._head = _Head(fields["last_seq"], fields["last_hash"], digest(fields), number)

    def _recover_open(self, number: int) -> int | None:
        path = segment_file(self.directory, number, sealed=False)
        lines, end = _read_lines(path)
        if end != path.stat().st_size:
            log.warning("audit: dropping a torn, never acknowledged record at the end of %s", path)
            os.truncate(path, end)
        seq, prev = self._head.seq, self._head.hash
        for index, raw in enumerate(lines, start=1):
            try:
                record = decode_line(raw)
            except RecordError as exc:
                raise self._corrupt(path, index, str(exc)) from None
            if is_checkpoint(record) and index == len(lines):
                fields = record["checkpoint"]
                if fields.get("segment") != number or fields.get("last_hash") != prev:
                    raise self._corrupt(path, index, "checkpoint does not close this segment")
                self._finish_seal(path, number, digest(fields), seq, prev)
                return number
            problem = event_problem(record, seq + 1, prev)
            if problem is not None:
                raise self._corrupt(path, index, problem)
            seq, prev = record["seq"], record["hash"]
        if seq == self._head.seq:
            path.unlink()
            return None
        fd = self._open_fd(path)
        self._open = _Open(
            number,
            path,
            fd,
            utc_now(),
            self._clock(),
            self._head.seq + 1,
            end,
            seq - self._head.seq,
        )
        self._head = _Head(seq, prev, self._head.checkpoint, self._head.segment)
        return self.seal("recovered")

    # --- appending ------------------------------------------------------------------------

    def _open_fd(self, path: Path) -> int:
        return self._ops.open(
            str(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
        )

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self._ops.fsync_dir(fd)
        finally:
            os.close(fd)

    def _write_all(self, fd: int, data: bytes) -> None:
        written = 0
        while written < len(data):
            written += self._ops.write(fd, data[written:])

    def _ensure_open(self) -> _Open:
        if self._open is not None:
            return self._open
        number = self._head.segment + 1
        path = segment_file(self.directory, number, sealed=False)
        try:
            fd = self._open_fd(path)
        except OSError as exc:
            raise AuditUnavailable(
                f"audit write-ahead file {path} cannot be created: {exc}"
            ) from exc
        try:
            self._fsync_dir()
        except OSError as exc:
            os.close(fd)
            raise AuditUnavailable(f"audit write-ahead directory cannot be synced: {exc}") from exc
        self._open = _Open(number, path, fd, utc_now(), self._clock(), self._head.seq + 1)
        return self._open

    def _durable_write(self, segment: _Open, data: bytes) -> None:
        """Write and fsync ``data``; on failure roll the file back and raise AuditUnavailable."""
        try:
            self._write_all(segment.fd, data)
            self._ops.fsync(segment.fd)
        except OSError as exc:
            try:
                os.ftruncate(segment.fd, segment.size)
                self._ops.fsync(segment.fd)
            except OSError as again:
                self._broken = f"rollback of {segment.path} failed after {exc}: {again}"
            raise AuditUnavailable(
                f"audit write-ahead file {segment.path} cannot be written: {exc}"
            ) from exc
        segment.size += len(data)

    @property
    def problem(self) -> str | None:
        """Why the log refuses appends until a restart, or ``None`` when healthy."""
        return self._broken

    def append_batch(self, payloads: list[dict[str, Any]]) -> list[Receipt]:
        """Chain, write and fsync ``payloads`` as one batch; returns one receipt each."""
        if self._broken is not None:
            raise AuditUnavailable(
                f"audit write-ahead log is unusable until restart: {self._broken}"
            )
        segment = self._ensure_open()
        seq, prev = self._head.seq, self._head.hash
        lines: list[bytes] = []
        receipts: list[Receipt] = []
        for payload in payloads:
            seq += 1
            line, prev = encode_event(payload, seq, prev)
            lines.append(line)
            receipts.append(Receipt(seq, prev, segment.number))
        self._durable_write(segment, b"".join(lines))
        segment.count += len(payloads)
        self._head.seq, self._head.hash = seq, prev
        return receipts

    # --- sealing --------------------------------------------------------------------------

    def seconds_until_due(self) -> float | None:
        """Seconds until the open segment's time limit; ``None`` with no open segment."""
        if self._open is None:
            return None
        return max(0.0, self._limits.max_seconds - (self._clock() - self._open.opened_at))

    def room(self) -> int:
        """Events the open (or next) segment takes before it reaches ``max_events``."""
        used = self._open.count if self._open is not None else 0
        return max(1, self._limits.max_events - used)

    def due(self) -> str | None:
        """The reason the open segment must close now, if any."""
        segment = self._open
        if segment is None or segment.count == 0:
            return None
        if segment.count >= self._limits.max_events:
            return "count"
        if segment.size >= self._limits.max_bytes:
            return "size"
        if self._clock() - segment.opened_at >= self._limits.max_seconds:
            return "time"
        return None

    def seal(self, reason: str) -> int | None:
        """Close the open segment with a signed checkpoint; returns its number."""
        segment = self._open
        if segment is None:
            return None
        if segment.count == 0:
            os.close(segment.fd)
            segment.path.unlink()
            self._open = None
            return None
        fields = {
            "version": FORMAT_VERSION,
            "trail": self.trail,
            "segment": segment.number,
            "first_seq": segment.first_seq,
            "last_seq": self._head.seq,
            "count": segment.count,
            "last_hash": self._head.hash,
            "prev_checkpoint": self._head.checkpoint,
            "opened": rfc3339_ms(segment.opened),
            "closed": rfc3339_ms(utc_now()),
            "reason": reason,
            "key_id": self._key_id,
        }
        line, checkpoint = encode_checkpoint(fields, self._key)
        self._durable_write(segment, line)
        os.close(segment.fd)
        self._open = None
        try:
            self._finish_seal(
                segment.path, segment.number, checkpoint, self._head.seq, self._head.hash
            )
        except OSError as exc:
            self._broken = f"sealing {segment.path} failed: {exc}"
            raise AuditUnavailable(f"audit segment {segment.path} cannot be sealed: {exc}") from exc
        return segment.number

    def _finish_seal(self, path: Path, number: int, checkpoint: str, seq: int, last: str) -> None:
        os.rename(path, segment_file(self.directory, number, sealed=True))
        self._fsync_dir()
        self._head = _Head(seq, last, checkpoint, number)
        log.info("audit: sealed segment %d of trail %s (last seq %d)", number, self.trail, seq)

    def close(self) -> int | None:
        """Seal the open segment (reason ``shutdown``)."""
        return self.seal("shutdown")


def sealed_segments(wal: Path) -> list[int]:
    """Numbers of the sealed segments present in the write-ahead directory, ascending."""
    found = (parse_segment_file(name) for name in os.listdir(wal))
    return sorted(p[0] for p in found if p is not None and p[1])
