"""Errors raised by the audit trail.

:class:`AuditUnavailable` is what the request path sees when an event cannot be made
durable. It is a :class:`~gateway.errors.GatewayError` with status 503 and ``code``
``audit_unavailable``, so the gateway's one error handler answers with it: the gateway never
serves a request it could not audit.
The shipping errors never reach a client: they are reported to the shipper's failure
callback and retried.
"""

from __future__ import annotations

from gateway.errors import GatewayError

CLIENT_MESSAGE = (
    "the request was not served because its audit record could not be written; retry later"
)


class AuditError(Exception):
    """Base class of every audit error."""


class AuditUnavailable(GatewayError, AuditError):
    """The write-ahead file cannot be written: the request is refused with 503.

    The client sees a fixed message (``code: audit_unavailable``); ``detail`` (also the
    ``str()`` of the exception, for logs) names the file and the system error.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(503, CLIENT_MESSAGE, type="server_error", code="audit_unavailable")
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


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
