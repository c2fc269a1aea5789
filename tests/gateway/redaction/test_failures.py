"""Failing closed, failing open only when told to (and counted), and the optional backend."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry, Counter

from gateway.errors import GatewayError
from gateway.redaction import entities as E
from gateway.redaction.base import Finding
from gateway.redaction.config import RedactionConfig
from gateway.redaction.engine import Redactor, build_detector
from gateway.redaction.errors import RedactionSetupError, RedactionUnavailable
from gateway.redaction.payload import map_request
from gateway.redaction.presidio_backend import PresidioDetector

SECRET = "ada@example.com"
BODY = {"model": "m", "messages": [{"role": "user", "content": f"mail {SECRET}"}]}


class Broken:
    """A detector that fails, with the text in its message (as real libraries do)."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, text: str) -> list[Finding]:
        self.calls += 1
        raise RuntimeError(f"analyzer crashed on {text!r}")


def fail_open_count(registry: CollectorRegistry) -> float:
    value = registry.get_sample_value("gatehouse_redaction_fail_open_total")
    return 0.0 if value is None else value


def test_a_failing_detector_refuses_the_request_with_503() -> None:
    registry = CollectorRegistry()
    redactor = Redactor(RedactionConfig(), registry=registry, detector=Broken())
    session = redactor.session()
    with pytest.raises(RedactionUnavailable) as caught:
        map_request("chat", BODY, session.scan)
    err = caught.value
    assert isinstance(err, GatewayError)
    assert (err.status, err.type, err.code) == (503, "server_error", "redaction_unavailable")
    assert "RuntimeError" in err.message
    assert SECRET not in err.message  # the detector's own message quoted the text
    assert err.__cause__ is None and err.__suppress_context__
    assert fail_open_count(registry) == 0


@pytest.mark.parametrize("mode", ["redact", "mask", "block"])
def test_every_scanning_mode_fails_closed(mode: str) -> None:
    config = RedactionConfig(mode=mode)
    session = Redactor(config, registry=CollectorRegistry(), detector=Broken()).session()
    with pytest.raises(RedactionUnavailable):
        session.scan("anything")


def test_fail_open_lets_the_request_through_unredacted_and_counts_it_once() -> None:
    registry = CollectorRegistry()
    broken = Broken()
    redactor = Redactor(RedactionConfig(fail_open=True), registry=registry, detector=broken)
    session = redactor.session()
    body = {**BODY, "messages": [*BODY["messages"], {"role": "user", "content": "again"}]}
    assert map_request("chat", body, session.scan) == body
    assert session.failed_open
    assert broken.calls == 1  # the rest of the request is not retried against a broken detector
    assert fail_open_count(registry) == 1
    redactor.session().scan("next request")
    assert fail_open_count(registry) == 2


def test_a_counter_can_be_passed_in() -> None:
    registry = CollectorRegistry()
    counter = Counter("custom_fail_open", "test", registry=registry)
    redactor = Redactor(RedactionConfig(fail_open=True), fail_open_total=counter, detector=Broken())
    redactor.session().scan("x")
    assert registry.get_sample_value("custom_fail_open_total") == 1


def test_the_redactor_needs_somewhere_to_count() -> None:
    with pytest.raises(TypeError, match="CollectorRegistry"):
        Redactor(RedactionConfig(), detector=Broken())


def test_presidio_requested_but_missing_is_a_start_up_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)  # import fails
    with pytest.raises(RedactionSetupError, match="presidio_analyzer cannot be imported"):
        build_detector(RedactionConfig(presidio=True))
    # without the flag nothing tries to import it
    assert build_detector(RedactionConfig()).detect(SECRET) == [Finding(E.EMAIL_ADDRESS, 0, 15)]


@dataclass
class _Result:
    entity_type: str
    start: int
    end: int


class FakeAnalyzer:
    """Stands in for presidio_analyzer.AnalyzerEngine (same call, same result fields)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, list[str]]] = []

    def analyze(self, *, text: str, language: str, entities: list[str]) -> list[_Result]:
        self.asked.append((text, language, entities))
        start = text.index("Ada Lovelace")
        return [_Result("PERSON", start, start + 12), _Result("PERSON", start, start + 3)]


def test_presidio_findings_merge_with_the_builtin_ones() -> None:
    from gateway.redaction.base import CombinedDetector
    from gateway.redaction.builtin import BuiltinDetector

    analyzer = FakeAnalyzer()
    detector = CombinedDetector(
        BuiltinDetector(), PresidioDetector([E.PERSON, E.LOCATION], analyzer=analyzer)
    )
    redactor = Redactor(
        RedactionConfig(presidio=True), registry=CollectorRegistry(), detector=detector
    )
    out = redactor.session().scan(f"Ada Lovelace <{SECRET}>")
    assert out == "<PERSON_1> <<EMAIL_ADDRESS_1>>"
    assert analyzer.asked[0][1:] == ("en", [E.LOCATION, E.PERSON])
