"""Traces: one span per request, with the OpenTelemetry GenAI semantic conventions.

The app owns its :class:`TracerProvider` (the global one is never touched), so two gateways
in one process, or two tests, never share spans. Spans are handed to a
:class:`BatchSpanProcessor`, which queues them and exports from a background thread: a slow
or failing collector can delay or drop spans, never a request.

A span is written when its request finishes, with the request's real start time:

* name ``"{gen_ai.operation.name} {gen_ai.request.model}"`` (``chat chat-eu``), kind CLIENT;
* ``gen_ai.operation.name`` (``chat``/``embeddings``), ``gen_ai.provider.name`` (the
  convention's value for the deployment's provider), ``gen_ai.request.model`` (the alias the
  client asked for), ``gen_ai.response.model`` (the model the deployment serves),
  ``gen_ai.usage.input_tokens`` / ``gen_ai.usage.output_tokens``, ``gen_ai.request.*``
  parameters the client set;
* ``gatehouse.deployment.id`` / ``.region`` / ``.jurisdiction``, ``gatehouse.team``,
  ``gatehouse.cost_center``, ``gatehouse.key_id`` (API keys only), ``gatehouse.request_id``,
  ``gatehouse.attempts``, ``gatehouse.cost`` / ``gatehouse.currency`` once settled;
* one ``gatehouse.upstream_attempt`` event per upstream try;
* on failure: status ERROR with the error message, and ``error.type`` (the error code).

Prompts and completions are never put on spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.re import parse_env_headers
from opentelemetry.util.types import AttributeValue

from gateway.config import ConfigError
from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.telemetry.config import TelemetryConfig
from gateway.telemetry.metrics import USAGE_KEY

_providers = gen_ai.GenAiProviderNameValues
PROVIDER_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "openai": _providers.OPENAI.value,
        "azure_openai": _providers.AZURE_AI_OPENAI.value,
        "bedrock": _providers.AWS_BEDROCK.value,
        "anthropic": _providers.ANTHROPIC.value,
    }
)
"""gateway provider -> ``gen_ai.provider.name`` well-known value"""

REQUEST_PARAMETERS: Mapping[str, str] = MappingProxyType(
    {
        "max_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
        "max_completion_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": gen_ai.GEN_AI_REQUEST_TEMPERATURE,
        "top_p": gen_ai.GEN_AI_REQUEST_TOP_P,
        "seed": gen_ai.GEN_AI_REQUEST_SEED,
    }
)
"""numeric body fields copied to ``gen_ai.request.*``"""

TRACER_NAME = "gateway.telemetry"


def build_tracer_provider(
    config: TelemetryConfig,
    environ: Mapping[str, str],
    exporter: SpanExporter | None = None,
) -> TracerProvider | None:
    """The app's tracer provider, exporting to ``exporter`` or else to the configured OTLP
    endpoint; ``None`` (tracing off) when neither is given."""
    if exporter is None:
        url = config.traces_url()
        if url is None:
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(
            endpoint=url,
            headers=_headers(config, environ),
            timeout=config.otlp_timeout_seconds,
        )
    resource = Resource.create({"service.name": config.service_name, **config.resource_attributes})
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(config.sample_ratio))
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _headers(config: TelemetryConfig, environ: Mapping[str, str]) -> dict[str, str]:
    name = config.otlp_headers_env
    if name is None:
        return {}
    value = environ.get(name, "")
    if not value:
        raise ConfigError(
            f"telemetry.otlp_headers_env: environment variable {name} is unset or empty; "
            "expected export headers as k1=v1,k2=v2"
        )
    return dict(parse_env_headers(value, liberal=True))


def _served_model(ctx: RequestContext) -> str | None:
    deployment = ctx.deployment
    if deployment is None:
        return None
    served = getattr(deployment, "model", None) or getattr(deployment, "deployment", None)
    return served if isinstance(served, str) else None


def span_attributes(ctx: RequestContext, status: int) -> dict[str, AttributeValue]:
    """Everything the span of ``ctx`` carries (``None`` values left out)."""
    attrs: dict[str, AttributeValue | None] = {
        gen_ai.GEN_AI_OPERATION_NAME: ctx.op,
        gen_ai.GEN_AI_REQUEST_MODEL: ctx.model,
        gen_ai.GEN_AI_RESPONSE_MODEL: _served_model(ctx),
        HTTP_RESPONSE_STATUS_CODE: status,
        "gatehouse.request_id": ctx.request_id,
        "gatehouse.stream": ctx.stream,
        "gatehouse.attempts": len(ctx.attempts),
    }
    if ctx.deployment is not None:
        attrs[gen_ai.GEN_AI_PROVIDER_NAME] = PROVIDER_NAMES.get(
            ctx.deployment.provider, ctx.deployment.provider
        )
        attrs["gatehouse.deployment.id"] = ctx.deployment_id
        attrs["gatehouse.deployment.region"] = ctx.region
        attrs["gatehouse.deployment.jurisdiction"] = ctx.jurisdiction
    identity = ctx.identity
    if identity is not None:
        attrs["gatehouse.team"] = identity.team
        attrs["gatehouse.cost_center"] = identity.cost_center
        if identity.kind == "api_key":
            attrs["gatehouse.key_id"] = identity.subject
    if ctx.residency is not None:
        attrs["gatehouse.residency.source"] = ctx.residency.source
        attrs["gatehouse.residency.allowed"] = sorted(ctx.residency.allowed)
    usage = ctx.usage or {}
    for key, name in (
        ("prompt_tokens", gen_ai.GEN_AI_USAGE_INPUT_TOKENS),
        ("completion_tokens", gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS),
    ):
        value = usage.get(key)
        if isinstance(value, int):
            attrs[name] = value
    body = ctx.body or {}
    for key, name in REQUEST_PARAMETERS.items():
        value = body.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[name] = value
    settled = ctx.state.get(USAGE_KEY)
    if settled is not None and getattr(settled, "cost", None) is not None:
        attrs["gatehouse.cost"] = float(settled.cost)
        attrs["gatehouse.currency"] = str(getattr(settled, "currency", ""))
    return {k: v for k, v in attrs.items() if v is not None}


def record_span(
    tracer: Tracer, ctx: RequestContext, status: int, error: GatewayError | None
) -> None:
    """Write the finished request's span (started at its arrival, ended now)."""
    name = " ".join(part for part in (ctx.op, ctx.model) if part) or "gatehouse request"
    span = tracer.start_span(name, kind=SpanKind.CLIENT, start_time=int(ctx.received_at * 1e9))
    if not span.is_recording():
        return  # sampled out: nothing of it is kept, so nothing is gathered
    span.set_attributes(span_attributes(ctx, status))
    for attempt in ctx.attempts:
        event: dict[str, AttributeValue] = {
            "gatehouse.deployment.id": attempt.deployment_id,
            "gatehouse.seconds": round(attempt.seconds, 6),
        }
        if attempt.status is not None:
            event[HTTP_RESPONSE_STATUS_CODE] = attempt.status
        if attempt.error is not None:
            event["gatehouse.error"] = attempt.error
        span.add_event("gatehouse.upstream_attempt", event)
    if error is not None:
        span.set_attribute(ERROR_TYPE, error.code or str(error.status))
        span.set_status(Status(StatusCode.ERROR, error.message))
    span.end()
