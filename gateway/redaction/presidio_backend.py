"""Optional NER entities (PERSON, LOCATION) from Microsoft Presidio's AnalyzerEngine.

Used only when ``redaction.presidio: true``. Presidio is not a dependency: when the config
asks for it and ``presidio_analyzer`` cannot be imported, the gateway refuses to start with
:class:`~gateway.redaction.errors.RedactionSetupError` rather than run without the entities
the operator asked for. Its default NLP engine loads the spaCy model ``en_core_web_lg``,
which must be installed beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.redaction.base import Finding, merge
from gateway.redaction.errors import RedactionSetupError

MISSING = (
    "redaction.presidio is true but presidio_analyzer cannot be imported; install "
    "presidio-analyzer and its spaCy model (python -m spacy download en_core_web_lg), or set "
    "redaction.presidio: false"
)


class PresidioDetector:
    """Finds ``entities`` with Presidio; ``analyzer`` replaces the default AnalyzerEngine."""

    def __init__(
        self, entities: Iterable[str], *, analyzer: Any = None, language: str = "en"
    ) -> None:
        if analyzer is None:
            try:
                from presidio_analyzer import AnalyzerEngine
            except ImportError as exc:
                raise RedactionSetupError(MISSING) from exc
            analyzer = AnalyzerEngine()
        self._analyzer = analyzer
        self._entities = sorted(entities)
        self._language = language

    def detect(self, text: str) -> list[Finding]:
        results = self._analyzer.analyze(
            text=text, language=self._language, entities=self._entities
        )
        found = [Finding(str(r.entity_type), int(r.start), int(r.end)) for r in results]
        return merge(found, [])
