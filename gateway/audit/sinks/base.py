"""The sink protocol and the one idempotent copy rule every sink shares.

A sink stores immutable objects by name. ``put_new`` creates an object only if the name is
free (and applies the WORM retention in the same call where the service allows it);
``protect`` makes sure an existing object carries its retention. :func:`ship_object` is the
rule the shipper follows: an object already present with the same bytes is success (a
restart after a crash re-ships without duplicating), different bytes are a
:class:`~gateway.audit.errors.ShipConflict` and are never overwritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from gateway.audit.errors import ShipConflict, ShipError


class Sink(Protocol):
    """Immutable object storage for closed segments; blocking calls."""

    @property
    def url(self) -> str:
        """Where this sink points, for messages."""
        ...

    def get(self, name: str) -> bytes | None:
        """The object's bytes, or ``None`` when there is no such object."""
        ...

    def put_new(self, name: str, data: bytes, retain_until: datetime) -> bool:
        """Create the object; ``False`` when the name is already taken."""
        ...

    def protect(self, name: str, retain_until: datetime) -> None:
        """Make sure the object is under WORM retention (no-op where ``put_new`` did it)."""
        ...

    def list(self) -> list[str]:
        """Names of all objects under the sink's prefix, relative to it."""
        ...


def ship_object(
    sink: Sink, name: str, data: bytes, retain_until: datetime
) -> Literal["written", "present"]:
    """Copy ``data`` to ``name`` exactly once (see the module docstring)."""
    existing = sink.get(name)
    outcome: Literal["written", "present"] = "present"
    if existing is None:
        if sink.put_new(name, data, retain_until):
            outcome = "written"
        else:
            existing = sink.get(name)
            if existing is None:
                raise ShipError(f"{sink.url}: {name} was reported present but cannot be read")
    if existing is not None and existing != data:
        raise ShipConflict(
            f"{sink.url}: {name} already exists with different content "
            f"({len(existing)} bytes, expected {len(data)}); it was not overwritten"
        )
    sink.protect(name, retain_until)
    return outcome
