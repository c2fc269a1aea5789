"""Classify a run of digits and separators: card, phone, IPv4 or a national id.

The scanner's single pass yields one candidate per run of digits joined by separators
(``+``, space, ``.``, ``/``, ``-``, parentheses), optionally ending in one letter (the DNI's).
Several values can sit in one run (``4111 1111 1111 1111 12/27``), so the classifier tries
the spans that start and end on digit groups, longest first, and keeps the first one whose
checksum or numbering plan holds. Only candidates reach this code, never the whole text.

Checksums are python-stdnum's: Luhn for cards, mod 97 for FR NIR, ISO 7064 MOD 11,10 and
the digit-repetition rule for DE tax ids, the 11-proof for NL BSN, weights 1-3-7-9 and the
birth date for PL PESEL, the letter table for ES DNI, and the area/group/serial rules for
US SSN.

Three ids pass their checksum for about one random number in ten of their length (NL BSN: 9
digits; DE tax id and PL PESEL: 11), so a bare run of digits is taken for one of them only
when a word naming it stands in the 48 characters before it ("BSN", "Steuer-ID", "PESEL",
...). Without that the ids, order numbers and amounts of every JSON document would be
redacted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from stdnum import luhn
from stdnum.de import idnr
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.us import ssn

from gateway.redaction import entities as E
from gateway.redaction.base import Finding
from gateway.redaction.phones import is_phone

_GROUP = re.compile(r"[0-9]+")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_SSN = re.compile(r"[0-9]{3}([- .])[0-9]{2}\1[0-9]{4}")
_CARD_SEPARATORS = frozenset(" -")
_DATE = re.compile(r"[0-9]{4}([./-])[0-9]{1,2}\1[0-9]{1,2}|[0-9]{1,2}([./-])[0-9]{1,2}\2[0-9]{2,4}")
_MIN_DIGITS = 8
_MAX_DIGITS = 19
_CONTEXT_WINDOW = 48
_CONTEXT: dict[str, tuple[bytes, ...]] = {
    E.NL_BSN: (b"bsn", b"burgerservice", b"sofi"),
    E.DE_TAX_ID: (b"steuer", b"idnr", b"tax", b"tin"),
    E.PL_PESEL: (b"pesel",),
}

Checker = Callable[[str, str, tuple[int, ...]], bool]
"""(span as written, its digits, lengths of its digit groups) -> valid?"""


def _card(text: str, digits: str, groups: tuple[int, ...]) -> bool:
    # Issuer ranges start with 2 (Mastercard 2-series), 3 (Amex, Diners, JCB), 4 (Visa),
    # 5 (Mastercard, Maestro) or 6 (Discover, UnionPay, Maestro).
    seps = {c for c in text if not c.isdigit()}
    return (
        13 <= len(digits) <= 19
        and digits[0] in "23456"
        and seps <= _CARD_SEPARATORS
        and (luhn.is_valid(digits))
    )


def _ssn(text: str, digits: str, groups: tuple[int, ...]) -> bool:
    return _SSN.fullmatch(text) is not None and ssn.is_valid(digits)


def _bsn(text: str, digits: str, groups: tuple[int, ...]) -> bool:
    return len(digits) == 9 and (len(groups) == 1 or groups == (4, 2, 3)) and bsn.is_valid(digits)


def _digits_only(validate: Callable[[str], bool], length: int) -> Checker:
    def check(text: str, digits: str, groups: tuple[int, ...]) -> bool:
        return len(digits) == length and validate(digits)

    return check


_CHECKERS: tuple[tuple[str, Checker], ...] = (
    (E.FR_NIR, _digits_only(nir.is_valid, 15)),  # before cards: a NIR can pass Luhn too
    (E.CREDIT_CARD, _card),
    (E.PL_PESEL, _digits_only(pesel.is_valid, 11)),
    (E.DE_TAX_ID, _digits_only(idnr.is_valid, 11)),
    (E.US_SSN, _ssn),
    (E.NL_BSN, _bsn),
)
"""Checksummed entities, most specific first; a phone is tried last (and alone after ``+``)."""


class NumericClassifier:
    """Finds the valid values inside one numeric candidate, for the enabled entities only."""

    def __init__(self, enabled: frozenset[str]) -> None:
        self._checkers = tuple((e, c) for e, c in _CHECKERS if e in enabled)
        self._phone = E.PHONE_NUMBER in enabled
        self._ipv4 = E.IP_ADDRESS in enabled
        self._nif = E.ES_NIF in enabled

    def classify(self, data: bytes, start: int, end: int) -> list[Finding]:
        if _glued(data, start, end):
            return []
        candidate = data[start:end].decode("ascii")
        if candidate[-1].isalpha():
            body = candidate[:-1].rstrip(" -")
            if (
                self._nif
                and body.isdigit()
                and len(body) == 8
                and dni.is_valid(body + candidate[-1])
            ):
                return [Finding(E.ES_NIF, start, end)]
            if body[-1:].isdigit():
                return []  # digits glued to a letter: a reference, not one of ours
            candidate = body
        if _IPV4.fullmatch(candidate):
            ok = self._ipv4 and _is_ip(candidate)
            return [Finding(E.IP_ADDRESS, start, start + len(candidate))] if ok else []
        if _DATE.fullmatch(candidate):
            return []
        context = data[max(0, start - _CONTEXT_WINDOW) : start].lower()
        return self._groups(candidate, start, context)

    def _groups(self, candidate: str, offset: int, context: bytes) -> list[Finding]:
        spans = [(m.start(), m.end()) for m in _GROUP.finditer(candidate)]
        found: list[Finding] = []
        i = 0
        while i < len(spans):
            first = 0 if i == 0 else spans[i][0]  # the first span keeps a leading + or (
            hit = self._longest_from(candidate, spans, i, first, context)
            if hit is None:
                i += 1
                continue
            entity, j = hit
            found.append(Finding(entity, offset + first, offset + spans[j - 1][1]))
            i = j
        return found

    def _longest_from(
        self, candidate: str, spans: list[tuple[int, int]], i: int, first: int, context: bytes
    ) -> tuple[str, int] | None:
        for j in range(len(spans), i, -1):
            groups = tuple(b - a for a, b in spans[i:j])
            if not _MIN_DIGITS <= sum(groups) <= _MAX_DIGITS:
                continue
            text = candidate[first : spans[j - 1][1]]
            digits = "".join(candidate[a:b] for a, b in spans[i:j])
            entity = self._entity(text, digits, groups, context, phone=i == 0)
            if entity is not None:
                return entity, j
        return None

    def _entity(
        self, text: str, digits: str, groups: tuple[int, ...], context: bytes, *, phone: bool
    ) -> str | None:
        """``phone``: the span starts the run (a phone number is written on its own, so
        digit groups in the middle of a longer run are never taken for one)."""
        phone = phone and self._phone
        if text.startswith(("+", "(+")):
            return E.PHONE_NUMBER if phone and is_phone(text, groups) else None
        for entity, check in self._checkers:
            if _named(entity, groups, context) and check(text, digits, groups):
                return entity
        return E.PHONE_NUMBER if phone and is_phone(text, groups) else None


def _glued(data: bytes, start: int, end: int) -> bool:
    """The run is part of a longer token: ``abc123``, ``123abc``, or joined to letters and
    digits by ``-``, ``.`` or ``/`` (the groups of a UUID, a path, a version)."""
    after = data[end : end + 2]
    if after[:1].isalnum() or (after[:1] in (b"-", b".", b"/") and after[1:].isalnum()):
        return True
    if start >= 2 and data[start - 1 : start] in (b"-", b".", b"/"):
        return data[start - 2 : start - 1].isalnum()
    return False


def _named(entity: str, groups: tuple[int, ...], context: bytes) -> bool:
    """A weak id written as one bare run needs a word naming it just before it."""
    words = _CONTEXT.get(entity)
    return words is None or len(groups) > 1 or any(w in context for w in words)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
