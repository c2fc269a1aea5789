"""One request's redaction: its mode, its placeholders, its findings, failing closed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Literal

from gateway.redaction.base import Detector, Finding
from gateway.redaction.config import Mode
from gateway.redaction.errors import PIIDetected, RedactionUnavailable
from gateway.redaction.masking import mask
from gateway.redaction.vault import Vault

Side = Literal["request", "response"]


class RequestRedaction:
    """Created per request by :class:`~gateway.redaction.engine.Redactor`; holds no values
    outside its :class:`Vault`.

    ``findings`` counts entity types over the whole request (prompt and, when responses are
    scanned, answer); it is what the audit event and the metrics record. In ``block`` mode
    :meth:`scan` only counts, and :meth:`enforce` raises once every text has been seen, so
    the error lists all entity types at once.
    """

    def __init__(
        self,
        detector: Detector,
        mode: Mode,
        *,
        reversible: bool = False,
        fail_open: bool = False,
        on_fail_open: Callable[[], None] = lambda: None,
    ) -> None:
        self.mode = mode
        self.reversible = reversible and mode == "redact"
        self.findings: Counter[str] = Counter()
        self.failed_open = False
        self._detector = detector
        self._fail_open = fail_open
        self._on_fail_open = on_fail_open
        self._vault = Vault()
        self._pending: Counter[str] = Counter()

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def detect(self, text: str) -> list[Finding]:
        """The detector's findings, or none after a failure in fail-open mode.

        Any exception from the detector refuses the request (503 redaction_unavailable)
        unless fail-open was configured; then it is counted once and the rest of the
        request passes unscanned. The exception's message is not repeated: it may quote
        the text.
        """
        if not self.active or self.failed_open or not text:
            return []
        try:
            return self._detector.detect(text)
        except Exception as exc:
            if not self._fail_open:
                raise RedactionUnavailable(f"the detector raised {type(exc).__name__}") from None
            self.failed_open = True
            self._on_fail_open()
            return []

    def apply(self, text: str, found: list[Finding], side: Side) -> str:
        """``text`` with ``found`` replaced according to the mode (block: counted, kept)."""
        if not found:
            return text
        self.findings.update(f.entity for f in found)
        if self.mode == "block":
            self._pending.update(f.entity for f in found)
            return text
        parts: list[str] = []
        last = 0
        for f in found:
            value = text[f.start : f.end]
            parts.append(text[last : f.start])
            if self.mode == "mask":
                parts.append(mask(f.entity, value))
            else:
                restorable = self.reversible and side == "request"
                parts.append(self._vault.placeholder(f.entity, value, restorable=restorable))
            last = f.end
        parts.append(text[last:])
        return "".join(parts)

    def scan(self, text: str, side: Side = "request") -> str:
        return self.apply(text, self.detect(text), side)

    def enforce(self, side: Side = "request") -> None:
        """In ``block`` mode, refuse if anything was found (400 pii_detected)."""
        if self._pending:
            counts, self._pending = self._pending, Counter()
            raise PIIDetected(counts, where=side)

    def restore(self, text: str) -> str:
        """Reversible mode: the caller's own values back in place of their placeholders."""
        return self._vault.restore(text) if self.reversible else text

    def __repr__(self) -> str:
        return f"RequestRedaction(mode={self.mode!r}, findings={dict(self.findings)})"
