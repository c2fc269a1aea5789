"""The residency matrix: key → OIDC claim → config default, never outside."""

from __future__ import annotations

import pytest

from gateway.context import Identity
from gateway.routing import decide
from tests.gateway.routing.test_selection import target

TARGETS = [
    target("eu-1", jurisdiction="eu"),
    target("ch-1", jurisdiction="ch"),
    target("us-1", jurisdiction="us"),
]
DEFAULT = frozenset({"eu"})


@pytest.mark.parametrize(
    ("kind", "jurisdictions", "source", "eligible"),
    [
        ("api_key", None, "default", ["eu-1"]),
        ("api_key", frozenset(), "default", ["eu-1"]),
        ("api_key", frozenset({"us"}), "key", ["us-1"]),
        ("api_key", frozenset({"eu", "ch"}), "key", ["eu-1", "ch-1"]),
        ("api_key", frozenset({"uk"}), "key", []),
        ("oidc", None, "default", ["eu-1"]),
        ("oidc", frozenset({"CH"}), "claim", ["ch-1"]),
        ("oidc", frozenset({"us", "eu", "ch"}), "claim", ["eu-1", "ch-1", "us-1"]),
        ("oidc", frozenset({"apac"}), "claim", []),
    ],
)
def test_matrix(
    kind: str, jurisdictions: frozenset[str] | None, source: str, eligible: list[str]
) -> None:
    identity = Identity(kind=kind, subject="s", jurisdictions=jurisdictions)  # type: ignore[arg-type]
    decision = decide(identity, TARGETS, DEFAULT)
    assert decision.source == source
    assert list(decision.eligible) == eligible
    excluded = {t.id for t in TARGETS} - set(eligible)
    assert {d for d, _ in decision.excluded} == excluded


def test_empty_default_denies_callers_naming_no_jurisdiction() -> None:
    decision = decide(Identity(kind="api_key", subject="s"), TARGETS, frozenset())
    assert decision.eligible == ()
    assert decision.allowed == frozenset()
