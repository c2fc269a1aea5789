"""How redaction refuses a request. The messages name entity types and counts, never values."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.errors import GatewayError


def describe(counts: Mapping[str, int]) -> str:
    """``CREDIT_CARD: 1, EMAIL_ADDRESS: 2`` (sorted by name)."""
    return ", ".join(f"{entity}: {n}" for entity, n in sorted(counts.items()))


class PIIDetected(GatewayError):
    """``block`` mode found personal data or secrets: 400 ``pii_detected``."""

    def __init__(self, counts: Mapping[str, int], *, where: str = "request") -> None:
        self.counts = dict(counts)
        super().__init__(
            400,
            f"the {where} contains personal data or secrets that this gateway blocks "
            f"({describe(self.counts)}); remove them and retry",
            code="pii_detected",
        )


class RedactionUnavailable(GatewayError):
    """Detection failed and the gateway fails closed: 503 ``redaction_unavailable``."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            503,
            f"personal-data redaction is unavailable ({reason}); the request was not sent to "
            "the model",
            type="server_error",
            code="redaction_unavailable",
        )


class RedactionSetupError(RuntimeError):
    """The redaction config asks for something this installation cannot do (start-up)."""
