"""Deployment order: priorities first, then weights."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from gateway.config import OpenAIDeployment
from gateway.routing import CircuitBreaker, Target, order


class NoAdapter:
    provider = "openai"


def target(name: str, *, priority: int = 0, weight: int = 1, jurisdiction: str = "eu") -> Target:
    deployment = OpenAIDeployment(
        provider="openai",
        base_url="http://127.0.0.1:1/v1",
        model=name,
        region="r",
        jurisdiction=jurisdiction,
        priority=priority,
        weight=weight,
    )
    adapter: Any = NoAdapter()
    return Target(name, "chat", deployment, adapter, CircuitBreaker(name, 5, 30))


def test_priorities_come_first() -> None:
    rng = random.Random(1)
    targets = [target("backup", priority=1), target("main", priority=0), target("last", priority=2)]
    for _ in range(20):
        assert [t.id for t in order(targets, rng)] == ["main", "backup", "last"]


def test_weights_share_traffic_within_a_priority() -> None:
    rng = random.Random(7)
    targets = [target("a", weight=3), target("b", weight=1)]
    firsts = Counter(order(targets, rng)[0].id for _ in range(4000))
    assert 0.70 < firsts["a"] / 4000 < 0.80  # 3:1 → 75 %
    assert all(len(order(targets, rng)) == 2 for _ in range(10))  # the other stays as fallback


def test_weight_zero_is_a_spare() -> None:
    rng = random.Random(3)
    targets = [target("spare", weight=0), target("a"), target("b")]
    for _ in range(50):
        assert order(targets, rng)[-1].id == "spare"


def test_target_jurisdiction_is_normalised() -> None:
    assert target("x", jurisdiction="EU").jurisdiction == "eu"
