"""The built-in detector: every entity with values it must find and near misses it must not."""

from __future__ import annotations

import pytest
from stdnum.fr import nir
from stdnum.iso7064 import mod_11_10
from stdnum.pl import pesel

from gateway.redaction import entities as E
from gateway.redaction.builtin import BuiltinDetector


@pytest.fixture(scope="module", params=[True, False], ids=["hyperscan", "re"])
def detector(request: pytest.FixtureRequest) -> BuiltinDetector:
    return BuiltinDetector(prefer_hyperscan=request.param)


def found(detector: BuiltinDetector, text: str) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start : f.end]) for f in detector.detect(text)]


def _b64(n: int) -> str:
    alphabet = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/"
    return "".join(alphabet[(i * 7) % len(alphabet)] for i in range(n))


def _corsican_nir() -> str:
    body = "184122A123456"
    return body + nir.calc_check_digits(body + "00")


def _de_tax_id(first_ten: str) -> str:
    return first_ten + mod_11_10.calc_check_digit(first_ten)


def _pesel(body: str) -> str:
    return body + pesel.calc_check_digit(body)


JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSJ9"
    ".c2lnbmF0dXJlLW5vdC1yZWFsLTAxMjM0NTY3ODk"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + _b64(64)
    + "\n"
    + _b64(40)
    + "=\n-----END RSA PRIVATE KEY-----"
)

TRUE_POSITIVES: list[tuple[str, str, str]] = [
    # (entity, value, text around it with {} for the value)
    (E.EMAIL_ADDRESS, "anna.k+tag@example.co.uk", "write to {} today"),
    (E.PHONE_NUMBER, "+49 30 12345678", "call {} please"),
    (E.PHONE_NUMBER, "030 12345678", "Telefon: {}."),
    (E.PHONE_NUMBER, "+33 6 12 34 56 78", "appelez le {}"),
    (E.PHONE_NUMBER, "06 12 34 56 78", "appelez le {}"),
    (E.PHONE_NUMBER, "612 34 56 78", "llame al {}"),
    (E.PHONE_NUMBER, "+34 612 345 678", "llame al {}"),
    (E.PHONE_NUMBER, "333 123 4567", "chiama il {}"),
    (E.PHONE_NUMBER, "06-12345678", "bel {}"),
    (E.PHONE_NUMBER, "+31 6 12345678", "bel {}"),
    (E.PHONE_NUMBER, "512 345 678", "zadzwoń {}"),
    (E.PHONE_NUMBER, "+48 512 345 678", "zadzwoń {}"),
    (E.PHONE_NUMBER, "020 7946 0018", "ring {}"),
    (E.PHONE_NUMBER, "+44 20 7946 0018", "ring {}"),
    (E.PHONE_NUMBER, "0049 30 12345678", "call {}"),
    (E.CREDIT_CARD, "4111 1111 1111 1111", "card {} exp 12/27"),
    (E.CREDIT_CARD, "5500-0000-0000-0004", "card {}"),
    (E.CREDIT_CARD, "378282246310005", "amex {}"),
    (E.IBAN_CODE, "DE89 3704 0044 0532 0130 00", "IBAN {} BIC COBADEFFXXX"),
    (E.IBAN_CODE, "GB82WEST12345698765432", "pay to {}"),
    (E.IBAN_CODE, "NL91ABNA0417164300", "rekening {}"),
    (E.IBAN_CODE, "FR1420041010050500013M02606", "compte {}"),
    (E.IP_ADDRESS, "192.168.1.10", "from {} port 443"),
    (E.IP_ADDRESS, "2001:db8::8a2e:370:7334", "peer {} closed"),
    (E.IP_ADDRESS, "fe80::1", "link {}"),
    (E.IP_ADDRESS, "2001:0db8:0000:0000:0000:ff00:0042:8329", "addr {}"),
    (E.US_SSN, "536-90-4399", "SSN {}"),
    (E.US_SSN, "536 90 4399", "ssn: {}"),
    (E.US_SSN, "003-10-1370", "SSN {}"),  # an area starting 00 is not an international prefix
    (E.DE_TAX_ID, "36574261809", "Steuer-ID {}"),
    (E.DE_TAX_ID, _de_tax_id("8609574271"), "steuerliche IdNr. {}"),
    (E.FR_NIR, "295109912611193", "NIR {}"),
    (E.FR_NIR, "2 95 10 99 126 111 93", "sécurité sociale {}"),
    (E.FR_NIR, "210116629375692", "NIR {}"),  # passes Luhn too: a NIR, not a card
    (E.FR_NIR, _corsican_nir(), "né en Corse, NIR {}"),
    (E.ES_NIF, "54362315K", "DNI {}"),
    (E.ES_NIF, "54362315-K", "DNI {}"),
    (E.ES_NIE, "X2482300W", "NIE {}"),
    (E.ES_NIE, "Y-1234567-X", "NIE {}"),
    (E.IT_FISCAL_CODE, "RCCMNL83S18D969H", "codice fiscale {}"),
    (E.NL_BSN, "111222333", "BSN {}"),
    (E.NL_BSN, "1112.22.333", "nummer {}"),
    (E.PL_PESEL, "44051401359", "PESEL {}"),
    (E.PL_PESEL, _pesel("0221150123"), "pesel: {}"),  # born 15 January 2002
    (E.AWS_ACCESS_KEY_ID, "AKIA" + "QWERTYUIOP234567", "aws_access_key_id = {}"),
    (E.AWS_ACCESS_KEY_ID, "ASIA" + "QWERTYUIOP234567", "{}"),
    (E.AWS_SECRET_ACCESS_KEY, _b64(40), "aws_secret_access_key = {}"),
    (E.AWS_SECRET_ACCESS_KEY, _b64(40), '"SecretAccessKey": "{}"'),
    (E.AZURE_STORAGE_KEY, _b64(86) + "==", "AccountName=acct;AccountKey={};EndpointSuffix=x"),
    (E.AZURE_SAS_SIGNATURE, "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo%3D", "?sv=2022&sig={}"),
    (E.GCP_API_KEY, "AIza" + "SyD-0123456789abcdefghijKLMNOPQRSTU", "key={}&q=1"),
    (E.PRIVATE_KEY, PEM, "key:\n{}\nthanks"),
    (E.BEARER_TOKEN, "mF_9.B5f-4.1JqM0123456789", "Authorization: Bearer {}"),
    (E.JWT, JWT, "token {} expires"),
]


@pytest.mark.parametrize(
    ("entity", "value", "template"),
    TRUE_POSITIVES,
    ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(TRUE_POSITIVES)],
)
def test_finds_each_entity(
    detector: BuiltinDetector, entity: str, value: str, template: str
) -> None:
    assert found(detector, template.format(value)) == [(entity, value)]


FALSE_POSITIVES: list[tuple[str, str]] = [
    ("IBAN with a wrong check", "IBAN DE89 3704 0044 0532 0130 01 BIC COBADEFFXXX"),
    ("IBAN too short for its country", "IBAN DE89 3704 0044 0532 0130"),
    ("card failing Luhn", "card 4111 1111 1111 1112"),
    ("card number of an unknown issuer", "card 9111 1111 1111 1111"),
    ("BSN failing the 11-proof", "BSN 111222334"),
    ("BSN-shaped id without a keyword", "order id 111222333 shipped"),
    ("PESEL with a wrong check digit", "PESEL 44051401358"),
    ("PESEL with month 13", "PESEL " + _pesel("4413140135")),
    ("PESEL born on 29 February 1998", "PESEL " + _pesel("9802290123")),
    ("DE tax id with a wrong check digit", "Steuer-ID 36574261808"),
    ("DE tax id with two repeated digits", "Steuer-ID " + _de_tax_id("1122345678")),
    ("NIR with a wrong key", "NIR 295109912611196"),
    ("DNI with a wrong letter", "DNI 54362315A"),
    ("NIE with a wrong letter", "NIE X2482300A"),
    ("codice fiscale with a wrong check letter", "codice fiscale RCCMNL83S18D969A"),
    ("SSN in area 666", "SSN 666-12-3456"),
    ("SSN in area 000", "SSN 000-12-3456"),
    ("SSN in area 9xx", "SSN 912-12-3456"),
    ("SSN with group 00", "SSN 123-00-4567"),
    ("SSN with serial 0000", "SSN 123-45-0000"),
    ("a long order number", "order 123456789012 shipped"),
    ("a timestamp", "at 2024-05-01T12:30:45.123Z status=200"),
    ("a date", "due 01.02.2024 or 2024/05/01"),
    ("a short phone-like number", "call +12 345"),
    ("a version string", "version 1.2.3 released"),
    ("an out-of-range IPv4", "from 999.1.1.1"),
    ("C++ scopes", "std::vector<int> and Foo::bar()"),
    ("a time of day", "meet at 12:30:45"),
    ("an e-mail without a domain", "user@localhost and @handle"),
    ("a public certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"),
    ("prose starting with bearer", "Bearer of bad news arrived"),
    ("a short AWS-looking prefix", "AKIA123"),
    ("one JWT segment", "eyJhbGciOiJIUzI1NiJ9 alone"),
    ("a short sig parameter", "?sig=abc"),
    ("a UUID", "request 123e4567-e89b-12d3-a456-426614174000 ok"),
    ("a UUID with a leading digit run", "request_id=03911731-a6b2-4c1d-9e8f-057587003226 ok"),
    ("groups inside a card-shaped run are not a phone", "card 6011 7294 0264 6495 ok"),
    ("a sha1", "commit 3f786850e387550fdab836ed7e6dc881de23001b"),
    ("an amount", "total 1,234,567.89 EUR"),
]


@pytest.mark.parametrize(("why", "text"), FALSE_POSITIVES, ids=[w for w, _ in FALSE_POSITIVES])
def test_near_misses_are_not_found(detector: BuiltinDetector, why: str, text: str) -> None:
    assert found(detector, text) == [], why


def test_several_values_in_one_numeric_run(detector: BuiltinDetector) -> None:
    text = "card 4111 1111 1111 1111 12 27 and phone +49 30 12345678"
    assert found(detector, text) == [
        (E.CREDIT_CARD, "4111 1111 1111 1111"),
        (E.PHONE_NUMBER, "+49 30 12345678"),
    ]


def test_offsets_are_characters_in_non_ascii_text(detector: BuiltinDetector) -> None:
    text = "Grüße aus Köln — schreiben Sie an jürgen@example.de oder ana@example.es 🙂 IBAN "
    text += "DE89 3704 0044 0532 0130 00"
    assert found(detector, text) == [
        (E.EMAIL_ADDRESS, "jürgen@example.de"),
        (E.EMAIL_ADDRESS, "ana@example.es"),
        (E.IBAN_CODE, "DE89 3704 0044 0532 0130 00"),
    ]


def test_entity_subset(detector: BuiltinDetector) -> None:
    only = BuiltinDetector([E.EMAIL_ADDRESS])
    text = "mail a@example.com card 4111 1111 1111 1111"
    assert [(f.entity) for f in only.detect(text)] == [E.EMAIL_ADDRESS]


def test_both_scanners_agree_on_a_mixed_document() -> None:
    text = "\n".join(t.format(v) for _, v, t in TRUE_POSITIVES) + "\n".join(
        t for _, t in FALSE_POSITIVES
    )
    fast = BuiltinDetector(prefer_hyperscan=True).detect(text)
    plain = BuiltinDetector(prefer_hyperscan=False).detect(text)
    assert fast == plain
    assert len(fast) >= len(TRUE_POSITIVES) - 1


def test_unterminated_private_key_is_found_to_the_end() -> None:
    text = "-----BEGIN PRIVATE KEY-----\n" + _b64(64) + "\n" + _b64(30)
    assert found(BuiltinDetector(), text) == [(E.PRIVATE_KEY, text)]
