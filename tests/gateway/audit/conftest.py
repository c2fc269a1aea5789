"""Fixtures for the audit tests (Azurite lives in azurite.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import AuditTrail
from gateway.audit.keys import raw_private
from tests.gateway.audit.azurite import azurite  # noqa: F401  (session fixture)
from tests.gateway.audit.support import SIGNING_ENV, append_sequentially, config, public_b64


@pytest.fixture
def signing_key(monkeypatch: pytest.MonkeyPatch) -> Ed25519PrivateKey:
    """A fresh checkpoint key, exported as base64 raw bytes in SIGNING_ENV."""
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv(SIGNING_ENV, base64.b64encode(raw_private(key)).decode())
    return key


@dataclass(frozen=True)
class Archive:
    root: Path
    trail: str
    public_key: str


@pytest.fixture
async def archive(tmp_path: Path, signing_key: Ed25519PrivateKey) -> AsyncIterator[Archive]:
    """A shipped local archive: one trail, 3 segments of 5 events (seq 1..15)."""
    trail = AuditTrail(config(segment_max_events=5), default_dir=tmp_path / "wal")
    await trail.start()
    await append_sequentially(trail, 15)
    await trail.aclose()
    assert trail.trail_id is not None
    yield Archive(
        tmp_path / "wal" / "archive", trail.trail_id, public_b64(signing_key.public_key())
    )
