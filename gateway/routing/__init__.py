"""Routing: residency filter, weighted priority order, circuit breakers, retries and fallback."""

from gateway.routing.breaker import CircuitBreaker
from gateway.routing.failover import Failover
from gateway.routing.residency import decide
from gateway.routing.selection import order
from gateway.routing.target import Target

__all__ = ["CircuitBreaker", "Failover", "Target", "decide", "order"]
