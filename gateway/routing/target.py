"""A routable deployment: its config, its adapter and its circuit breaker."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config import Deployment
from gateway.providers.base import Adapter
from gateway.routing.breaker import CircuitBreaker


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    id: str
    """``<model alias>#<index in the config>``, stable across restarts"""
    model: str
    deployment: Deployment
    adapter: Adapter
    breaker: CircuitBreaker
    jurisdiction: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "jurisdiction", self.deployment.jurisdiction.lower())
