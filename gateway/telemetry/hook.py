"""The telemetry hook: metrics and a span for every request, and never an error.

Registered first in :data:`gateway.hooks.HOOK_FACTORIES` (outermost) so that it hears every
outcome: its ``on_complete`` runs last, after the ledger settled the cost; refusals by any
later hook's ``on_admitted`` reach its ``on_failed``; refusals before admission (credential,
body, model, residency) reach its ``on_refused``. Each method catches and logs its own
errors, so a broken collector or metric can never change a response.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.events import Event
from gateway.hooks import Hook, HookServices
from gateway.routing import Target
from gateway.telemetry.metrics import GatewayMetrics
from gateway.telemetry.traces import TRACER_NAME, build_tracer_provider, record_span

log = logging.getLogger("gateway.telemetry")

_RECORDED = "telemetry.recorded"


class TelemetryHook(Hook):
    name = "telemetry"

    def __init__(self, metrics: GatewayMetrics, provider: TracerProvider | None = None) -> None:
        self.metrics = metrics
        self.provider = provider
        self._tracer = provider.get_tracer(TRACER_NAME) if provider is not None else None

    async def shutdown(self) -> None:
        if self.provider is not None:
            # flushes queued spans; the exporter's own timeout bounds it
            await asyncio.to_thread(self.provider.shutdown)

    async def on_complete(self, ctx: RequestContext) -> None:
        self._record(ctx, ctx.status or 200, None)

    async def on_failed(self, ctx: RequestContext, error: GatewayError) -> None:
        self._record(ctx, error.status, error)

    async def on_refused(self, ctx: RequestContext, error: GatewayError) -> None:
        self._record(ctx, error.status, error)

    def _record(self, ctx: RequestContext, status: int, error: GatewayError | None) -> None:
        if ctx.state.get(_RECORDED):
            return
        ctx.state[_RECORDED] = True
        try:
            self.metrics.record(ctx, status, error)
        except Exception:
            log.exception("telemetry: recording metrics of %s failed", ctx.request_id)
        if self._tracer is not None:
            try:
                record_span(self._tracer, ctx, status, error)
            except Exception:
                log.exception("telemetry: recording the span of %s failed", ctx.request_id)


def _watch_circuit(metrics: GatewayMetrics, target: Target) -> None:
    def changed(_name: str, state: str) -> None:
        metrics.set_circuit(target.model, target.id, state)

    metrics.set_circuit(target.model, target.id, target.breaker.state)
    target.breaker.subscribe(changed)


def _count_events(metrics: GatewayMetrics, event: Event) -> None:
    metrics.events(event.type).inc()


def build_telemetry_hook(
    services: HookServices, *, span_exporter: SpanExporter | None = None
) -> TelemetryHook:
    """The hook factory listed in ``HOOK_FACTORIES``; ``span_exporter`` replaces the
    configured OTLP exporter (tests, embedding)."""
    config = services.config.telemetry
    metrics = GatewayMetrics(services.registry, [m.name for m in services.config.models])
    for targets in services.routes.values():
        for target in targets:
            _watch_circuit(metrics, target)
    services.events.subscribe(functools.partial(_count_events, metrics))
    provider = build_tracer_provider(config, services.environ, span_exporter)
    return TelemetryHook(metrics, provider)
