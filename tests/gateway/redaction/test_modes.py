"""The four modes, placeholder stability, reversible restore and the findings summary."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from gateway.redaction import entities as E
from gateway.redaction.builtin import BuiltinDetector
from gateway.redaction.config import Mode, RedactionConfig
from gateway.redaction.engine import Redactor
from gateway.redaction.errors import PIIDetected
from gateway.redaction.masking import mask
from gateway.redaction.session import RequestRedaction

CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
DETECTOR = BuiltinDetector()
TEXT = f"Ada (ada@example.com) pays with {CARD}; Bob is bob@example.org; ada@example.com again."


def session(mode: Mode, **config: object) -> RequestRedaction:
    redactor = Redactor(
        RedactionConfig(mode=mode, **config),
        registry=CollectorRegistry(),
        detector=DETECTOR,
    )
    return redactor.session()


def test_redact_uses_typed_numbered_placeholders_stable_within_the_request() -> None:
    s = session("redact")
    out = s.scan(TEXT)
    assert out == (
        "Ada (<EMAIL_ADDRESS_1>) pays with <CREDIT_CARD_1>; Bob is <EMAIL_ADDRESS_2>; "
        "<EMAIL_ADDRESS_1> again."
    )
    # the same value in another text of the same request gets the same placeholder
    assert s.scan("cc: bob@example.org, ada@example.com") == (
        "cc: <EMAIL_ADDRESS_2>, <EMAIL_ADDRESS_1>"
    )
    assert s.findings == {E.EMAIL_ADDRESS: 5, E.CREDIT_CARD: 1}


def test_placeholders_restart_for_each_request() -> None:
    redactor = Redactor(RedactionConfig(), registry=CollectorRegistry(), detector=DETECTOR)
    first, second = redactor.session(), redactor.session()
    assert first.scan("bob@example.org") == "<EMAIL_ADDRESS_1>"
    assert second.scan("ada@example.com") == "<EMAIL_ADDRESS_1>"
    assert first.restore("<EMAIL_ADDRESS_1>") == "<EMAIL_ADDRESS_1>"  # not reversible


def test_mask_keeps_shape_and_the_documented_characters() -> None:
    s = session("mask")
    assert s.scan(f"card {CARD}, iban {IBAN}, mail ada.k@example.com") == (
        "card **** **** **** 1111, iban **** **** **** **** **30 00, mail a****@example.com"
    )
    assert mask(E.US_SSN, "536-90-4399") == "***-**-4399"
    assert mask(E.EMAIL_ADDRESS, "al@example.com") == "**@example.com"
    assert mask(E.PHONE_NUMBER, "+49 30 12345678") == "+** ** ****5678"
    assert mask(E.IP_ADDRESS, "192.168.1.10") == "***.***.*.**"
    assert mask(E.AWS_ACCESS_KEY_ID, "AKIAQWERTYUIOP234567") == "*" * 20


def test_block_refuses_with_types_and_counts_never_values() -> None:
    s = session("block")
    assert s.scan(TEXT) == TEXT  # block mode does not rewrite, it refuses
    assert s.scan(f"second message: {IBAN}") == f"second message: {IBAN}"
    with pytest.raises(PIIDetected) as caught:
        s.enforce()
    err = caught.value
    assert (err.status, err.code) == (400, "pii_detected")
    assert "CREDIT_CARD: 1" in err.message
    assert "EMAIL_ADDRESS: 3" in err.message
    assert "IBAN_CODE: 1" in err.message
    for value in ("ada@example.com", "bob@example.org", CARD, IBAN, "1111", "example"):
        assert value not in err.message
        assert value not in str(err.payload())
    assert err.counts == {E.CREDIT_CARD: 1, E.EMAIL_ADDRESS: 3, E.IBAN_CODE: 1}


def test_block_lets_clean_requests_through() -> None:
    s = session("block")
    assert s.scan("nothing personal here") == "nothing personal here"
    s.enforce()  # does not raise


def test_off_scans_nothing() -> None:
    calls: list[str] = []

    class Spy:
        def detect(self, text: str) -> list[object]:
            calls.append(text)
            return []

    redactor = Redactor(
        RedactionConfig(mode="off"),
        registry=CollectorRegistry(),
        detector=Spy(),  # type: ignore[arg-type]
    )
    s = redactor.session()
    assert s.scan(TEXT) == TEXT
    assert calls == []
    assert s.findings == {}


def test_reversible_restores_only_the_callers_own_values() -> None:
    s = session("redact", reversible=True)
    sent = s.scan(f"Email ada@example.com about {CARD}")
    assert sent == "Email <EMAIL_ADDRESS_1> about <CREDIT_CARD_1>"
    answer = "Sent to <EMAIL_ADDRESS_1>; card <CREDIT_CARD_1>; unknown <EMAIL_ADDRESS_9>."
    assert s.restore(answer) == (
        f"Sent to ada@example.com; card {CARD}; unknown <EMAIL_ADDRESS_9>."
    )
    # a value the model produced itself is redacted in the answer and not restored
    new = s.scan("contact eve@example.net", "response")
    assert new == "contact <EMAIL_ADDRESS_2>"
    assert s.restore(new) == "contact <EMAIL_ADDRESS_2>"


def test_reversible_does_not_apply_to_mask_mode() -> None:
    s = session("mask", reversible=True)
    assert not s.reversible
    assert s.restore("<EMAIL_ADDRESS_1>") == "<EMAIL_ADDRESS_1>"


def test_the_mapping_is_not_shown_in_reprs() -> None:
    s = session("redact", reversible=True)
    s.scan("ada@example.com")
    assert "ada@example.com" not in repr(s)
    assert "ada@example.com" not in repr(s._vault)


@pytest.mark.parametrize(
    ("key_mode", "team", "expected"),
    [
        (None, None, "redact"),
        (None, "research", "mask"),
        ("block", "research", "block"),
        ("off", None, "off"),
        (None, "unknown-team", "redact"),
    ],
)
def test_key_beats_team_beats_default(
    key_mode: str | None, team: str | None, expected: str
) -> None:
    redactor = Redactor(
        RedactionConfig(teams={"research": "mask"}), registry=CollectorRegistry(), detector=DETECTOR
    )
    assert redactor.session(key_mode=key_mode, team=team).mode == expected


def test_unknown_key_mode_is_an_error_naming_value_and_choices() -> None:
    redactor = Redactor(RedactionConfig(), registry=CollectorRegistry(), detector=DETECTOR)
    with pytest.raises(ValueError, match=r"'loose'; expected one of \['redact', 'mask'"):
        redactor.session(key_mode="loose")
