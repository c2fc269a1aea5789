"""The gateway's configuration model.

One pydantic model is both what the gateway loads at start-up and what the central-gateway
component renders into its ConfigMap, so a config the gateway would reject can never be
deployed. Secrets are never part of the config: fields ending in ``_env`` name the
environment variable that holds them.

:func:`load_config` reads YAML and fails with one :class:`ConfigError` that lists every
invalid field as ``path: got VALUE; expected RULE``. :func:`render_config` writes YAML that
:func:`load_config` reads back to an equal model.

Extending: later sections (``redaction``, ``audit``, ``ledger``, ``limits``, ``telemetry``,
``webhooks``) are added as optional fields of :class:`GatewayConfig` whose default keeps
every existing file loading, each typed by a frozen ``extra="forbid"`` model defined beside
the code that uses it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.audit.config import AuditConfig
from gateway.ledger.budgets import BudgetsConfig
from gateway.limits.config import LimitsConfig
from gateway.redaction.config import RedactionConfig
from gateway.telemetry.config import TelemetryConfig
from gateway.validation import problems
from gateway.webhooks.config import WebhookEndpoint

MiB = 1024 * 1024
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
AsymmetricAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
]
ASYMMETRIC_ALGORITHMS: tuple[AsymmetricAlgorithm, ...] = get_args(AsymmetricAlgorithm)
EnvName = Annotated[str, Field(pattern=ENV_NAME, description="name of an environment variable")]


class ConfigError(ValueError):
    """The configuration cannot be used; the message names every offending field."""


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_https_unless_loopback(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return
    raise ValueError(f"an https URL for {what} (plain http is accepted only on loopback)")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Model):
    """Prices per million tokens, in the gateway's currency."""

    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)


class _Deployment(_Model):
    region: str = Field(min_length=1)
    jurisdiction: str = Field(min_length=1)
    price: Price = Price()
    weight: int = Field(default=1, ge=0, description="share of traffic among equal priorities")
    priority: int = Field(default=0, ge=0, description="lower is tried first")


class OpenAIDeployment(_Deployment):
    """Any OpenAI-compatible server: vLLM, OpenAI."""

    provider: Literal["openai"]
    base_url: HttpUrl
    model: str = Field(min_length=1)
    api_key_env: EnvName | None = None
    allow_insecure_http: bool = Field(
        default=False,
        description="accept a plain-http base_url on a non-loopback host; "
        "default: https is required except on loopback",
    )

    @model_validator(mode="after")
    def _https(self) -> OpenAIDeployment:
        if not self.allow_insecure_http:
            require_https_unless_loopback(
                str(self.base_url), "base_url (or set allow_insecure_http: true)"
            )
        return self


class AzureOpenAIDeployment(_Deployment):
    provider: Literal["azure_openai"]
    endpoint: HttpUrl
    deployment: str = Field(min_length=1)
    api_version: str = Field(min_length=1)
    auth: Literal["managed_identity", "api_key"] = "api_key"
    api_key_env: EnvName | None = None
    managed_identity_client_id: str | None = Field(
        default=None,
        description="client id of a user-assigned identity; default: the system identity",
    )

    @model_validator(mode="after")
    def _auth(self) -> AzureOpenAIDeployment:
        require_https_unless_loopback(str(self.endpoint), "endpoint")
        if self.auth == "api_key" and self.api_key_env is None:
            raise ValueError("api_key_env (the variable holding the key) or auth: managed_identity")
        if self.auth == "managed_identity" and self.api_key_env is not None:
            raise ValueError("either auth: managed_identity or api_key_env, not both")
        return self


class BedrockDeployment(_Deployment):
    provider: Literal["bedrock"]
    model: str = Field(min_length=1, description="model id or inference profile id")
    endpoint_url: HttpUrl | None = Field(
        default=None,
        description="default: the public regional bedrock-runtime endpoint "
        "(resolved to the PrivateLink endpoint by private DNS)",
    )


class AnthropicDeployment(_Deployment):
    provider: Literal["anthropic"]
    model: str = Field(min_length=1)
    base_url: HttpUrl = HttpUrl("https://api.anthropic.com")
    api_key_env: EnvName | None = None
    anthropic_version: str = "2023-06-01"


Deployment = Annotated[
    OpenAIDeployment | AzureOpenAIDeployment | BedrockDeployment | AnthropicDeployment,
    Field(discriminator="provider"),
]


class ModelRoute(_Model):
    """One model alias clients name, served by one or more deployments."""

    name: str = Field(min_length=1, pattern=r"^\S+$", description='the "model" clients send')
    deployments: list[Deployment] = Field(min_length=1)


class Listen(_Model):
    host: str = Field(default="127.0.0.1", min_length=1, description="default: loopback only")
    port: int = Field(default=8080, ge=1, le=65535)


class ClaimsMapping(_Model):
    """Which JWT claim carries each identity attribute (absent: not taken from the token)."""

    subject: str = "sub"
    team: str | None = None
    cost_center: str | None = None
    jurisdictions: str | None = None
    models: str | None = None


class OIDCIssuer(_Model):
    """A trusted OpenID Connect issuer (Entra ID, Okta, Keycloak, ...)."""

    issuer: str = Field(description="exactly the token's iss claim")
    audience: str | list[str] = Field(description="accepted aud values")
    claims: ClaimsMapping = ClaimsMapping()
    teams: list[str] | None = Field(
        default=None,
        description="when the team claim is a list (Entra/Okta groups), the first entry found "
        "in this list is the team; default: the first entry of the claim",
    )
    algorithms: list[AsymmetricAlgorithm] = Field(
        default_factory=lambda: list(ASYMMETRIC_ALGORITHMS), min_length=1
    )
    leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    jwks_uri: str | None = Field(default=None, description="default: from the discovery document")
    jwks_cache_seconds: float = Field(default=3600.0, gt=0)
    jwks_refetch_min_seconds: float = Field(
        default=30.0,
        ge=0,
        description="least time between two JWKS fetches caused by an unknown kid",
    )

    @field_validator("issuer", "jwks_uri")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None:
            require_https_unless_loopback(value, "an OIDC issuer")
        return value

    @field_validator("audience")
    @classmethod
    def _audience(cls, value: str | list[str]) -> str | list[str]:
        if not value or (isinstance(value, list) and not all(value)):
            raise ValueError("a non-empty audience")
        return value


class AuthConfig(_Model):
    api_keys: bool = Field(default=True, description="accept keys issued by the admin API")
    oidc: list[OIDCIssuer] = Field(default_factory=list)
    admin_key_env: EnvName = Field(
        default="GATEHOUSE_ADMIN_KEY",
        description="unset or empty variable: the admin API is disabled",
    )
    key_refresh_seconds: float = Field(
        default=0.5,
        gt=0,
        le=1.0,
        description="how often each replica polls the store for key changes (revocations)",
    )

    @field_validator("oidc")
    @classmethod
    def _unique_issuers(cls, value: list[OIDCIssuer]) -> list[OIDCIssuer]:
        seen = [i.issuer for i in value]
        dupes = sorted({i for i in seen if seen.count(i) > 1})
        if dupes:
            raise ValueError(f"each issuer at most once (repeated: {', '.join(dupes)})")
        return value

    @model_validator(mode="after")
    def _some_way_in(self) -> AuthConfig:
        if not self.api_keys and not self.oidc:
            raise ValueError("api_keys: true or at least one oidc issuer (nobody could call)")
        return self


class Timeouts(_Model):
    """Upstream timeouts, in seconds."""

    connect: float = Field(default=5.0, gt=0)
    read: float = Field(default=60.0, gt=0, description="longest silence while reading a response")
    write: float = Field(default=30.0, gt=0)
    pool: float = Field(default=5.0, gt=0, description="longest wait for a pooled connection")
    total: float = Field(
        default=300.0,
        gt=0,
        description="deadline per attempt: the whole exchange, or for a stream until its "
        "first bytes (afterwards the read timeout bounds each gap)",
    )


class RetryPolicy(_Model):
    attempts: int = Field(
        default=2, ge=1, le=10, description="tries per deployment before fallback"
    )
    backoff_initial_seconds: float = Field(default=0.2, ge=0)
    backoff_max_seconds: float = Field(default=4.0, ge=0)
    max_retry_after_seconds: float = Field(
        default=10.0,
        ge=0,
        description="a longer Retry-After moves on to the next deployment at once",
    )


class CircuitBreakerPolicy(_Model):
    failure_threshold: int = Field(default=5, ge=1, description="consecutive failures that open it")
    cooldown_seconds: float = Field(default=30.0, gt=0, description="open time before one probe")


class UpstreamPool(_Model):
    max_connections: int = Field(default=200, ge=1, description="per upstream origin")
    max_keepalive_connections: int = Field(
        default=50,
        ge=0,
        description="idle connections kept for OIDC discovery and JWKS (httpx); model "
        "upstreams keep up to max_connections alive",
    )
    keepalive_expiry_seconds: float = Field(default=30.0, gt=0)


def _check_store_url(value: str) -> str:
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme == "sqlite":
        return value
    if scheme in {"postgresql", "postgres"}:
        if urlsplit(value).password:
            raise ValueError(
                "a URL without a password (give it in PGPASSWORD or a .pgpass file, "
                "never in the config)"
            )
        return value
    raise ValueError("sqlite:///PATH or postgresql://USER@HOST:PORT/DB")


class GatewayConfig(_Model):
    listen: Listen = Listen()
    store: str = Field(
        default="sqlite:///./gatehouse.db", description="sqlite:/// or postgresql://"
    )
    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of prices"
    )
    jurisdictions: list[str] = Field(
        default_factory=list,
        description="allowed for callers whose identity names none; default: none",
    )
    models: list[ModelRoute] = Field(min_length=1)
    auth: AuthConfig = AuthConfig()
    max_body_bytes: int = Field(default=4 * MiB, ge=1024, le=256 * MiB)
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    circuit_breaker: CircuitBreakerPolicy = CircuitBreakerPolicy()
    upstream_pool: UpstreamPool = UpstreamPool()
    telemetry: TelemetryConfig = TelemetryConfig()
    audit: AuditConfig = Field(
        default_factory=AuditConfig,
        description="default: a local trail beside the store; the gateway never runs without one",
    )
    webhooks: list[WebhookEndpoint] = Field(
        default_factory=list, description="where operational events are sent; default: nowhere"
    )
    redaction: RedactionConfig = Field(
        default_factory=RedactionConfig,
        description="PII redaction of everything sent to a model; default: mode redact",
    )
    limits: LimitsConfig | None = Field(
        default=None, description="rate limits (RPM, TPM per key and team); default: none"
    )
    budgets: BudgetsConfig | None = Field(
        default_factory=BudgetsConfig,
        description="the ledger: usage recorded for chargeback, budgets enforced; "
        "default: on, in process memory, with no budget set ('enabled: false' turns it off)",
    )

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        return _check_store_url(value)

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[ModelRoute]) -> list[ModelRoute]:
        names = [m.name for m in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"unique model names (repeated: {', '.join(dupes)})")
        return value

    def model(self, name: str) -> ModelRoute | None:
        for route in self.models:
            if route.name == name:
                return route
        return None


def parse_config(data: Any, *, source: str = "config") -> GatewayConfig:
    """Validate already-parsed data; raise :class:`ConfigError` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: got {type(data).__name__}; expected a mapping at the top")
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        lines = "\n".join(f"  {p}" for p in problems(exc, data))
        raise ConfigError(f"{source} is invalid:\n{lines}") from None


def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate a YAML config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, source=str(path))


def render_config(cfg: GatewayConfig) -> str:
    """YAML for ``cfg`` (defaults omitted) that :func:`load_config` reads back unchanged."""
    data = cfg.model_dump(mode="json", exclude_defaults=True)
    for route in data["models"]:
        route["deployments"] = [
            {"provider": d["provider"], **{k: v for k, v in d.items() if k != "provider"}}
            for d in route["deployments"]
        ]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
