"""Is a run of digits and separators a real phone number?

Validation is libphonenumber's (``phonenumbers``): the number must be valid in its numbering
plan, not merely have the right length. To keep plain long numbers that are other ids (order
numbers, timestamps, account numbers) out, a candidate is tried only in one of these forms:

* international: ``+`` or ``00`` then the country code (E.164, at most 15 digits);
* national with a trunk prefix ``0`` (DE, FR, UK, NL, IT landlines, BE, AT), written with or
  without separators: ``030 1234567``, ``06 12 34 56 78``, ``020 7946 0018``, ``06-12345678``;
* national without a trunk prefix (ES, IT mobiles, PL) only when written in the grouping
  people use for them: ``612 34 56 78``, ``91 123 45 67``, ``333 123 4567``, ``512 345 678``.
  A bare nine-digit run is not taken as a phone number: it is as likely a BSN or an id.
"""

from __future__ import annotations

import phonenumbers

_TRUNK_REGIONS = ("DE", "FR", "GB", "NL", "IT", "BE", "AT")
_NO_TRUNK_REGIONS = ("ES", "IT", "PL")
_NO_TRUNK_LAYOUTS = frozenset({(3, 2, 2, 2), (3, 3, 3), (2, 3, 2, 2), (3, 3, 4), (3, 7)})
_MIN_DIGITS = 8
_MAX_E164_DIGITS = 15


def _valid(text: str, region: str | None) -> bool:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def is_phone(text: str, groups: tuple[int, ...]) -> bool:
    """``text`` is the candidate as written; ``groups`` the lengths of its digit runs."""
    digits = sum(groups)
    if digits < _MIN_DIGITS:
        return False
    head = text.lstrip("(")
    if head.startswith("+"):
        return digits <= _MAX_E164_DIGITS and _valid(text, None)
    if head.startswith("00"):
        return digits - 2 <= _MAX_E164_DIGITS and _valid("+" + text.lstrip("(")[2:], None)
    if head.startswith("0"):
        return any(_valid(text, region) for region in _TRUNK_REGIONS)
    if groups in _NO_TRUNK_LAYOUTS:
        return any(_valid(text, region) for region in _NO_TRUNK_REGIONS)
    return False
