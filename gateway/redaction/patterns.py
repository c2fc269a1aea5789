"""The shapes the built-in detector looks for.

Each :class:`Rule` has three parts:

* ``trigger``: a short expression that every value of the rule must contain, cheap for a
  multi-pattern automaton. All triggers are compiled into one Hyperscan database and the
  text is scanned once for all of them (:mod:`scanner`);
* ``pattern``: the full shape, a Python regular expression run only where a trigger fired,
  anchored at the trigger's start (or searched a few bytes around it, ``lookback``);
* a check on the candidate (a checksum, a numbering plan, an address parser).

Patterns work on UTF-8 bytes; ``\\b`` is an ASCII word boundary in both engines.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from stdnum.es import nie
from stdnum.fr import nir
from stdnum.it import codicefiscale

from gateway.redaction import entities as E
from gateway.redaction import iban

NUMERIC = "NUMERIC"
"""The pseudo-entity of the numeric rule; :mod:`numeric` names what it found."""

NUMERIC_ENTITIES = frozenset(
    {
        E.CREDIT_CARD,
        E.PHONE_NUMBER,
        E.IP_ADDRESS,
        E.US_SSN,
        E.DE_TAX_ID,
        E.FR_NIR,
        E.ES_NIF,
        E.NL_BSN,
        E.PL_PESEL,
    }
)

_TOKEN = rb"A-Za-z0-9_-"


@dataclass(frozen=True, slots=True)
class Rule:
    """One entity shape; ``pattern`` may name the part to redact ``(?P<v>...)``."""

    entity: str
    triggers: tuple[bytes, ...]
    pattern: re.Pattern[bytes]
    validate: Callable[[str], bool] | None = None
    end_class: re.Pattern[bytes] | None = None
    """what must not follow the value (the expression cannot say so without look-ahead)"""
    lookback: int = 0
    """0: the match starts where the trigger starts; else how far before it may start"""
    made_of: bytes = b""
    """with ``lookback``: a character class of every byte a match can contain; the search
    for the match starts after the last other byte before the trigger, not ``lookback``
    bytes before it (the tests hold the class to the pattern)"""
    context: bool = False
    """some triggers start with a keyword that names the value: the match follows it"""
    value_group: str | int = field(init=False)
    made_of_table: bytes | None = field(init=False)
    """``made_of`` as a ``bytes.translate`` table (its bytes to 1, the others to 0)"""

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_group", "v" if "v" in self.pattern.groupindex else 0)
        table = None
        if self.lookback and self.made_of:
            member = re.compile(self.made_of)
            table = bytes(member.fullmatch(bytes([b])) is not None for b in range(256))
        object.__setattr__(self, "made_of_table", table)


def _rx(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(pattern)


def _bearer(value: str) -> bool:
    # "Bearer" also starts English sentences; a token has a digit or is long.
    return len(value) >= 32 or any(c.isdigit() for c in value)


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _nir(value: str) -> bool:
    return nir.is_valid(value.replace(" ", ""))


RULES: tuple[Rule, ...] = (
    Rule(
        E.PRIVATE_KEY,
        (rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY",),
        _rx(
            rb"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
            rb"(?:[A-Za-z0-9+/=\s:,.\\]|-[A-Za-z0-9])*"
            rb"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
        ),
    ),
    Rule(
        E.JWT,
        (rb"\beyJ",),
        _rx(rb"eyJ[" + _TOKEN + rb"]{5,}\.eyJ[" + _TOKEN + rb"]{5,}\.[" + _TOKEN + rb"]*"),
    ),
    Rule(
        E.BEARER_TOKEN,
        (rb"\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]",),
        _rx(rb"[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)"),
        validate=_bearer,
    ),
    Rule(
        E.AWS_SECRET_ACCESS_KEY,
        (rb"(?i)secret_?access_?key",),
        _rx(rb"(?i:secret_?access_?key)[\"']?[ \t]*[:=][ \t]*[\"']?(?P<v>[A-Za-z0-9/+]{40})"),
        end_class=_rx(rb"[A-Za-z0-9/+=]"),
    ),
    Rule(
        E.AZURE_STORAGE_KEY,
        (rb"\bAccountKey=", rb"\bSharedAccessKey="),
        _rx(rb"(?:AccountKey|SharedAccessKey)=(?P<v>[A-Za-z0-9+/]{40,86}={0,2})"),
    ),
    Rule(E.AZURE_SAS_SIGNATURE, (rb"\bsig=",), _rx(rb"sig=(?P<v>[A-Za-z0-9%+/]{30,120}=?)")),
    Rule(
        E.AWS_ACCESS_KEY_ID,
        (rb"\bA[KSBC][IC]A[A-Z0-9]",),
        _rx(rb"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    ),
    Rule(
        E.GCP_API_KEY,
        (rb"\bAIza",),
        _rx(rb"AIza[" + _TOKEN + rb"]{35}"),
        end_class=_rx(rb"[" + _TOKEN + rb"]"),
    ),
    Rule(
        E.EMAIL_ADDRESS,  # internationalised local parts and domains (UTF-8) included
        (rb"[A-Za-z0-9._%+\x80-\xff-]@[A-Za-z0-9\x80-\xff]",),
        _rx(
            rb"(?<![A-Za-z0-9._%+\x80-\xff-])[A-Za-z0-9_%+\x80-\xff][A-Za-z0-9._%+\x80-\xff-]{0,127}@"
            rb"(?:[A-Za-z0-9\x80-\xff](?:[A-Za-z0-9\x80-\xff-]{0,61}[A-Za-z0-9\x80-\xff])?\.)"
            rb"{1,8}[A-Za-z]{2,24}\b"
        ),
        lookback=130,
        made_of=rb"[A-Za-z0-9._%+@\x80-\xff-]",
    ),
    Rule(
        E.IBAN_CODE,
        (rb"\b[A-Z]{2}[0-9]{2}[ ]?[A-Z0-9]{4}",),
        _rx(rb"[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b"),
        validate=iban.is_valid,
    ),
    Rule(
        E.IT_FISCAL_CODE,
        (rb"\b[A-Z]{6}[0-9L-NP-V]{2}[A-EHLMPR-T]",),
        _rx(rb"[A-Z]{6}[0-9L-NP-V]{2}[A-EHLMPR-T][0-9L-NP-V]{2}[A-Z][0-9L-NP-V]{3}[A-Z]\b"),
        validate=codicefiscale.is_valid,
    ),
    Rule(
        E.ES_NIE,
        (rb"\b[XYZ][ -]?[0-9]{7}",),
        _rx(rb"[XYZ][ -]?[0-9]{7}[ -]?[A-Z]\b"),
        validate=nie.is_valid,
    ),
    Rule(
        E.FR_NIR,  # with a Corsican department (2A, 2B); all-digit NIRs are numeric runs
        (rb"\b[12][ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?2[AB]",),
        _rx(rb"[12][ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?2[AB][ ]?[0-9]{3}[ ]?[0-9]{3}[ ]?[0-9]{2}\b"),
        validate=_nir,
    ),
    Rule(
        E.IP_ADDRESS,  # IPv6: a "::" next to a hex digit, or eight full groups
        (rb"[0-9A-Fa-f]::", rb"::[0-9A-Fa-f]", rb"\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}"),
        _rx(
            rb"(?<![0-9A-Za-z_:.])(?:[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,7}"
            rb"(?:\.[0-9]{1,3}){0,3}"
        ),
        validate=_ipv6,
        end_class=_rx(rb"[A-Za-z0-9_:]"),
        lookback=40,
        made_of=rb"[0-9A-Fa-f:.]",
    ),
    Rule(
        NUMERIC,
        (
            rb"\b[0-9]{13,19}\b",  # bare runs: cards, FR NIR
            rb"(?i)(?:bsn|burgerservice|sofi)[^0-9\n]{0,30}[0-9]{9}\b",  # a weak id needs a keyword
            rb"(?i)(?:steuer|idnr|tax|tin|pesel)[^0-9\n]{0,30}[0-9]{11}\b",
            rb"\b[0-9]{8}[ -]?[A-Z]\b",  # ES DNI
            rb"\b[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}",  # cards in groups of four
            rb"\b3[47][0-9]{2}[ -][0-9]{6}[ -][0-9]{5}",  # Amex 4-6-5
            rb"\b[0-9]{3}[ .-][0-9]{2}[ .-][0-9]{4}\b",  # US SSN
            rb"\b[12] [0-9]{2} [0-9]{2} [0-9]{2} [0-9]{3}",  # FR NIR, spaced
            rb"\b[0-9]{4}\.[0-9]{2}\.[0-9]{3}\b",  # NL BSN, dotted
            rb"\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",  # IPv4
            rb"(?:\+|\b00)[1-9]",  # international phone numbers
            rb"\(?\b0[1-9][0-9]{0,3}\)?(?:[ ./-]?[0-9]){6}",  # trunk-prefixed phone numbers
            rb"\b[0-9]{2,3} [0-9]{2,3} [0-9]{2,4}\b",  # ES, IT and PL numbers in groups
            rb"\b3[0-9]{2} [0-9]{7}\b",  # IT mobile
        ),
        _rx(rb"(?:\+|\(\+?|\b)[0-9][0-9 ./()-]{5,40}[0-9](?:[ -]?[A-Z]\b)?"),
        context=True,
    ),
)
