"""The audit trail a gateway runs: the group-committing write-ahead log plus the shipper.

trail = AuditTrail(config.audit, default_dir=default_audit_dir(config.store))
await trail.start()                    # recovers, then ships anything left over
receipt = await trail.append(event)    # durable on return, else AuditUnavailable (503)
receipt = await trail.append_payload(request_payload(fields))   # the request path's form
await trail.aclose()                   # seals the open segment and ships it
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.audit.config import AuditConfig
from gateway.audit.errors import AuditConfigError, AuditUnavailable
from gateway.audit.events import AdminEvent, RequestEvent, event_payload
from gateway.audit.keys import load_signing_key
from gateway.audit.log import AuditLog
from gateway.audit.shipper import DEFAULT_BACKOFF, Backoff, ShipFailure, Shipper
from gateway.audit.sinks import Sink, open_sink
from gateway.audit.wal import DEFAULT_OPS, FileOps, Receipt, SegmentLimits, WriteAheadLog

TRAIL_FILE = "trail.json"
LOCK_FILE = "lock"


@dataclass(frozen=True, slots=True)
class _Setup:
    directory: Path
    trail: str
    key: Ed25519PrivateKey
    sink: Sink


def _trail_id(directory: Path) -> str:
    path = directory / TRAIL_FILE
    try:
        return str(orjson.loads(path.read_bytes())["trail"])
    except FileNotFoundError:
        pass
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise AuditUnavailable(f'{path} is damaged ({exc}); expected {{"trail": "<id>"}}') from exc
    trail = uuid.uuid4().hex
    with path.open("xb") as file:
        file.write(orjson.dumps({"trail": trail}))
        file.flush()
        os.fsync(file.fileno())
    return trail


class AuditTrail:
    """One gateway replica's tamper-evident audit trail (see the module docstring)."""

    def __init__(
        self,
        config: AuditConfig,
        *,
        default_dir: Path,
        sink: Sink | None = None,
        on_ship_failure: Callable[[ShipFailure], None] | None = None,
        ops: FileOps = DEFAULT_OPS,
        max_batch: int = 4096,
        backoff: Backoff = DEFAULT_BACKOFF,
        poll_seconds: float = 30.0,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.config = config
        self._environ = environ
        self.directory = config.resolved_dir(default_dir)
        self._sink = sink
        self._on_ship_failure = on_ship_failure
        self._ops = ops
        self._max_batch = max_batch
        self._backoff = backoff
        self._poll = poll_seconds
        self._log: AuditLog | None = None
        self._shipper: Shipper | None = None
        self._public_key: Ed25519PublicKey | None = None
        self._lock_fd: int | None = None
        self.trail_id: str | None = None

    def _lock(self) -> None:
        """Hold an exclusive lock on the directory: one process per write-ahead directory."""
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AuditUnavailable(
                f"audit directory {self.directory} is in use by another gateway process; "
                "expected one write-ahead directory per replica (set audit.dir per replica)"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _setup(self) -> _Setup:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock()
            trail = _trail_id(self.directory)
        except OSError as exc:
            self._unlock()
            raise AuditUnavailable(
                f"audit directory {self.directory} is not usable: {exc}"
            ) from exc
        try:
            return _Setup(self.directory, trail, self._signing_key(), self._open_sink())
        except BaseException:
            self._unlock()
            raise

    def _signing_key(self) -> Ed25519PrivateKey:
        return load_signing_key(self.config.signing_key_env, self.directory, self._environ)

    def _open_sink(self) -> Sink:
        sink = self._sink
        if sink is None:
            location = self.config.resolved_sink(self.directory)
            if location.path is not None and location.path.absolute() == self.directory.absolute():
                raise AuditConfigError(
                    f"audit.sink {location.path} is the write-ahead directory itself; expected "
                    "a different directory (or leave audit.sink unset for <dir>/archive)"
                )
            sink = open_sink(
                location,
                s3_endpoint_url=self.config.s3_endpoint_url,
                azure_account_key_env=self.config.azure_account_key_env,
                azure_immutability=self.config.azure_immutability,
                environ=self._environ,
            )
        return sink

    async def start(self) -> None:
        setup = await asyncio.to_thread(self._setup)
        self.trail_id = setup.trail
        self._public_key = setup.key.public_key()
        self._shipper = Shipper(
            setup.directory,
            setup.trail,
            setup.sink,
            retention_days=self.config.retention_days,
            on_failure=self._on_ship_failure,
            backoff=self._backoff,
            poll_seconds=self._poll,
        )
        limits = SegmentLimits(
            self.config.segment_max_events,
            self.config.segment_max_bytes,
            self.config.segment_max_seconds,
        )
        wal = WriteAheadLog(setup.directory, setup.trail, setup.key, limits, self._ops)
        log = AuditLog(wal, max_batch=self._max_batch, on_sealed=self._sealed)
        try:
            await log.start()
        except BaseException:
            self._unlock()
            raise
        self._log = log
        self._shipper.start()

    def _sealed(self, number: int) -> None:
        if self._shipper is not None:
            self._shipper.wake()

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half of the checkpoint signing key (for ``verify``)."""
        if self._public_key is None:
            raise RuntimeError("the audit trail is not started")
        return self._public_key

    @property
    def shipper(self) -> Shipper:
        if self._shipper is None:
            raise RuntimeError("the audit trail is not started")
        return self._shipper

    def stores_content(self, team: str | None) -> bool:
        """Whether prompts and completions of ``team`` are stored (opt-in per team)."""
        return self.config.stores_content(team)

    @property
    def problem(self) -> str | None:
        """Why events cannot be appended (wire it to the readiness probe), or ``None``."""
        if self._log is None:
            return "the audit trail is not running"
        return self._log.problem

    async def append(self, event: RequestEvent | AdminEvent) -> Receipt:
        """Durably append ``event``; raises :class:`AuditUnavailable` when it cannot."""
        return await self.append_payload(event_payload(event))

    async def append_payload(self, payload: dict[str, Any]) -> Receipt:
        """Durably append an event already turned into its stored JSON object, by
        :func:`~gateway.audit.events.event_payload` or
        :func:`~gateway.audit.events.request_payload` (and by nothing else: this is where
        the events' rules were checked); raises :class:`AuditUnavailable` when it cannot."""
        if self._log is None:
            raise AuditUnavailable("the audit trail is not running")
        return await self._log.append(payload)

    async def aclose(self) -> None:
        """Seal the open segment, ship what is sealed, stop."""
        if self._log is not None:
            await self._log.aclose()
            self._log = None
        if self._shipper is not None:
            await self._shipper.aclose()
        self._unlock()
