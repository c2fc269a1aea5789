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
from collections.abc import Sequence
from typing import Any, Protocol

log = logging.getLogger("gateway.redaction")

Hit = tuple[int, int, int]
"""(rule index, byte offsets where the trigger starts and ends)"""

_Sortable = tuple[int, int, int]
"""a hit as (start, rule index, -end): sorted as :class:`Scanner` orders hits"""

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
        return [(rule, start, -neg_end) for start, rule, neg_end in sorted(self._hits(data))]

    def scan_all(self, datas: Sequence[bytes]) -> list[list[Hit]]:
        per_text: list[list[Hit]] = []
        for _ in datas:  # a loop: a comprehension would build a function on every call
            per_text.append([])
        hits = self._hits(SEPARATOR.join(datas))
        if not hits:
            return per_text
        i = offset = 0  # the text of the hit, and where it starts in the joined data
        text_end = len(datas[0])  # where it ends (its separator)
        for start, rule, neg_end in sorted(hits):  # so each text's hits are sorted
            while start > text_end:
                i += 1
                offset = text_end + len(SEPARATOR)
                text_end = offset + len(datas[i])
            if -neg_end > text_end:
                # across a separator (no trigger matches one): it could hide a hit that
                # starts in the next text, so each text is scanned alone
                return [self.scan(data) for data in datas]
            per_text[i].append((rule, start - offset, -neg_end - offset))
        return per_text

    def _hits(self, data: bytes) -> set[_Sortable]:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        hits: set[_Sortable] = set()
        # positional: data, match_event_handler, flags, context, scratch
        self._db.scan(data, _collect, 0, hits, scratch)
        return hits


def _collect(rule: int, start: int, end: int, flags: int, hits: set[_Sortable]) -> None:
    """Hyperscan's match handler; ``hits`` is the scan's context."""
    hits.add((start, rule, -end))


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
