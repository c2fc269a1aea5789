"""Order a model's eligible deployments: by priority, then weighted random within one."""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import groupby

from gateway.routing.target import Target


def order(targets: Sequence[Target], rng: random.Random) -> list[Target]:
    """Lower ``priority`` first; within a priority, a weighted random permutation
    (Efraimidis-Spirakis: key ``u ** (1 / weight)``), weight-0 deployments last as spares.
    """
    if len(targets) < 2:
        return list(targets)
    ordered: list[Target] = []
    by_priority = sorted(targets, key=lambda t: t.deployment.priority)
    for _, group in groupby(by_priority, key=lambda t: t.deployment.priority):
        members = list(group)
        weighted = [t for t in members if t.deployment.weight > 0]
        spares = [t for t in members if t.deployment.weight == 0]
        weighted.sort(key=lambda t: rng.random() ** (1.0 / t.deployment.weight), reverse=True)
        ordered.extend(weighted)
        ordered.extend(spares)
    return ordered
