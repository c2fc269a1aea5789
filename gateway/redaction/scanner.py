"""One pass over the text for every rule's triggers.

Hyperscan (``hyperscan`` on PyPI, Intel's multi-pattern regex automaton) compiles all the
triggers into one database and scans the text once. Without it, Python's ``re`` runs each
trigger in turn: the same results, several times slower (see docs/benchmarks.md).
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


class Scanner(Protocol):
    engine: str

    def scan(self, data: bytes) -> list[Hit]:
        """Every trigger hit, sorted by start, then rule index, then the longest first."""
        ...


class ReScanner:
    engine = "re"

    def __init__(self, triggers: Sequence[Sequence[bytes]]) -> None:
        self._triggers = [(i, re.compile(t)) for i, ts in enumerate(triggers) for t in ts]

    def scan(self, data: bytes) -> list[Hit]:
        hits = {(i, m.start(), m.end()) for i, t in self._triggers for m in t.finditer(data)}
        return sorted(hits, key=_order)


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
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        hits: set[Hit] = set()

        def on_match(rule: int, start: int, end: int, flags: int, context: object) -> None:
            hits.add((rule, start, end))

        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        return sorted(hits, key=_order)


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
