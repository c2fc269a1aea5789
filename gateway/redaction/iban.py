"""The IBAN check: python-stdnum's, with each country's registry entry looked up once.

``stdnum.iban.is_valid`` looks the country up in its IBAN registry and compiles the
country's BBAN format again on every call, and computes mod 97 one character at a time;
together that costs ten times the checks themselves. :func:`is_valid` makes the same checks,
in the same terms: the country is in the registry, ISO 7064 mod 97-10 holds, the BBAN has
the country's format, and the country's own check passes where stdnum has one (Belgium,
Spain, Montenegro, Norway). The registry entry and the format are resolved once per
country code (two letters, never a value). The tests hold it to ``stdnum.iban.is_valid``
for every country in the registry, and :func:`mod_97_10` to stdnum's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from stdnum import iban, numdb
from stdnum.util import get_cc_module

_REGISTRY = numdb.get("iban")
_BASE36 = tuple(str(int(c, 36)) if c.isalnum() else c for c in map(chr, range(128)))
"""``str.translate`` table of the ASCII characters: each letter as stdnum's ISO 7064 writes
it (A or a is 10, ..., Z is 35), every other character as itself (a table that has every
character is several times faster than one that has only the letters)"""


@functools.lru_cache(maxsize=1024)  # keyed by two-letter country codes: bounded
def _country(code: str) -> tuple[re.Pattern[str], Callable[[str], bool] | None] | None:
    """The BBAN format and the country's own check, or ``None`` for no IBAN country."""
    found = _REGISTRY.info(code)
    entry = found[0][1] if found else None
    if not entry:
        return None
    module = get_cc_module(code, "iban")
    return iban._struct_to_re(entry.get("bban", "")), module.is_valid if module else None


def is_valid(value: str) -> bool:
    """``value``: ASCII letters, digits and spaces (the IBAN pattern matches no other), for
    which stdnum's ``compact`` only removes the spaces and upper-cases."""
    number = value.replace(" ", "").upper()
    country = _country(number[:2])
    if country is None:
        return False
    bban, own_check = country
    return (
        mod_97_10(number[4:] + number[:4])
        and bban.match(number[4:]) is not None
        and (own_check is None or own_check(number))
    )


def mod_97_10(number: str) -> bool:
    """``stdnum.iso7064.mod_97_10.is_valid`` for ASCII letters and digits (anything else is
    invalid): the letters written as base-36 digits in decimal, the whole taken mod 97, is 1."""
    return number.isascii() and number.isalnum() and int(number.translate(_BASE36)) % 97 == 1
