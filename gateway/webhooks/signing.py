"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>``.

Every delivery carries::

    x-gatehouse-event: budget.threshold
    x-gatehouse-delivery: <event id, the same on every retry: deduplicate on it>
    x-gatehouse-timestamp: <unix seconds when this attempt was signed>
    x-gatehouse-signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

A receiver recomputes the HMAC over the raw body bytes, compares in constant time, and
rejects timestamps too far from its clock (replays): :func:`verify` does all three.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

EVENT_HEADER = "x-gatehouse-event"
DELIVERY_HEADER = "x-gatehouse-delivery"
TIMESTAMP_HEADER = "x-gatehouse-timestamp"
SIGNATURE_HEADER = "x-gatehouse-signature"
SCHEME = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300.0


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``x-gatehouse-signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def signed_headers(secret: bytes, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when ``headers`` (lower-case names) carry a valid, fresh signature of ``body``."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit() or not signature.startswith(SCHEME):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
