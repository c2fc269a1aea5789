"""Names of things on disk and in the sink, all derived from the trail id and segment number.

Write-ahead directory::

    trail.json            {"trail": "<id>"}: this gateway's trail id, made on first start
    signing-key.pem/.pub  only when no signing key is configured
    shipped.json          {"segment": N}: every segment up to N is in the sink
    wal/000000000007.wal  the open segment (at most one)
    wal/000000000006.jsonl  closed (sealed) segments not yet shipped, and the newest one

Sink: ``<prefix>/<trail id>/<segment:012d>.jsonl``. The name depends only on the segment's
identity, so shipping is idempotent.
"""

from __future__ import annotations

import re
from pathlib import Path

SEALED_SUFFIX = ".jsonl"
OPEN_SUFFIX = ".wal"
_SEGMENT = re.compile(r"^(\d{12})\.(jsonl|wal)$")
_OBJECT = re.compile(r"^(?P<trail>[A-Za-z0-9_-]{1,64})/(?P<segment>\d{12})\.jsonl$")


def segment_file(wal: Path, number: int, *, sealed: bool) -> Path:
    return wal / f"{number:012d}{SEALED_SUFFIX if sealed else OPEN_SUFFIX}"


def parse_segment_file(name: str) -> tuple[int, bool] | None:
    """(segment number, sealed) for a write-ahead file name, else ``None``."""
    match = _SEGMENT.match(name)
    if match is None:
        return None
    return int(match.group(1)), match.group(2) == "jsonl"


def object_name(trail: str, number: int) -> str:
    return f"{trail}/{number:012d}{SEALED_SUFFIX}"


def parse_object_name(name: str) -> tuple[str, int] | None:
    """(trail id, segment number) for a sink object name relative to the prefix."""
    match = _OBJECT.match(name)
    if match is None:
        return None
    return match.group("trail"), int(match.group("segment"))
