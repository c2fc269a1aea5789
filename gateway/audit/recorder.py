"""How admin endpoints reach the audit trail: the recorder protocol and its lookup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from gateway.audit.events import DetailValue, Principal

ADMIN_ACTOR = Principal(subject="admin")
"""Admin endpoints authenticate with the bootstrap admin key: that is the actor."""


@runtime_checkable
class AdminRecorder(Protocol):
    """What records admin changes durably (the audit hook's ``admin_change``)."""

    async def admin_change(
        self,
        *,
        actor: Principal,
        action: str,
        target: str,
        details: Mapping[str, DetailValue] | None = None,
        request_id: str | None = None,
    ) -> object: ...


def find_recorder(hooks: Sequence[object]) -> AdminRecorder | None:
    """The first hook that records admin changes, if any."""
    return next((h for h in hooks if isinstance(h, AdminRecorder)), None)
