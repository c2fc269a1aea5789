"""Spans: one per request, GenAI semantic conventions, checked with the in-memory exporter;
OTLP export to a loopback collector; a failing exporter never touches a response."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway.config import ConfigError, GatewayConfig, parse_config
from gateway.context import Identity, RequestContext
from gateway.hooks import HookServices
from gateway.store import Store
from gateway.telemetry import traces
from gateway.telemetry.hook import TelemetryHook, build_telemetry_hook
from gateway.telemetry.traces import (
    TRACER_NAME,
    build_tracer_provider,
    record_span,
    span_attributes,
)
from tests.gateway.conftest import (
    ADMIN_KEY,
    Gateway,
    gateway_config,
    openai_deployment,
    run_gateway,
    sqlite_store,
)
from tests.gateway.fakes.openai import FakeOpenAI, Reply
from tests.gateway.fakes.server import serve

Fake = tuple[FakeOpenAI, str]
ENV = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY}


def _config(tmp_path: Path, base_url: str, **overrides: Any) -> GatewayConfig:
    return gateway_config(
        sqlite_store(tmp_path),
        {
            "chat-eu": [openai_deployment(base_url, region="sweden-central")],
            "embed-eu": [openai_deployment(base_url, model="bge-m3")],
        },
        **overrides,
    )


@contextmanager
def traced_gateway(
    config: GatewayConfig, exporter: SpanExporter, env: dict[str, str] | None = None
) -> Iterator[tuple[Gateway, TelemetryHook]]:
    """A gateway whose only hook is telemetry, exporting to ``exporter``."""
    env = env or ENV
    store = Store(config.store)
    hook = build_telemetry_hook(HookServices(config, env, store), span_exporter=exporter)
    with run_gateway(config, environ=env, hooks=[hook], store=store) as gw:
        yield gw, hook


def finished(hook: TelemetryHook, exporter: InMemorySpanExporter) -> Sequence[ReadableSpan]:
    assert hook.provider is not None
    assert hook.provider.force_flush(5_000)
    return exporter.get_finished_spans()


def test_chat_span_carries_the_genai_conventions(tmp_path: Path, fake_openai: Fake) -> None:
    exporter = InMemorySpanExporter()
    with traced_gateway(_config(tmp_path, fake_openai[1]), exporter) as (gw, hook):
        key = gw.create_key(team="risk", cost_center="cc-42")
        before = time.time_ns()
        result = gw.client(key).chat.completions.create(
            model="chat-eu",
            messages=[{"role": "user", "content": "one two three"}],
            max_tokens=50,
            temperature=0.2,
        )
        assert result.choices[0].message.content == "echo: one two three"
        (span,) = finished(hook, exporter)
    assert span.name == "chat chat-eu"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "chat-eu"
    assert attrs["gen_ai.response.model"] == "llama-3.1-8b"
    assert attrs["gen_ai.usage.input_tokens"] == 3
    assert attrs["gen_ai.usage.output_tokens"] == 4
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.temperature"] == pytest.approx(0.2)
    assert attrs["gatehouse.deployment.region"] == "sweden-central"
    assert attrs["gatehouse.deployment.jurisdiction"] == "eu"
    assert attrs["gatehouse.deployment.id"] == "chat-eu#0"
    assert attrs["gatehouse.team"] == "risk"
    assert attrs["gatehouse.cost_center"] == "cc-42"
    assert attrs["gatehouse.request_id"] == result._request_id
    assert attrs["http.response.status_code"] == 200
    assert "error.type" not in attrs
    # the span starts when the request arrived, not when it was recorded
    assert span.start_time is not None and span.end_time is not None
    assert before - 50_000_000 <= span.start_time < span.end_time <= time.time_ns()
    assert span.resource.attributes["service.name"] == "gatehouse"
    # no prompt or completion text on the span
    assert not any("one two three" in str(v) for v in attrs.values())


def test_streamed_and_embedding_spans(tmp_path: Path, fake_openai: Fake) -> None:
    exporter = InMemorySpanExporter()
    with traced_gateway(_config(tmp_path, fake_openai[1]), exporter) as (gw, hook):
        client = gw.client(gw.create_key())
        chunks = list(
            client.chat.completions.create(
                model="chat-eu", messages=[{"role": "user", "content": "a b"}], stream=True
            )
        )
        assert chunks
        client.embeddings.create(model="embed-eu", input=["x", "y"])
        spans = sorted(finished(hook, exporter), key=lambda s: s.start_time or 0)
    stream, embedding = spans
    assert stream.name == "chat chat-eu"
    assert stream.attributes is not None
    assert stream.attributes["gatehouse.stream"] is True
    assert stream.attributes["gen_ai.usage.input_tokens"] == 2
    assert stream.attributes["gen_ai.usage.output_tokens"] == 3
    assert embedding.name == "embeddings embed-eu"
    assert embedding.attributes is not None
    assert embedding.attributes["gen_ai.operation.name"] == "embeddings"
    assert embedding.attributes["gen_ai.response.model"] == "bge-m3"
    assert embedding.attributes["gen_ai.usage.input_tokens"] == 2


def test_upstream_failure_marks_the_span_as_error(tmp_path: Path, fake_openai: Fake) -> None:
    fake, base_url = fake_openai
    exporter = InMemorySpanExporter()
    with traced_gateway(_config(tmp_path, base_url), exporter) as (gw, hook):
        fake.queue(Reply(status=503), Reply(status=503))
        response = gw.post(
            "/v1/chat/completions",
            gw.create_key(),
            json={"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 502
        (span,) = finished(hook, exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == response.json()["error"]["message"]
    assert span.attributes is not None
    assert span.attributes["error.type"] == response.json()["error"]["code"]
    assert span.attributes["http.response.status_code"] == 502
    assert span.attributes["gatehouse.attempts"] == 2
    attempts = [e for e in span.events if e.name == "gatehouse.upstream_attempt"]
    assert [(e.attributes or {}).get("http.response.status_code") for e in attempts] == [503, 503]


def test_refusal_before_admission_is_traced(tmp_path: Path, fake_openai: Fake) -> None:
    fake, base_url = fake_openai
    exporter = InMemorySpanExporter()
    with traced_gateway(_config(tmp_path, base_url), exporter) as (gw, hook):
        key = gw.create_key(jurisdictions=["us"])
        response = gw.post(
            "/v1/chat/completions",
            key,
            json={"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 403
        unauthenticated = gw.post(
            "/v1/chat/completions", "not-a-key", json={"model": "chat-eu", "messages": []}
        )
        assert unauthenticated.status_code == 401
        spans = sorted(finished(hook, exporter), key=lambda s: s.start_time or 0)
    residency, auth = spans
    assert residency.status.status_code is StatusCode.ERROR
    assert residency.attributes is not None
    assert residency.attributes["error.type"] == "residency_violation"
    assert residency.attributes["gatehouse.residency.allowed"] == ("us",)
    assert "gatehouse.deployment.id" not in residency.attributes
    assert auth.attributes is not None
    assert auth.attributes["error.type"] == "invalid_api_key"
    assert fake.calls == 0


class RaisingExporter(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        raise RuntimeError("collector exploded")

    def shutdown(self) -> None:
        return None


def test_a_raising_exporter_never_affects_responses(tmp_path: Path, fake_openai: Fake) -> None:
    exporter = RaisingExporter()
    with traced_gateway(_config(tmp_path, fake_openai[1]), exporter) as (gw, hook):
        client = gw.client(gw.create_key())
        for _ in range(3):
            result = client.chat.completions.create(
                model="chat-eu", messages=[{"role": "user", "content": "still fine"}]
            )
            assert result.choices[0].message.content == "echo: still fine"
        assert hook.provider is not None
        hook.provider.force_flush(5_000)
        assert exporter.calls >= 1
        after = client.chat.completions.create(
            model="chat-eu", messages=[{"role": "user", "content": "after"}]
        )
        assert after.choices[0].message.content == "echo: after"


def test_a_broken_recorder_is_logged_not_raised(
    tmp_path: Path,
    fake_openai: Fake,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    with traced_gateway(_config(tmp_path, fake_openai[1]), exporter) as (gw, hook):

        def explode(*args: Any) -> None:
            raise ValueError("metrics broke")

        monkeypatch.setattr(hook.metrics, "record", explode)
        with caplog.at_level(logging.ERROR, logger="gateway.telemetry"):
            result = gw.client(gw.create_key()).chat.completions.create(
                model="chat-eu", messages=[{"role": "user", "content": "ok"}]
            )
        assert result.choices[0].message.content == "echo: ok"
        # the span is still written although the metrics failed
        assert len(finished(hook, exporter)) == 1
    assert any("recording metrics" in r.getMessage() for r in caplog.records)


# -- OTLP over HTTP to a loopback collector ----------------------------------------------


@dataclass
class Collector:
    """A fake OTLP/HTTP receiver: records every ExportTraceServiceRequest and its headers."""

    requests: list[tuple[dict[str, str], ExportTraceServiceRequest]]
    lock: threading.Lock

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status = 404
        if scope["path"] == "/v1/traces":
            parsed = ExportTraceServiceRequest()
            parsed.ParseFromString(body)
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            with self.lock:
                self.requests.append((headers, parsed))
            status = 200
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send(
            {"type": "http.response.body", "body": ExportTraceServiceResponse().SerializeToString()}
        )

    def span_attributes(self) -> list[dict[str, Any]]:
        found = []
        with self.lock:
            for _, request in self.requests:
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            found.append(
                                {
                                    "name": span.name,
                                    **{
                                        a.key: a.value.string_value or a.value.int_value
                                        for a in span.attributes
                                    },
                                }
                            )
        return found


def test_spans_are_exported_with_otlp_http(tmp_path: Path, fake_openai: Fake) -> None:
    collector = Collector([], threading.Lock())
    with serve(collector) as collector_url:
        config = _config(
            tmp_path,
            fake_openai[1],
            telemetry={
                "otlp_endpoint": collector_url,
                "otlp_headers_env": "OTLP_HEADERS",
                "service_name": "gatehouse-test",
            },
        )
        env = {**ENV, "OTLP_HEADERS": "authorization=Bearer%20collector-token,x-tenant=risk"}
        store = Store(config.store)
        hook = build_telemetry_hook(HookServices(config, env, store))
        with run_gateway(config, environ=env, hooks=[hook], store=store) as gw:
            gw.client(gw.create_key()).chat.completions.create(
                model="chat-eu", messages=[{"role": "user", "content": "exported"}]
            )
        # leaving the gateway shut the provider down, which flushed the batch
        (span,) = collector.span_attributes()
        headers, request = collector.requests[0]
    assert span["name"] == "chat chat-eu"
    assert span["gen_ai.request.model"] == "chat-eu"
    assert span["gen_ai.usage.input_tokens"] == 1
    assert span["gatehouse.deployment.jurisdiction"] == "eu"
    resource = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "gatehouse-test"
    assert headers["authorization"] == "Bearer collector-token"
    assert headers["x-tenant"] == "risk"


def test_no_endpoint_means_no_tracing(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/v1")
    assert build_tracer_provider(config.telemetry, {}) is None


def test_otlp_headers_variable_must_be_set(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "http://127.0.0.1:9/v1",
        telemetry={"otlp_endpoint": "http://127.0.0.1:4318", "otlp_headers_env": "MISSING"},
    )
    with pytest.raises(ConfigError, match="MISSING is unset"):
        build_tracer_provider(config.telemetry, {})


@pytest.mark.parametrize(
    ("endpoint", "extra", "ok"),
    [
        ("https://collector.example.com:4318", {}, True),
        ("http://127.0.0.1:4318", {}, True),
        ("http://collector.observability:4318", {}, False),
        ("http://collector.observability:4318", {"allow_insecure_http": True}, True),
    ],
)
def test_otlp_endpoint_must_be_https_unless_loopback(
    endpoint: str, extra: dict[str, Any], ok: bool
) -> None:
    data = {
        "models": [
            {"name": "m", "deployments": [openai_deployment("http://127.0.0.1:9/v1")]},
        ],
        "telemetry": {"otlp_endpoint": endpoint, **extra},
    }
    if ok:
        assert parse_config(data).telemetry.traces_url() == endpoint + "/v1/traces"
    else:
        with pytest.raises(ConfigError, match=r"telemetry: .*https URL for otlp_endpoint"):
            parse_config(data)


def test_traces_url_accepts_the_full_path() -> None:
    data = {
        "models": [{"name": "m", "deployments": [openai_deployment("http://127.0.0.1:9/v1")]}],
        "telemetry": {"otlp_endpoint": "https://otel.example.com/api/public/otel/v1/traces"},
    }
    url = parse_config(data).telemetry.traces_url()
    assert url == "https://otel.example.com/api/public/otel/v1/traces"


# -- sampling ----------------------------------------------------------------------------


def _finished_context() -> RequestContext:
    ctx = RequestContext("POST", "/v1/chat/completions")
    ctx.op, ctx.model, ctx.status = "chat", "chat-eu", 200
    ctx.identity = Identity(kind="api_key", subject="key-1", team="risk", cost_center="cc-1")
    ctx.body = {"max_tokens": 5, "temperature": 0.5}
    ctx.usage = {"prompt_tokens": 3, "completion_tokens": 4}
    return ctx


def test_a_sampled_span_carries_every_attribute(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/v1")
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider(config.telemetry, {}, exporter)
    assert provider is not None
    ctx = _finished_context()
    record_span(provider.get_tracer(TRACER_NAME), ctx, 200, None)
    assert provider.force_flush(5_000)
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert list(span.attributes.items()) == list(span_attributes(ctx, 200).items())
    provider.shutdown()


def test_a_sampled_out_request_gathers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/v1", telemetry={"sample_ratio": 0.0})
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider(config.telemetry, {}, exporter)
    assert provider is not None

    def gathered(*args: Any) -> None:
        raise AssertionError("attributes gathered for a span nobody keeps")

    monkeypatch.setattr(traces, "span_attributes", gathered)
    record_span(provider.get_tracer(TRACER_NAME), _finished_context(), 200, None)
    assert provider.force_flush(5_000)
    assert exporter.get_finished_spans() == ()
    provider.shutdown()
