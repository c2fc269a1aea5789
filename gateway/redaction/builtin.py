"""The built-in detector: one scan for all triggers, full patterns and checks on candidates only."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from gateway.redaction import entities as E
from gateway.redaction.base import Finding, merge
from gateway.redaction.numeric import NumericClassifier
from gateway.redaction.patterns import NUMERIC, NUMERIC_ENTITIES, RULES, Rule
from gateway.redaction.scanner import Hit, Scanner, make_scanner

_MAX_AFTER_TRIGGER = 400
"""how far past a look-back trigger its full match may end (the longest e-mail is 254)"""


class BuiltinDetector:
    """Detects :data:`entities.BUILTIN` (or the subset given); needs no model.

    ``prefer_hyperscan=False`` forces the pure-``re`` scanner (tests use it to check both
    scanners agree).
    """

    def __init__(self, entities: Iterable[str] | None = None, *, prefer_hyperscan: bool = True):
        enabled = E.BUILTIN if entities is None else frozenset(entities) & E.BUILTIN
        self.entities = enabled
        self._rules = [
            r
            for r in RULES
            if r.entity in enabled or (r.entity == NUMERIC and enabled & NUMERIC_ENTITIES)
        ]
        self._scanner: Scanner | None = (
            make_scanner([r.triggers for r in self._rules], prefer_hyperscan=prefer_hyperscan)
            if self._rules
            else None
        )
        self._numeric = NumericClassifier(enabled)

    @property
    def engine(self) -> str:
        return self._scanner.engine if self._scanner is not None else "none"

    def detect(self, text: str) -> list[Finding]:
        if self._scanner is None:
            return []
        data = text.encode("utf-8", "surrogatepass")
        return self._findings(text, data, self._scanner.scan(data))

    def detect_all(self, texts: Sequence[str]) -> list[list[Finding]]:
        """``detect`` of each text, in order, with one scan for all of them."""
        if self._scanner is None:
            return [[] for _ in texts]
        # loops rather than comprehensions: on Python 3.11 a comprehension builds a function
        # object on every call, and this runs on every request
        datas: list[bytes] = []
        for text in texts:
            datas.append(text.encode("utf-8", "surrogatepass"))
        found: list[list[Finding]] = []
        for i, text_hits in enumerate(self._scanner.scan_all(datas)):
            found.append(self._findings(texts[i], datas[i], text_hits) if text_hits else [])
        return found

    def _findings(self, text: str, data: bytes, hits: list[Hit]) -> list[Finding]:
        if not hits:
            return []
        found: list[Finding] = []
        # the last examined candidate: its span, and whether it was accepted
        c_start = c_end = -1
        c_accepted = False
        ordered = True  # each finding ends before the next starts: nothing to merge
        for index, start, end in hits:
            if c_start < start < c_end or (start == c_start and c_accepted):
                continue  # inside a candidate already examined
            rule = self._rules[index]
            match = _confirm(rule, data, start, end)
            if match is None:
                continue
            checked = self._check(rule, data, match)
            for f in checked:
                ordered = ordered and (not found or found[-1].end <= f.start)
                found.append(f)
            c_start, c_end = match.span()
            c_accepted = bool(checked)
        if not ordered:
            found = merge(found, [])
        return found if len(data) == len(text) else _char_offsets(data, found)

    def _check(self, rule: Rule, data: bytes, match: re.Match[bytes]) -> list[Finding]:
        start, end = match.span(rule.value_group)
        if rule.entity == NUMERIC:
            return self._numeric.classify(data, start, end)
        if rule.end_class is not None and rule.end_class.match(data, end):
            return []
        if rule.validate is not None and not rule.validate(data[start:end].decode("ascii")):
            return []
        return [Finding(rule.entity, start, end)]


def _confirm(rule: Rule, data: bytes, start: int, end: int) -> re.Match[bytes] | None:
    """The rule's full match that the trigger ``[start, end)`` belongs to, if any."""
    if not rule.lookback:
        match = rule.pattern.match(data, start)
        if match is not None or not rule.context:
            return match
        return rule.pattern.search(data, start, end + _MAX_AFTER_TRIGGER)  # after a keyword
    # the first match of the window that reaches past the trigger's start; each search goes
    # on where the previous match ended, as finditer does (these patterns never match empty)
    position = max(0, start - rule.lookback)
    if rule.made_of_table is not None:
        # A match that starts before a byte no match contains ends before it, before the
        # trigger: it would be passed over below, so the search starts after that byte.
        position += data[position:start].translate(rule.made_of_table).rfind(0) + 1
    while (match := rule.pattern.search(data, position, end + _MAX_AFTER_TRIGGER)) is not None:
        if match.start() >= end:
            return None
        if match.end() > start:
            return match
        position = max(match.end(), position + 1)
    return None


def _char_offsets(data: bytes, found: list[Finding]) -> list[Finding]:
    """Byte offsets to character offsets (findings start and end on character boundaries)."""
    out: list[Finding] = []
    byte_pos = char_pos = 0
    for f in found:
        start = char_pos + len(data[byte_pos : f.start].decode("utf-8", "surrogatepass"))
        end = start + len(data[f.start : f.end].decode("utf-8", "surrogatepass"))
        out.append(Finding(f.entity, start, end))
        byte_pos, char_pos = f.end, end
    return out
