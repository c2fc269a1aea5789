"""The ``telemetry:`` section of the gateway config.

Example::

    telemetry:
      service_name: gatehouse-eu
      otlp_endpoint: https://otel-collector.observability:4318   # traces, OTLP over HTTP
      otlp_headers_env: OTLP_HEADERS        # "authorization=Basic ...,x-tenant=risk"
      resource_attributes: {deployment.environment: prod}
      metrics:
        token_env: GATEHOUSE_METRICS_TOKEN  # Prometheus sends "Authorization: Bearer <token>"

Every field has a secure default: without the section, metrics are collected and served on
``GET /metrics`` only to a caller presenting the admin key or the metrics token, and no
trace leaves the process.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TRACES_PATH = "/v1/traces"


def env_name(value: str | None) -> str | None:
    """Check an ``*_env`` field names a plausible environment variable."""
    from gateway.config import ENV_NAME  # imported late: gateway.config imports this module

    if value is not None and not re.fullmatch(ENV_NAME, value):
        raise ValueError("the name of an environment variable (letters, digits, underscore)")
    return value


def secure_url(value: str, what: str) -> str:
    """https, or plain http on a loopback host only."""
    from gateway.config import require_https_unless_loopback  # see env_name

    require_https_unless_loopback(value, what)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricsAccess(_Model):
    """Who may read ``GET /metrics``."""

    token_env: str = Field(
        default="GATEHOUSE_METRICS_TOKEN",
        description="variable holding a bearer token for scrapers (at least 24 characters); "
        "the admin key is accepted too. Neither set: /metrics answers 404",
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description="serve /metrics to anyone who can reach the listener (team names and "
        "spend become readable); default: a bearer credential is required",
    )

    _env = field_validator("token_env")(env_name)


class TelemetryConfig(_Model):
    service_name: str = Field(default="gatehouse", min_length=1)
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP endpoint of a collector (Langfuse, Datadog, any OTel "
        "collector): a base URL to which /v1/traces is appended, or the full traces URL; "
        "default: traces are not recorded",
    )
    otlp_headers_env: str | None = Field(
        default=None,
        description="variable holding extra export headers as k1=v1,k2=v2 (the format of "
        "OTEL_EXPORTER_OTLP_HEADERS), e.g. an authorization header",
    )
    otlp_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    allow_insecure_http: bool = Field(
        default=False,
        description="accept a plain-http otlp_endpoint on a non-loopback host; default: "
        "https is required except on loopback",
    )
    sample_ratio: float = Field(
        default=1.0, ge=0.0, le=1.0, description="share of requests traced (parent-based)"
    )
    resource_attributes: dict[str, str] = Field(
        default_factory=dict, description="added to every span's resource"
    )
    metrics: MetricsAccess = MetricsAccess()

    _env = field_validator("otlp_headers_env")(env_name)

    @model_validator(mode="after")
    def _endpoint(self) -> TelemetryConfig:
        if self.otlp_endpoint is not None and not self.allow_insecure_http:
            secure_url(self.otlp_endpoint, "otlp_endpoint (or set allow_insecure_http: true)")
        return self

    def traces_url(self) -> str | None:
        """The URL spans are posted to (``/v1/traces`` appended to a base URL)."""
        if self.otlp_endpoint is None:
            return None
        base = self.otlp_endpoint.rstrip("/")
        return base if base.endswith(TRACES_PATH) else base + TRACES_PATH
