"""One pass over the text for every rule's triggers.

Hyperscan (``hyperscan`` on PyPI, Intel's multi-pattern regex automaton) compiles all the
triggers into one database and scans the text once. Without it, Python's ``re`` runs each
trigger in turn: the same results, several times slower (see docs/benchmarks.md).

The texts of one request are scanned together (:meth:`Scanner.scan_all`): Hyperscan scans
them joined by :data:`SEPARATOR` in one call, since each call has a fixed cost of a few
microseconds, and each hit is mapped back to its text. The hits are those of scanning each
text alone: no trigger matches a line break, so no trigger match spans two texts (a hit
that did would make the scanner scan each text alone instead), and the separator is no
word character, so ``\b`` holds at a text's start and end as it does at the ends of the
data.
"""

from __future__ import annotations

import logging
import re
import threading
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, Protocol

log = logging.getLogger("gateway.redaction")

Hit = tuple[int, int, int]
"""(rule index, byte offsets where the trigger starts and ends)"""

SEPARATOR = b"\n"
"""joins the texts scanned in one Hyperscan call; no trigger matches it"""


class Scanner(Protocol):
    engine: str

    def scan(self, data: bytes) -> list[Hit]:
        """Every trigger hit, sorted by start, then rule index, then the longest first."""
        ...

    def scan_all(self, datas: Sequence[bytes]) -> list[list[Hit]]:
        """``scan`` of each text, in order (offsets are each text's own)."""
        ...


class ReScanner:
    engine = "re"

    def __init__(self, triggers: Sequence[Sequence[bytes]]) -> None:
        self._triggers = [(i, re.compile(t)) for i, ts in enumerate(triggers) for t in ts]

    def scan(self, data: bytes) -> list[Hit]:
        hits = {(i, m.start(), m.end()) for i, t in self._triggers for m in t.finditer(data)}
        return sorted(hits, key=_order)

    def scan_all(self, datas: Sequence[bytes]) -> list[list[Hit]]:
        return [self.scan(data) for data in datas]


class HyperscanScanner:
    engine = "hyperscan"

    def __init__(self, triggers: Sequence[Sequence[bytes]], hyperscan: Any) -> None:
        expressions = [t for ts in triggers for t in ts]
        ids = [i for i, ts in enumerate(triggers) for _ in ts]
        self._hs = hyperscan
        self._db = hyperscan.Database()
        self._db.compile(
            expressions=expressions,
            ids=ids,
            elements=len(expressions),
            flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(expressions),
        )
        self._local = threading.local()  # a scratch space per thread, as Hyperscan requires

    def scan(self, data: bytes) -> list[Hit]:
        return sorted(self._hits(data), key=_order)

    def scan_all(self, datas: Sequence[bytes]) -> list[list[Hit]]:
        starts: list[int] = []
        position = 0
        for data in datas:
            starts.append(position)
            position += len(data) + len(SEPARATOR)
        per_text: list[list[Hit]] = [[] for _ in datas]
        for rule, start, end in self._hits(SEPARATOR.join(datas)):
            i = bisect_right(starts, start) - 1
            offset = starts[i]
            if end > offset + len(datas[i]):
                # across a separator (no trigger matches one): it could hide a hit that
                # starts in the next text, so each text is scanned alone
                return [self.scan(data) for data in datas]
            per_text[i].append((rule, start - offset, end - offset))
        return [sorted(hits, key=_order) for hits in per_text]

    def _hits(self, data: bytes) -> set[Hit]:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        hits: set[Hit] = set()

        def on_match(rule: int, start: int, end: int, flags: int, context: object) -> None:
            hits.add((rule, start, end))

        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        return hits


def _order(hit: Hit) -> tuple[int, int, int]:
    return hit[1], hit[0], -hit[2]


def make_scanner(triggers: Sequence[Sequence[bytes]], *, prefer_hyperscan: bool = True) -> Scanner:
    """Hyperscan when it is installed (and preferred), else ``re``."""
    if prefer_hyperscan:
        try:
            import hyperscan
        except ImportError:
            log.warning(
                "hyperscan is not installed: redaction scans with Python's re, several "
                "times slower (pip install hyperscan)"
            )
        else:
            return HyperscanScanner(triggers, hyperscan)
    return ReScanner(triggers)
