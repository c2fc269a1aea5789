"""Canonical bytes and hashes: the one serialisation every chain hash is computed over.

Canonical JSON is orjson with sorted keys and no insignificant whitespace, UTF-8. Each record
of a segment file is exactly its canonical bytes followed by ``\\n``, so a verifier can
recompute every hash from the file alone and any re-formatting is itself detectable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

GENESIS = "0" * 64
"""The ``prev`` of a trail's first event and the ``prev_checkpoint`` of its first segment."""


def canonical(value: Mapping[str, Any]) -> bytes:
    """Compact JSON with sorted keys (orjson ``OPT_SORT_KEYS``)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Mapping[str, Any]) -> str:
    """SHA-256 (lowercase hex) of ``value``'s canonical bytes."""
    return sha256_hex(canonical(value))
