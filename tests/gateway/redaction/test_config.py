"""The ``redaction:`` config section: secure defaults and errors that name the field."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from gateway.redaction import entities as E
from gateway.redaction.config import RedactionConfig


def load(text: str) -> RedactionConfig:
    return RedactionConfig.model_validate(yaml.safe_load(text)["redaction"])


def test_defaults_are_secure() -> None:
    config = RedactionConfig()
    assert config.mode == "redact"
    assert not config.fail_open
    assert not config.reversible
    assert not config.presidio
    assert config.detected_entities == E.BUILTIN


def test_the_issue_example_loads_as_written() -> None:
    assert load("redaction: {mode: redact}") == RedactionConfig()


def test_a_full_section_loads() -> None:
    config = load(
        """
redaction:
  mode: mask
  reversible: true
  scan_responses: true
  fail_open: true
  entities: [EMAIL_ADDRESS, CREDIT_CARD, PERSON]
  presidio: true
  teams: {research: block, analytics: "off"}
"""
    )
    assert config.mode == "mask"
    assert config.detected_entities == {E.EMAIL_ADDRESS, E.CREDIT_CARD, E.PERSON}
    assert config.teams == {"research": "block", "analytics": "off"}
    assert config.mode_for(key_mode=None, team="analytics") == "off"


def test_an_unknown_mode_names_the_value_and_the_choices() -> None:
    with pytest.raises(ValidationError) as caught:
        load("redaction: {mode: scrub}")
    text = str(caught.value)
    assert "mode" in text and "scrub" in text and "'redact', 'mask', 'block' or 'off'" in text


def test_an_unknown_team_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"teams\.research"):
        load("redaction: {teams: {research: maybe}}")


def test_unknown_entities_are_listed_with_what_is_expected() -> None:
    with pytest.raises(ValidationError) as caught:
        load("redaction: {entities: [EMAIL_ADDRESS, EMAIL, SSN]}")
    text = str(caught.value)
    assert "['EMAIL', 'SSN']" in text and "expected any of" in text and "US_SSN" in text


def test_ner_entities_need_presidio() -> None:
    with pytest.raises(ValidationError, match="PERSON and LOCATION need presidio: true"):
        load("redaction: {entities: [PERSON]}")


def test_an_empty_entity_list_is_not_a_silent_off_switch() -> None:
    with pytest.raises(ValidationError, match="mode: off explicitly"):
        load("redaction: {entities: []}")


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="fail_closed"):
        load("redaction: {fail_closed: false}")
