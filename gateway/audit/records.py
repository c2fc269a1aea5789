"""The two record kinds of a segment file, encoded and checked in one place.

A segment is a file of lines, each the canonical JSON of one record plus ``\\n``:

* an **event record** ``{"event": {...}, "hash": H, "prev": P, "seq": N}`` where ``H`` is the
  SHA-256 of the canonical bytes of ``{"event", "prev", "seq"}``, ``P`` is the previous event's
  ``H`` (:data:`~gateway.audit.canonical.GENESIS` for the trail's first event) and ``N`` counts
  up from 1 across the whole trail;
* one closing **checkpoint record** ``{"checkpoint": {...}, "sig": S}`` whose fields name the
  trail, the segment number, its seq range, event count and last hash, and the digest of the
  previous segment's checkpoint; ``S`` is the base64 Ed25519 signature of the checkpoint's
  canonical bytes. Chaining checkpoints means a deleted or truncated segment is detected.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.audit.canonical import canonical, digest
from gateway.audit.keys import verify_signature

FORMAT_VERSION = 1
EVENT_KEYS = frozenset({"event", "hash", "prev", "seq"})
CHECKPOINT_KEYS = frozenset({"checkpoint", "sig"})
CHECKPOINT_FIELDS = frozenset(
    {
        "version",
        "trail",
        "segment",
        "first_seq",
        "last_seq",
        "count",
        "last_hash",
        "prev_checkpoint",
        "opened",
        "closed",
        "reason",
        "key_id",
    }
)


class RecordError(ValueError):
    """A line that is not a well-formed record."""


def encode_event(payload: dict[str, Any], seq: int, prev: str) -> tuple[bytes, str]:
    """The line for one event and its hash."""
    body = {"event": payload, "prev": prev, "seq": seq}
    event_hash = digest(body)
    return canonical({**body, "hash": event_hash}) + b"\n", event_hash


def encode_checkpoint(fields: dict[str, Any], key: Ed25519PrivateKey) -> tuple[bytes, str]:
    """The signed checkpoint line and the checkpoint's digest."""
    message = canonical(fields)
    signature = base64.b64encode(key.sign(message)).decode("ascii")
    return canonical({"checkpoint": fields, "sig": signature}) + b"\n", digest(fields)


def decode_line(raw: bytes) -> dict[str, Any]:
    """Parse one line (without its newline); it must be a canonical JSON object."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise RecordError("not a JSON object")
    if canonical(record) != raw:
        raise RecordError("not in canonical form (the line was re-written)")
    return record


def is_checkpoint(record: dict[str, Any]) -> bool:
    return "checkpoint" in record


def event_problem(record: dict[str, Any], expected_seq: int, expected_prev: str) -> str | None:
    """Why ``record`` is not the next valid event of the chain, or ``None``."""
    if set(record) != EVENT_KEYS or not isinstance(record["event"], dict):
        return f"malformed event record (keys {sorted(record)})"
    seq = record["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        return f"seq {seq!r} is not an integer"
    if record["hash"] != digest({k: record[k] for k in ("event", "prev", "seq")}):
        return "hash does not match the event's content: the event was modified"
    if seq > expected_seq:
        return f"expected seq {expected_seq}: events before this one were deleted or reordered"
    if seq < expected_seq:
        return f"expected seq {expected_seq}: this event was inserted or reordered"
    if record["prev"] != expected_prev:
        return "prev does not match the previous event's hash: an event was inserted or changed"
    return None


def checkpoint_problem(
    record: dict[str, Any], expected: dict[str, Any], keys: Mapping[str, Ed25519PublicKey]
) -> str | None:
    """Why a checkpoint record does not close the segment as ``expected``, or ``None``.

    ``expected`` holds the values the verifier recomputed (trail, segment, seq range, count,
    last hash, previous checkpoint digest); ``keys`` maps key id to trusted public key.
    """
    fields = record.get("checkpoint")
    if set(record) != CHECKPOINT_KEYS or not isinstance(fields, dict):
        return f"malformed checkpoint record (keys {sorted(record)})"
    if set(fields) != CHECKPOINT_FIELDS:
        return f"malformed checkpoint (fields {sorted(fields)})"
    key = keys.get(fields["key_id"])
    if key is None:
        trusted = ", ".join(sorted(keys))
        return f"checkpoint signed by key {fields['key_id']!r}, not a given key ({trusted})"
    try:
        signature = base64.b64decode(str(record["sig"]), validate=True)
    except (binascii.Error, ValueError):
        return "checkpoint signature is not base64"
    if not verify_signature(key, signature, canonical(fields)):
        return "checkpoint signature is invalid: the checkpoint was forged or modified"
    for name, value in expected.items():
        if fields[name] != value:
            return f"checkpoint {name} is {fields[name]!r}, the segment gives {value!r}"
    return None
