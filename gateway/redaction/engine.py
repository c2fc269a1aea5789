"""The redactor the gateway builds once at start-up; it opens one session per request."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from gateway.redaction import entities as E
from gateway.redaction.base import CombinedDetector, Detector
from gateway.redaction.builtin import BuiltinDetector
from gateway.redaction.config import RedactionConfig
from gateway.redaction.presidio_backend import PresidioDetector
from gateway.redaction.session import RequestRedaction

FAIL_OPEN_METRIC = "gatehouse_redaction_fail_open"
"""exported as ``gatehouse_redaction_fail_open_total``"""


def build_detector(config: RedactionConfig) -> Detector:
    """The built-in detector, plus Presidio for NER entities when the config asks for it.

    Raises :class:`~gateway.redaction.errors.RedactionSetupError` when Presidio is asked
    for and missing: at start-up, not on the first request.
    """
    wanted = config.detected_entities
    builtin = BuiltinDetector(wanted & E.BUILTIN)
    ner = wanted & E.NER
    if not config.presidio or not ner:
        return builtin
    return CombinedDetector(builtin, PresidioDetector(ner))


class Redactor:
    """``registry`` receives the fail-open counter, unless ``fail_open_total`` is given."""

    def __init__(
        self,
        config: RedactionConfig,
        *,
        registry: CollectorRegistry | None = None,
        fail_open_total: Counter | None = None,
        detector: Detector | None = None,
    ) -> None:
        if fail_open_total is None:
            if registry is None:
                raise TypeError("Redactor needs a CollectorRegistry or a fail_open_total counter")
            fail_open_total = Counter(
                FAIL_OPEN_METRIC,
                "Requests let through unredacted because detection failed and "
                "redaction.fail_open is true",
                registry=registry,
            )
        self.config = config
        self.fail_open_total = fail_open_total
        self.detector = detector if detector is not None else build_detector(config)

    def session(self, *, key_mode: str | None = None, team: str | None = None) -> RequestRedaction:
        """A fresh per-request session; the key's mode beats its team's, which beats the
        default. An unknown key mode raises ``ValueError`` (the caller fails closed)."""
        return RequestRedaction(  # positionally: a class called with keywords costs more
            self.detector,
            self.config.mode_for(key_mode=key_mode, team=team),
            self.config.reversible,
            self.config.fail_open,
            self.fail_open_total.inc,
        )
