"""``mask`` mode: the value is masked in place, keeping its shape.

Rules, by entity:

* EMAIL_ADDRESS: the first character of the local part and the domain stay, the rest of
  the local part (dots included) is masked: ``anna.k@example.com`` -> ``a*****@example.com``
  (a local part of one or two characters is masked whole);
* CREDIT_CARD, IBAN_CODE, PHONE_NUMBER and the national ids (US_SSN, DE_TAX_ID, FR_NIR,
  ES_NIF, ES_NIE, IT_FISCAL_CODE, NL_BSN, PL_PESEL): the last 4 letters or digits stay,
  ``4111 1111 1111 1234`` -> ``**** **** **** 1234``;
* everything else (IP addresses, every secret, PERSON, LOCATION): every letter and digit
  is masked.

Elsewhere separators (spaces, ``-``, ``.``, ``/``, ``+``, ``:``, line breaks) stay.
"""

from __future__ import annotations

from gateway.redaction import entities as E

MASK = "*"
_KEEP_LAST_4 = frozenset({E.CREDIT_CARD, E.IBAN_CODE, E.PHONE_NUMBER}) | E.NATIONAL_IDS


def mask(entity: str, value: str) -> str:
    if entity == E.EMAIL_ADDRESS:
        local, at, domain = value.rpartition("@")
        keep = 1 if len(local) > 2 else 0  # a one- or two-letter local part is hidden whole
        return local[:keep] + MASK * (len(local) - keep) + at + domain
    return _hide(value, 4 if entity in _KEEP_LAST_4 else 0)


def _hide(value: str, keep_last: int) -> str:
    chars = list(value)
    alnum = [i for i, c in enumerate(chars) if c.isalnum()]
    for i in alnum[: len(alnum) - keep_last] if keep_last else alnum:
        chars[i] = MASK
    return "".join(chars)
