"""Errors raised by the audit trail.

:class:`AuditUnavailable` is what the request path sees when an event cannot be made
durable; it carries ``status`` 503 and ``code`` ``audit_unavailable`` so the gateway's error
handler answers with them (the gateway never serves a request it could not audit).
The shipping errors never reach a client: they are reported to the shipper's failure
callback and retried.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every audit error."""


class AuditUnavailable(AuditError):
    """The write-ahead file cannot be written: the request must be refused with 503."""

    status = 503
    type = "service_unavailable"
    code = "audit_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuditConfigError(AuditError):
    """The audit configuration or signing key is unusable (names the setting and value)."""


class ShipError(AuditError):
    """A closed segment could not be copied to the sink (retried with back-off)."""


class ShipConflict(ShipError):
    """The sink already holds an object of that name with different content: an alarm.

    Object names are derived from the trail and segment number, so a different object under
    the same name means the sink or the local write-ahead directory was tampered with, or two
    gateways share one trail id. The shipper never overwrites it.
    """
