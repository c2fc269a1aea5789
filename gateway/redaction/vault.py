"""Typed placeholders for one request, and (reversible mode) their way back.

``<EMAIL_ADDRESS_1>``, ``<EMAIL_ADDRESS_2>``, ``<IBAN_CODE_1>``: numbered per entity type in
order of first appearance; the same value gets the same placeholder everywhere in the
request. The mapping lives in this object only, which lives in the request's context: it is
never logged, persisted or shared between requests.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*_[0-9]+)>")
MAX_PLACEHOLDER = 40
"""no placeholder is longer (the longest entity name is 21 characters)"""


class Vault:
    __slots__ = ("_numbers", "_placeholders", "_restorable")

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._placeholders: dict[tuple[str, str], str] = {}
        self._restorable: dict[str, str] = {}

    def placeholder(self, entity: str, value: str, *, restorable: bool) -> str:
        """The value's placeholder; ``restorable`` values come back in :meth:`restore`."""
        key = (entity, value)
        name = self._placeholders.get(key)
        if name is None:
            number = self._numbers[entity] = self._numbers.get(entity, 0) + 1
            name = f"{entity}_{number}"
            self._placeholders[key] = name
        if restorable:
            self._restorable[name] = value
        return f"<{name}>"

    def restore(self, text: str) -> str:
        """Every restorable placeholder in ``text`` replaced by its value; others stay."""
        if not self._restorable or "<" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self._restorable.get(m.group(1), m.group(0)), text)

    def __repr__(self) -> str:  # never show values, even in a debugger or a traceback
        return f"Vault({len(self._placeholders)} placeholders)"
