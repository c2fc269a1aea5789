"""PII and secret redaction that fails closed.

Public API:

* :class:`RedactionConfig`: the ``redaction:`` config section;
* :class:`Redactor`: built once at start-up; ``Redactor(config, registry=...)`` and
  ``redactor.session(key_mode=..., team=...)`` per request;
* :class:`RequestRedaction`: one request's mode, placeholders and findings;
* :class:`BuiltinDetector` (no model needed), :class:`PresidioDetector` (optional NER);
* :class:`RedactionHook` / :func:`build_redaction_hook`: the gateway hook;
* :class:`PIIDetected` (400 ``pii_detected``), :class:`RedactionUnavailable` (503
  ``redaction_unavailable``), :class:`RedactionSetupError` (start-up).

Entity names are in :mod:`gateway.redaction.entities`.
"""

from gateway.redaction.base import Detector, Finding
from gateway.redaction.builtin import BuiltinDetector
from gateway.redaction.config import RedactionConfig
from gateway.redaction.engine import Redactor, build_detector
from gateway.redaction.errors import PIIDetected, RedactionSetupError, RedactionUnavailable
from gateway.redaction.hook import RedactionHook, build_redaction_hook
from gateway.redaction.presidio_backend import PresidioDetector
from gateway.redaction.session import RequestRedaction

__all__ = [
    "BuiltinDetector",
    "Detector",
    "Finding",
    "PIIDetected",
    "PresidioDetector",
    "RedactionConfig",
    "RedactionHook",
    "RedactionSetupError",
    "RedactionUnavailable",
    "Redactor",
    "RequestRedaction",
    "build_detector",
    "build_redaction_hook",
]
