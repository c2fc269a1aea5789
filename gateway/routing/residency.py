"""Residency: which deployments a caller's jurisdictions allow.

The allowed jurisdictions come from the API key, else the OIDC claim, else the config
default. A deployment outside them is never chosen; when none remains the request is
refused before any upstream call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway.context import Identity, ResidencyDecision, ResidencySource
from gateway.routing.target import Target


def normalise(jurisdictions: Iterable[str]) -> frozenset[str]:
    return frozenset(j.strip().lower() for j in jurisdictions if j.strip())


def decide(
    identity: Identity, targets: Sequence[Target], default: frozenset[str]
) -> ResidencyDecision:
    source: ResidencySource = "default"
    allowed = default
    if identity.jurisdictions:
        source = "key" if identity.kind == "api_key" else "claim"
        allowed = normalise(identity.jurisdictions)
    return ResidencyDecision(
        source=source,
        allowed=allowed,
        eligible=tuple(t.id for t in targets if t.jurisdiction in allowed),
        excluded=tuple((t.id, t.jurisdiction) for t in targets if t.jurisdiction not in allowed),
    )
