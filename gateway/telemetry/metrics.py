"""The gateway's Prometheus metrics, registered on the app's own registry.

Label values are bounded by the config, never by callers: ``model`` is a configured alias
(anything else is ``other``), ``deployment`` a configured deployment id (``<alias>#<index>``),
``team`` the caller's team, ``code`` an error code of the gateway's own vocabulary. No
request id and no key id is ever a label.

=========================================  ======================================================
metric                                     meaning
=========================================  ======================================================
``gatehouse_requests_total``               requests by model, deployment (the one that answered,
                                           else the last one tried), HTTP status and team
``gatehouse_request_duration_seconds``     arrival to the last byte (streams: to the end)
``gatehouse_gateway_overhead_seconds``     time spent in the gateway itself, upstream waits
                                           and retry back-off excluded (non-streamed requests)
``gatehouse_tokens_total``                 tokens the upstream reported, ``type`` input/output
``gatehouse_cost_total``                   settled cost, in ``currency``; read from the
                                           ``ledger.usage`` entry of ``ctx.state`` (an object
                                           with ``cost`` and ``currency``) when the ledger set it
``gatehouse_upstream_errors_total``        failed upstream attempts, by deployment and status
``gatehouse_circuit_state``                0 closed, 1 half-open, 2 open; one per deployment
``gatehouse_redactions_total``             redacted entities by type; read from the
                                           ``redaction.findings`` entry of ``ctx.state``
                                           (entity type -> count)
``gatehouse_rejections_total``             requests the gateway refused itself, before any
                                           upstream attempt, by error code
                                           (``budget_exceeded``, ``rate_limit_exceeded``,
                                           ``residency_violation``, ``invalid_api_key``, ...)
``gatehouse_events_total``                 operational events published (webhook sources)
=========================================  ======================================================
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import TypeGuard, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.telemetry.families import (
    CACHED_LABELS,
    CounterSeries,
    HistogramSeries,
    LoopCounter,
    LoopHistogram,
)

USAGE_KEY = "ledger.usage"
"""``ctx.state`` entry the ledger sets: an object with ``cost`` (Decimal) and ``currency``"""
FINDINGS_KEY = "redaction.findings"
"""``ctx.state`` entry the redaction hook sets: entity type -> number of findings"""

CIRCUIT_STATES: Mapping[str, int] = MappingProxyType({"closed": 0, "half_open": 1, "open": 2})
NONE = "none"
_NUMBER = (Decimal, int, float)
_MAPPINGS = (dict, Mapping)
"""dict first: checking the Mapping ABC costs more than the dict it usually is"""
OTHER = "other"

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0015, 0.0025, 0.005, 0.01, 0.025, 0.1)


CACHED_CHILDREN = 4096
"""children cached per family; label values are bounded by the config, so this bounds the
cache's memory, not the series a family may hold"""

Family = TypeVar("Family", Counter, Gauge, Histogram)


def cached_children(family: Family) -> Callable[..., Family]:
    """``family.labels``, with the children cached: ``labels()`` costs several times the
    increment (used by the families updated outside the request path)."""
    return functools.lru_cache(CACHED_CHILDREN)(family.labels)


def deployment_label(ctx: RequestContext) -> str:
    """The deployment that answered, else the last one tried, else ``none``."""
    if ctx.deployment_id is not None:
        return ctx.deployment_id
    return ctx.attempts[-1].deployment_id if ctx.attempts else NONE


def _count(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a count worth adding: an integer (not a bool), not zero."""
    if type(value) is int:
        return value != 0
    return isinstance(value, int) and not isinstance(value, bool) and value != 0


class _Route:
    """The series every request of one model, deployment, status and team updates, found
    with one lookup. Each is taken from its family on its first update (the overhead of a
    stream and a count of zero make none), so a series exists only once it was updated."""

    __slots__ = (
        "_input",
        "_metrics",
        "_model",
        "_output",
        "_overhead",
        "_tokens",
        "duration",
        "requests",
    )

    def __init__(
        self, metrics: GatewayMetrics, model: str, deployment: str, status: int, team: str
    ) -> None:
        self._metrics = metrics
        self._model = (model,)
        self._tokens = (model, deployment, team)
        self.requests = metrics.requests.series((model, deployment, status, team))
        self.duration = metrics.duration.series((model, deployment))
        self._overhead: HistogramSeries | None = None
        self._input: CounterSeries | None = None
        self._output: CounterSeries | None = None

    def overhead(self) -> HistogramSeries:
        if self._overhead is None:
            self._overhead = self._metrics.overhead.series(self._model)
        return self._overhead

    def input_tokens(self) -> CounterSeries:
        if self._input is None:
            self._input = self._metrics.tokens.series((*self._tokens, "input"))
        return self._input

    def output_tokens(self) -> CounterSeries:
        if self._output is None:
            self._output = self._metrics.tokens.series((*self._tokens, "output"))
        return self._output


class GatewayMetrics:
    """Every metric family of the request path; :meth:`record` is called once per request,
    on the event loop's thread (the request path's families are
    :mod:`gateway.telemetry.families`: plain numbers, no lock)."""

    def __init__(self, registry: CollectorRegistry, models: Iterable[str]) -> None:
        self._models = frozenset(models)
        self._routes: dict[tuple[str, str, int, str], _Route] = {}
        self.requests = LoopCounter(
            "gatehouse_requests",
            "Requests by model alias, deployment, HTTP status and team",
            ["model", "deployment", "status", "team"],
            registry=registry,
        )
        self.duration = LoopHistogram(
            "gatehouse_request_duration_seconds",
            "Request latency, arrival to the last byte",
            ["model", "deployment"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.overhead = LoopHistogram(
            "gatehouse_gateway_overhead_seconds",
            "Time spent in the gateway, excluding upstream waits and retry back-off "
            "(non-streamed requests)",
            ["model"],
            buckets=OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.tokens = LoopCounter(
            "gatehouse_tokens",
            "Tokens reported by the upstream",
            ["model", "deployment", "team", "type"],
            registry=registry,
        )
        self.cost = LoopCounter(
            "gatehouse_cost",
            "Settled cost of requests, in the gateway's currency",
            ["model", "deployment", "team", "currency"],
            registry=registry,
        )
        self.upstream_errors = LoopCounter(
            "gatehouse_upstream_errors",
            "Failed upstream attempts by deployment and status",
            ["deployment", "status"],
            registry=registry,
        )
        self.circuit = cached_children(
            Gauge(
                "gatehouse_circuit_state",
                "Circuit breaker state per deployment: 0 closed, 1 half-open, 2 open",
                ["model", "deployment"],
                registry=registry,
            )
        )
        self.redactions = LoopCounter(
            "gatehouse_redactions",
            "Entities redacted from prompts, by entity type",
            ["entity"],
            registry=registry,
        )
        self.rejections = LoopCounter(
            "gatehouse_rejections",
            "Requests refused by the gateway before any upstream attempt, by error code",
            ["code"],
            registry=registry,
        )
        self.events = cached_children(
            Counter(
                "gatehouse_events",
                "Operational events published (budget thresholds, residency refusals, ...)",
                ["type"],
                registry=registry,
            )
        )

    def model_label(self, model: str | None) -> str:
        if model is None:
            return NONE
        return model if model in self._models else OTHER

    def set_circuit(self, model: str, deployment: str, state: str) -> None:
        self.circuit(model, deployment).set(CIRCUIT_STATES.get(state, -1))

    def _route(self, model: str, deployment: str, status: int, team: str) -> _Route:
        route = _Route(self, model, deployment, status, team)
        if len(self._routes) < CACHED_LABELS:
            self._routes[(model, deployment, status, team)] = route
        return route

    def record(self, ctx: RequestContext, status: int, error: GatewayError | None) -> None:
        """Count one finished request (answered, failed or refused)."""
        model = self.model_label(ctx.model)
        deployment = deployment_label(ctx)
        team = (ctx.identity.team if ctx.identity is not None else None) or NONE
        # label values are passed as they are: the families turn them into strings
        route = self._routes.get((model, deployment, status, team))
        if route is None:
            route = self._route(model, deployment, status, team)
        route.requests.inc()
        route.duration.observe(time.perf_counter() - ctx.started)
        if not ctx.stream:
            route.overhead().observe(ctx.overhead_ms() / 1000.0)
        usage = ctx.usage
        if usage:
            count = usage.get("prompt_tokens")
            if _count(count):
                route.input_tokens().inc(count)
            count = usage.get("completion_tokens")
            if _count(count):
                route.output_tokens().inc(count)
        state = ctx.state
        settled = state.get(USAGE_KEY)
        if settled is not None:
            cost = getattr(settled, "cost", None)
            if isinstance(cost, _NUMBER) and cost > 0:
                currency = str(getattr(settled, "currency", "") or NONE)
                self.cost.inc((model, deployment, team, currency), float(cost))
        for attempt in ctx.attempts:
            if attempt.error is not None:
                self.upstream_errors.inc((attempt.deployment_id, attempt.status))
        findings = state.get(FINDINGS_KEY)
        if findings and isinstance(findings, _MAPPINGS):
            for entity, count in findings.items():
                if _count(count):
                    self.redactions.inc((entity,), count)
        if error is not None and not ctx.attempts:
            self.rejections.inc((error.code or NONE,))
