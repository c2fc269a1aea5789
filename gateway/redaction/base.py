"""What a detector returns, and the protocol every detector implements."""

from __future__ import annotations

from typing import NamedTuple, Protocol


class Finding(NamedTuple):
    """One detected value: its entity type and its ``[start, end)`` span in the text.

    A named tuple rather than a frozen dataclass: one is built per value found, on the
    request path, and a tuple is several times cheaper to build (it is just as immutable).
    """

    entity: str
    start: int
    end: int


class Detector(Protocol):
    """Finds personal data and secrets in a text.

    ``detect`` returns findings sorted by ``start`` that do not overlap. It may raise: the
    redactor treats any exception as "detection unavailable" and fails closed.
    """

    def detect(self, text: str) -> list[Finding]: ...


def merge(first: list[Finding], second: list[Finding]) -> list[Finding]:
    """Both lists as one sorted, non-overlapping list; on overlap the longer finding wins."""
    out: list[Finding] = []
    for f in sorted(first + second, key=lambda f: (f.start, -(f.end - f.start))):
        if out and f.start < out[-1].end:
            if f.end - f.start > out[-1].end - out[-1].start:
                out[-1] = f
            continue
        out.append(f)
    return out


class CombinedDetector:
    """Several detectors as one; on overlap the longer finding wins."""

    def __init__(self, *detectors: Detector) -> None:
        self._detectors = detectors

    def detect(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        for detector in self._detectors:
            found = merge(found, detector.detect(text))
        return found
