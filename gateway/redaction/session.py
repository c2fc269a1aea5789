"""One request's redaction: its mode, its placeholders, its findings, failing closed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
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
        reversible: bool = False,
        fail_open: bool = False,
        on_fail_open: Callable[[], None] = lambda: None,
    ) -> None:
        self.mode = mode
        self.reversible = reversible and mode == "redact"
        # an empty Counter, without Counter.__init__ (which only calls update): once per request
        self.findings: Counter[str] = Counter.__new__(Counter)
        self.failed_open = False
        self._detector = detector
        self._fail_open = fail_open
        self._on_fail_open = on_fail_open
        self._vault = Vault()
        self._pending: dict[str, int] = {}

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
        findings = self.findings
        for f in found:
            findings[f.entity] = findings.get(f.entity, 0) + 1
        if self.mode == "block":
            for f in found:
                self._pending[f.entity] = self._pending.get(f.entity, 0) + 1
            return text
        parts: list[str] = []
        last = 0
        if self.mode == "mask":
            for f in found:
                parts += (text[last : f.start], mask(f.entity, text[f.start : f.end]))
                last = f.end
        else:
            placeholder = self._vault.placeholder
            restorable = self.reversible and side == "request"
            for f in found:
                value = text[f.start : f.end]
                parts += (text[last : f.start], placeholder(f.entity, value, restorable=restorable))
                last = f.end
        parts.append(text[last:])
        return "".join(parts)

    def scan(self, text: str, side: Side = "request") -> str:
        return self.apply(text, self.detect(text), side)

    def scan_all(self, texts: Sequence[str], side: Side = "request") -> list[str]:
        """:meth:`scan` of each text, in order, with one detector call for all of them when
        the detector takes several texts at once (``detect_all``, as the built-in one does).
        Should that call fail, the texts are scanned one by one, so that the failure is
        handled where it happens, as :meth:`scan` handles it."""
        detect_all = getattr(self._detector, "detect_all", None)
        if detect_all is not None and self.active and not self.failed_open:
            try:
                found: list[list[Finding]] | None = detect_all(texts)
            except Exception:
                found = None
            if found is not None:
                if len(found) != len(texts):
                    raise ValueError(f"detect_all answered {len(found)} of {len(texts)} texts")
                out = list(texts)
                for i, text_found in enumerate(found):
                    if text_found:
                        out[i] = self.apply(texts[i], text_found, side)
                return out
        return [self.scan(text, side) for text in texts]

    def enforce(self, side: Side = "request") -> None:
        """In ``block`` mode, refuse if anything was found (400 pii_detected)."""
        if self._pending:
            counts, self._pending = self._pending, {}
            raise PIIDetected(counts, where=side)

    def restore(self, text: str) -> str:
        """Reversible mode: the caller's own values back in place of their placeholders."""
        return self._vault.restore(text) if self.reversible else text

    def __repr__(self) -> str:
        return f"RequestRedaction(mode={self.mode!r}, findings={dict(self.findings)})"
