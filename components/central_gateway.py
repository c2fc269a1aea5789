"""The central gateway: the Gatehouse LLM gateway on an existing Kubernetes cluster.

The shape creates, in its own namespace (Pod Security "restricted" enforced, default-deny
NetworkPolicy):

- a ServiceAccount, annotated for AWS IRSA (role ARN) or Azure workload identity (client
  id), with no automatically mounted API token;
- a ConfigMap holding the gateway config. It is built from the route descriptors of the
  model-serving shapes, validated by the gateway's own config model
  (:mod:`gateway.config`) and rendered by it, so a config the gateway would reject is never
  deployed. Its name carries a hash of its content, so a change rolls the pods;
- a Deployment (at least 2 replicas, pinned image, non-root, read-only root filesystem, no
  privilege escalation, every capability dropped, seccomp RuntimeDefault, requests and
  limits, startup/readiness/liveness probes on ``/healthz`` and ``/readyz``, spread across
  zones and nodes), or a StatefulSet with a volume per replica when ``audit_storage`` is
  set. Secrets reach it only as references to existing Secrets, and every variable the
  config names must come from one;
- the config's ``telemetry`` section (OTLP endpoint, sampling, resource attributes naming
  the jurisdiction and region) and ``audit`` section (write-ahead log on the pod's state
  volume, sink: the environment's audit archive), plus the OTel SDK's resource variables;
- a ClusterIP Service, and optionally an Ingress that is TLS only, with an internal class
  by default;
- a HorizontalPodAutoscaler, a PodDisruptionBudget, a NetworkPolicy that admits ingress
  only from the allowed namespaces and egress only to DNS, the model endpoints,
  PostgreSQL, Redis, the OTel collector and the audit archive, and optionally a
  ServiceMonitor that scrapes ``/metrics`` with a bearer token from a Secret.

Outputs: ``url`` (the in-cluster URL) and ``service_account`` (its name).

Sources, checked 2026-11-27:
- IRSA annotation ``eks.amazonaws.com/role-arn``:
  https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
- Azure workload identity: ServiceAccount annotation ``azure.workload.identity/client-id``
  and pod label ``azure.workload.identity/use: "true"``:
  https://learn.microsoft.com/azure/aks/workload-identity-overview
- OpenTelemetry SDK resource variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES):
  https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
- ServiceMonitor (monitoring.coreos.com/v1, endpoint ``authorization`` from a Secret):
  https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.ServiceMonitor
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, field_validator, model_validator

from components.common import (
    ResidencyViolation,
    Role,
    RouteDescriptor,
    ShapeArgs,
    ShapeContext,
)
from components.k8s_security import (
    ClusterLocation,
    ClusterPlacement,
    FrozenModel,
    NetworkPeer,
    Resources,
    SecretKeyRef,
    check_dns_label,
    check_dns_subdomain,
    check_image,
    container_security_context,
    dns_egress_rule,
    http_probe,
    metadata,
    namespace_with_default_deny,
    network_policy_spec,
    pod_disruption_budget_spec,
    pod_security_context,
)
from gateway.config import ENV_NAME, ConfigError, GatewayConfig, parse_config, render_config
from gateway.telemetry.config import MetricsAccess

SHAPE: Final = "central_gateway"
APP: Final = "gatehouse-gateway"

# Name of the pack's policy that refuses a gateway route outside the zone.
POLICY_ROUTES: Final = "k8s-configmap-gateway-routes-in-zone"

PORT: Final = 8080
CONFIG_DIR: Final = "/etc/gatehouse"
CONFIG_KEY: Final = "config.yaml"
CONFIG_PATH: Final = f"{CONFIG_DIR}/{CONFIG_KEY}"
# The gateway writes its audit write-ahead log and temporary files here (the root
# filesystem is read-only).
STATE_DIR: Final = "/var/lib/gatehouse"

IRSA_ANNOTATION: Final = "eks.amazonaws.com/role-arn"
AZURE_WI_ANNOTATION: Final = "azure.workload.identity/client-id"
AZURE_WI_POD_LABEL: Final = "azure.workload.identity/use"

# Keys of the gateway config this shape computes; `settings` may not set them.
_COMPUTED_KEYS: Final = frozenset({"listen", "store", "jurisdictions", "models"})
_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class SecretEnv(SecretKeyRef):
    """An environment variable of the gateway taken from an existing Secret."""

    env: str = Field(pattern=ENV_NAME, description="variable name, e.g. PGPASSWORD")


class WorkloadIdentity(FrozenModel):
    aws_role_arn: str | None = Field(
        None, pattern=_ROLE_ARN, description="IAM role for IRSA; default: none"
    )
    azure_client_id: str | None = Field(
        None,
        pattern=_GUID,
        description="client id of the user-assigned identity for Azure workload identity; "
        "also used by Azure OpenAI routes that authenticate with managed identity",
    )


class GatewayEgress(FrozenModel):
    """What the gateway may reach besides DNS (every other destination is denied)."""

    model_endpoints: list[NetworkPeer] = Field(
        default_factory=list,
        description="model endpoints outside the cluster (private endpoint subnets); "
        "in-cluster vLLM endpoints are added from the vllm_nodes shape",
    )
    postgres: NetworkPeer = Field(description="the PostgreSQL store")
    redis: NetworkPeer | None = Field(None, description="Redis for limits; default: none")
    otel_collector: NetworkPeer | None = Field(
        None, description="the OpenTelemetry collector; default: none"
    )
    audit_archive: NetworkPeer | None = Field(
        None,
        description="where the audit archive is reached (an S3 interface endpoint's or the "
        "storage account's private endpoint's subnet); default: none",
    )


class IngressSpec(FrozenModel):
    host: str = Field(description="the host name clients use")
    tls_secret: str = Field(description="Secret of type kubernetes.io/tls for the host")
    class_name: str = Field(
        "internal", description="ingress class; default: 'internal' (a private controller)"
    )
    controller_namespace: str = Field(
        description="namespace of the ingress controller, admitted by the NetworkPolicy"
    )
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_dns_subdomain("ingress.host", value)


class Telemetry(FrozenModel):
    """Traces: written into the gateway config's telemetry section (settings.telemetry wins)."""

    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP endpoint of the collector, e.g. "
        "https://otel-collector.observability.svc:4318; default: no export",
    )
    service_name: str = Field(APP, description=f"default: '{APP}'")
    trace_sample_ratio: float = Field(0.1, ge=0, le=1, description="default: 0.1")
    allow_insecure_http: bool = Field(
        False,
        description="unsafe opt-in: export spans over plain HTTP to an in-cluster collector "
        "(prompts' metadata travels unencrypted unless a service mesh encrypts it)",
    )


class ServiceMonitorSpec(FrozenModel):
    """Prometheus scraping of ``/metrics``, which the gateway serves only with a bearer token."""

    token_secret: SecretKeyRef = Field(
        description="existing Secret key holding the scrape token (at least 24 characters); "
        "the gateway reads it from GATEHOUSE_METRICS_TOKEN, Prometheus sends it"
    )
    interval: str = Field("30s", pattern=r"^\d+[smh]$")
    labels: dict[str, str] = Field(
        default_factory=dict, description="labels the Prometheus instance selects on"
    )
    prometheus_namespace: str = Field(
        "monitoring", description="namespace of Prometheus, admitted to scrape the gateway"
    )


class AuditStorage(FrozenModel):
    """A persistent volume per replica for the audit write-ahead log."""

    storage_class: str = Field(description="storage class of the per-replica claims")
    size: str = Field("10Gi", description="size of each claim; default: 10Gi")

    @field_validator("storage_class")
    @classmethod
    def _class(cls, value: str) -> str:
        return check_dns_subdomain("storage_class", value)

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        return Resources(memory_request=value).memory_request


class ExtraRoute(FrozenModel):
    """A route to a deployment no shape of this environment creates."""

    provider: str
    model: str
    region: str
    jurisdiction: str
    alias: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    def descriptor(self) -> RouteDescriptor:
        return RouteDescriptor(
            provider=self.provider,
            model=self.model,
            region=self.region,
            jurisdiction=self.jurisdiction,
            settings=self.settings,
            alias=self.alias,
        )


class CentralGatewayArgs(ShapeArgs):
    """Settings of the central gateway shape (``gatehouse:central_gateway``)."""

    cluster: ClusterLocation = Field(description="the existing cluster the gateway runs on")
    namespace: str = Field("gatehouse", description="namespace created for the gateway")
    image: str = Field(
        description="the gateway image (built from gateway/Dockerfile), pinned by a version "
        "tag or a digest; 'latest' and untagged references are refused"
    )
    replicas: int = Field(2, ge=2, description="replicas (and HPA minimum); default: 2")
    max_replicas: int = Field(6, ge=2, description="HPA maximum; default: 6")
    target_cpu_utilization: int = Field(70, ge=10, le=95, description="HPA target, percent")
    resources: Resources = Field(
        Resources(cpu_request="250m", memory_request="256Mi", cpu_limit="1", memory_limit="1Gi"),
        description="default: requests 250m/256Mi, limits 1 CPU/1Gi",
    )
    store_url: str = Field(
        description="postgresql://USER@HOST:PORT/DB shared by every replica (no password: "
        "give PGPASSWORD through secret_env)"
    )
    secret_env: list[SecretEnv] = Field(
        default_factory=list,
        description="environment variables taken from existing Secrets (API keys named by "
        "the routes' api_key_env, PGPASSWORD, the admin key...); never values",
    )
    identity: WorkloadIdentity = Field(default_factory=WorkloadIdentity)
    service_account_name: str = Field(
        APP,
        description=f"name of the ServiceAccount (an IRSA trust names it); default: '{APP}'",
    )
    allowed_namespaces: list[str] = Field(
        default_factory=list,
        description="namespaces whose pods may call the gateway; default: none (only the "
        "ingress controller, when an ingress is set)",
    )
    egress: GatewayEgress
    audit_storage: AuditStorage | None = Field(
        None,
        description="persistent volume per replica for the audit write-ahead log; the gateway "
        "then runs as a StatefulSet. Default: a Deployment whose log is on an emptyDir, "
        "shipped to the archive on every graceful stop; the events of a segment still open "
        "when a node is lost (up to audit.segment_max_seconds) are lost with it",
    )
    ingress: IngressSpec | None = Field(None, description="default: no Ingress")
    service_monitor: ServiceMonitorSpec | None = Field(
        None, description="a Prometheus-operator ServiceMonitor; default: none"
    )
    telemetry: Telemetry = Field(default_factory=Telemetry)
    routes: list[ExtraRoute] = Field(
        default_factory=list,
        description="routes to deployments no shape here creates (checked against the zone)",
    )
    provider_settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="settings added to every route of a provider where the route has none, "
        "e.g. {azure_openai: {priority: 1}}",
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="further sections of the gateway config (auth, timeouts, retry, "
        "audit...), validated by the gateway's own config model",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return check_dns_label("namespace", value)

    @field_validator("service_account_name")
    @classmethod
    def _sa(cls, value: str) -> str:
        return check_dns_subdomain("service_account_name", value)

    @field_validator("allowed_namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        for index, name in enumerate(value):
            check_dns_label(f"allowed_namespaces[{index}]", name)
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image("image", value)

    @field_validator("store_url")
    @classmethod
    def _store(cls, value: str) -> str:
        if value.split("://", 1)[0] not in {"postgresql", "postgres"}:
            raise ValueError(
                f"got {value.split('://', 1)[0]!r} store; expected postgresql://USER@HOST:PORT/DB"
                " (replicas must share one store; SQLite is per pod)"
            )
        return value

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(_COMPUTED_KEYS & set(value))
        if taken:
            raise ValueError(
                f"got {', '.join(taken)}; these gateway config keys are computed by the shape "
                "(listen, store from store_url, jurisdictions from the zone, models from routes)"
            )
        return value

    @field_validator("secret_env")
    @classmethod
    def _unique_env(cls, value: list[SecretEnv]) -> list[SecretEnv]:
        names = [s.env for s in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"each variable at most once (repeated: {', '.join(dupes)})")
        return value

    @model_validator(mode="after")
    def _replicas(self) -> CentralGatewayArgs:
        if self.max_replicas < self.replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) must be at least replicas ({self.replicas})"
            )
        return self


# --- the gateway config -------------------------------------------------------------------


def _deployment(route: RouteDescriptor, args: CentralGatewayArgs) -> dict[str, Any]:
    defaults: dict[str, Any] = dict(args.provider_settings.get(route.provider, {}))
    if route.provider == "azure_openai":
        # The Azure OpenAI shape disables key auth: the gateway signs in with its identity.
        defaults.setdefault("auth", "managed_identity")
        if args.identity.azure_client_id and defaults["auth"] == "managed_identity":
            defaults.setdefault("managed_identity_client_id", args.identity.azure_client_id)
    out: dict[str, Any] = {
        "provider": route.provider,
        "region": route.region,
        "jurisdiction": route.jurisdiction,
        **defaults,
        **dict(route.settings),
    }
    if route.price is not None:
        out["price"] = route.price.model_dump()
    return out


def gateway_config(
    args: CentralGatewayArgs,
    ctx: ShapeContext,
    routes: Sequence[RouteDescriptor],
    audit_sink: str | None = None,
) -> GatewayConfig:
    """The gateway config for ``routes``, validated by the gateway's own model.

    The audit trail's write-ahead directory is the pod's state volume; its sink is
    ``audit_sink`` (the audit archive of the environment) unless ``settings.audit.sink``
    names one. Raises :class:`ResidencyViolation` for a route outside the zone and
    ``ValueError`` naming the field for anything the gateway would reject, including a
    variable (``api_key_env``, ``audit.signing_key_env``...) that no ``secret_env`` entry
    provides, which would stop the gateway at start-up.
    """
    models: dict[str, list[dict[str, Any]]] = {}
    for index, route in enumerate(routes):
        if route.jurisdiction not in ctx.jurisdictions:
            raise ResidencyViolation(
                POLICY_ROUTES,
                f"routes[{index}].jurisdiction",
                f"route to {route.provider} model {route.model!r} in {route.region!r} has "
                f"jurisdiction {route.jurisdiction!r}; expected one of "
                f"{', '.join(sorted(ctx.jurisdictions))}",
            )
        models.setdefault(route.alias or route.model, []).append(_deployment(route, args))
    if not models:
        raise ValueError(
            "routes: the gateway has nothing to serve; expected a model-serving shape in the "
            "environment (azure_openai, vllm_nodes, ...) or entries in central_gateway.routes"
        )
    placement = args.cluster.resolve(ctx)
    audit = {"dir": f"{STATE_DIR}/audit", **dict(args.settings.get("audit") or {})}
    if audit_sink is not None:
        audit.setdefault("sink", audit_sink)
    data = {
        **args.settings,
        "audit": audit,
        "telemetry": {
            **telemetry_section(args.telemetry, resource_attributes(args, ctx, placement)),
            **dict(args.settings.get("telemetry") or {}),
        },
        "listen": {"host": "0.0.0.0", "port": PORT},  # noqa: S104 - the pod's own interfaces
        "store": args.store_url,
        "jurisdictions": sorted(ctx.jurisdictions),
        "models": [{"name": name, "deployments": deps} for name, deps in models.items()],
    }
    try:
        config = parse_config(data, source="central_gateway gateway config")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    provided = {s.env for s in args.secret_env}
    needed = _variables(config.model_dump(mode="json", exclude_defaults=True))
    if config.limits is not None and config.limits.backend == "redis":
        needed.append(("limits.redis_url_env", config.limits.redis_url_env))
    for path, env in needed:
        if env not in provided:
            raise ValueError(
                f"secret_env: the gateway config reads {path} from ${env}, but no secret_env "
                f"entry provides it; expected {{env: {env}, secret: <name>, key: <key>}}"
            )
    return config


def metrics_token_env(args: CentralGatewayArgs) -> str:
    """The variable the gateway reads its ``/metrics`` bearer token from."""
    metrics = dict((args.settings.get("telemetry") or {}).get("metrics") or {})
    return str(metrics.get("token_env", MetricsAccess().token_env))


def resource_attributes(
    args: CentralGatewayArgs, ctx: ShapeContext, placement: ClusterPlacement
) -> dict[str, str]:
    """OpenTelemetry resource attributes of every span and metric of this gateway."""
    return {
        "deployment.environment": ctx.environment,
        "k8s.namespace.name": args.namespace,
        "gatehouse.jurisdiction": placement.jurisdiction,
        "gatehouse.region": placement.region,
    }


def telemetry_section(telemetry: Telemetry, attributes: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "service_name": telemetry.service_name,
        "sample_ratio": telemetry.trace_sample_ratio,
        "resource_attributes": dict(attributes),
    }
    if telemetry.otlp_endpoint is not None:
        out["otlp_endpoint"] = telemetry.otlp_endpoint
        out["allow_insecure_http"] = telemetry.allow_insecure_http
    return out


# Variables the gateway may run without (an unset admin key disables the admin API).
_OPTIONAL_VARIABLES: Final = frozenset({"admin_key_env", "token_env"})


def _variables(data: Any, path: str = "") -> list[tuple[str, str]]:
    """(config path, variable) for every ``*_env`` field the config sets."""
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if str(key).endswith("_env") and key not in _OPTIONAL_VARIABLES:
                if isinstance(value, str):
                    found.append((where, value))
            else:
                found += _variables(value, where)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found += _variables(item, f"{path}[{index}]")
    return found


def config_map_name(text: str) -> str:
    return "gateway-config-" + hashlib.sha256(text.encode()).hexdigest()[:10]


# --- the component ------------------------------------------------------------------------


class CentralGateway(pulumi.ComponentResource):
    """The central gateway shape; see the module docstring for what it creates."""

    url: pulumi.Output[str]
    service_account: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: CentralGatewayArgs,
        ctx: ShapeContext,
        *,
        routes: Sequence[pulumi.Input[Sequence[RouteDescriptor]]] = (),
        model_peers: Sequence[NetworkPeer] = (),
        aws_role_arn: pulumi.Input[str] | None = None,
        audit_sink: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``aws_role_arn``: the IRSA role a serving shape created for the gateway (e.g.
        Bedrock over PrivateLink); ``args.identity.aws_role_arn`` takes precedence.
        ``audit_sink``: the environment's audit archive (see :func:`gateway_config`)."""
        placement = args.cluster.resolve(ctx)
        extra = [r.descriptor() for r in args.routes]
        for index, route in enumerate(extra):
            if route.jurisdiction not in ctx.jurisdictions:
                raise ResidencyViolation(
                    POLICY_ROUTES,
                    f"routes[{index}].jurisdiction",
                    f"got {route.jurisdiction!r}; expected one of "
                    f"{', '.join(sorted(ctx.jurisdictions))}",
                )
        super().__init__("gatehouse:components:CentralGateway", name, None, opts)
        self._name = name
        self._args = args
        self._ctx = ctx
        self._placement = placement
        child = pulumi.ResourceOptions(parent=self)
        ns = namespace_with_default_deny(name, args.namespace, self._labels(), child)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])

        sa_annotations: dict[str, pulumi.Input[str]] = {}
        role_arn = args.identity.aws_role_arn or aws_role_arn
        if role_arn:
            sa_annotations[IRSA_ANNOTATION] = role_arn
        if args.identity.azure_client_id:
            sa_annotations[AZURE_WI_ANNOTATION] = args.identity.azure_client_id
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=metadata(
                args.service_account_name,
                args.namespace,
                self._labels(),
                annotations=sa_annotations,
            ),
            automount_service_account_token=False,
            opts=in_ns,
        )

        all_routes = pulumi.Output.all(*routes).apply(
            lambda groups: [*[r for g in groups for r in g], *extra]
        )
        config_text = pulumi.Output.all(all_routes, audit_sink).apply(
            lambda parts: render_config(gateway_config(args, ctx, parts[0], parts[1]))
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata(config_text.apply(config_map_name), args.namespace, self._labels()),
            data=config_text.apply(lambda text: {CONFIG_KEY: text}),
            immutable=True,
            opts=in_ns,
        )
        workload_type = k8s.apps.v1.StatefulSet if args.audit_storage else k8s.apps.v1.Deployment
        deployment = workload_type(
            f"{name}-{self._kind.lower()}",
            metadata=metadata(APP, args.namespace, self._labels()),
            spec=self._deployment_spec(config_map.metadata.apply(lambda m: str(m["name"]))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns, account]),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(APP, args.namespace, self._labels()),
            spec={
                "type": "ClusterIP",
                "selector": self._selector(),
                "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
            },
            opts=in_ns,
        )
        self._availability(deployment, in_ns)
        self._network_policy(model_peers, in_ns)
        self._ingress(in_ns)
        self._service_monitor(in_ns)

        self.url = pulumi.Output.from_input(
            f"http://{APP}.{args.namespace}.svc.cluster.local:{PORT}"
        )
        self.service_account = account.metadata.apply(lambda m: str(m["name"]))
        self.config_map = config_map
        self.deployment = deployment
        self.register_outputs({"url": self.url, "service_account": self.service_account})

    # --- labels ------------------------------------------------------------------------

    @property
    def _kind(self) -> str:
        return "StatefulSet" if self._args.audit_storage else "Deployment"

    def _selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": APP, "app.kubernetes.io/instance": self._name}

    def _labels(self) -> dict[str, str]:
        return {
            **self._selector(),
            "app.kubernetes.io/component": "gateway",
            **self._ctx.labels_for(
                region=self._placement.region,
                jurisdiction=self._placement.jurisdiction,
                role=Role.COMPUTE,
                shape=SHAPE,
            ),
        }

    # --- workload ----------------------------------------------------------------------

    def _env(self) -> list[dict[str, Any]]:
        args = self._args
        env: list[dict[str, Any]] = [
            {"name": "GATEHOUSE_CONFIG", "value": CONFIG_PATH},
            {"name": "HOME", "value": STATE_DIR},
            {"name": "TMPDIR", "value": "/tmp"},  # noqa: S108 - an emptyDir of the pod
        ]
        # Read by the OpenTelemetry SDK's resource detection; the exporter and sampler
        # settings are in the config's telemetry section.
        attributes = resource_attributes(args, self._ctx, self._placement)
        env += [
            {"name": "OTEL_SERVICE_NAME", "value": args.telemetry.service_name},
            {
                "name": "OTEL_RESOURCE_ATTRIBUTES",
                "value": ",".join(f"{k}={v}" for k, v in attributes.items()),
            },
        ]
        if args.service_monitor is not None:
            env.append(args.service_monitor.token_secret.env_var(metrics_token_env(args)))
        return env + [s.env_var(s.env) for s in args.secret_env]

    def _deployment_spec(self, config_map: pulumi.Input[str]) -> dict[str, Any]:
        args = self._args
        pod_labels = self._labels()
        if args.identity.azure_client_id:
            pod_labels[AZURE_WI_POD_LABEL] = "true"
        container = {
            "name": "gateway",
            "image": args.image,
            "imagePullPolicy": "Always",
            "args": ["--config", CONFIG_PATH],
            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
            "env": self._env(),
            "resources": args.resources.manifest(),
            "securityContext": container_security_context(read_only_root=True),
            "startupProbe": http_probe("/healthz", "http", period=2, failures=30),
            "readinessProbe": http_probe("/readyz", "http", period=5, failures=3, timeout=3),
            "livenessProbe": http_probe("/healthz", "http", period=10, failures=3),
            "volumeMounts": [
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                {"name": "state", "mountPath": STATE_DIR},
                {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
            ],
        }
        spread = [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": self._selector()},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
        volumes: list[dict[str, Any]] = [
            {"name": "config", "configMap": {"name": config_map}},
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        ]
        spec: dict[str, Any] = {
            "replicas": args.replicas,
            "selector": {"matchLabels": self._selector()},
        }
        if args.audit_storage is None:
            volumes.append({"name": "state", "emptyDir": {"sizeLimit": "1Gi"}})
            spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}
        else:
            spec["serviceName"] = APP
            spec["podManagementPolicy"] = "Parallel"
            spec["volumeClaimTemplates"] = [
                {
                    "metadata": {"name": "state", "labels": self._labels()},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": args.audit_storage.storage_class,
                        "resources": {"requests": {"storage": args.audit_storage.size}},
                    },
                }
            ]
        return {
            **spec,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": args.service_account_name,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(),
                    "containers": [container],
                    "topologySpreadConstraints": spread,
                    "volumes": volumes,
                },
            },
        }

    def _availability(
        self, deployment: pulumi.CustomResource, opts: pulumi.ResourceOptions
    ) -> None:
        args = self._args
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-hpa",
            metadata=metadata(APP, args.namespace, self._labels()),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": self._kind, "name": APP},
                "minReplicas": args.replicas,
                "maxReplicas": args.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": args.target_cpu_utilization,
                            },
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[deployment])
            ),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-pdb",
            metadata=metadata(APP, args.namespace, self._labels()),
            spec=pod_disruption_budget_spec(self._selector()),
            opts=opts,
        )

    def _network_policy(
        self, model_peers: Sequence[NetworkPeer], opts: pulumi.ResourceOptions
    ) -> None:
        args = self._args
        sources = list(args.allowed_namespaces)
        if args.ingress is not None:
            sources.append(args.ingress.controller_namespace)
        ingress = [
            NetworkPeer(namespace=ns, ports=[PORT]).rule("from") for ns in dict.fromkeys(sources)
        ]
        if args.service_monitor is not None:
            ingress += [
                NetworkPeer(namespace=ns, ports=[PORT]).rule("from")
                for ns in [args.service_monitor.prometheus_namespace]
            ]
        egress_peers = [*args.egress.model_endpoints, *model_peers, args.egress.postgres]
        optional = (args.egress.redis, args.egress.otel_collector, args.egress.audit_archive)
        egress_peers += [p for p in optional if p]
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol",
            metadata=metadata(APP, args.namespace, self._labels()),
            spec=network_policy_spec(
                self._selector(),
                ingress,
                [dns_egress_rule(), *(p.rule("to") for p in egress_peers)],
            ),
            opts=opts,
        )

    def _ingress(self, opts: pulumi.ResourceOptions) -> None:
        spec = self._args.ingress
        if spec is None:
            return
        k8s.networking.v1.Ingress(
            f"{self._name}-ingress",
            metadata=metadata(
                APP, self._args.namespace, self._labels(), annotations=dict(spec.annotations)
            ),
            spec={
                "ingressClassName": spec.class_name,
                "tls": [{"hosts": [spec.host], "secretName": spec.tls_secret}],
                "rules": [
                    {
                        "host": spec.host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": APP, "port": {"number": PORT}}},
                                }
                            ]
                        },
                    }
                ],
            },
            opts=opts,
        )

    def _service_monitor(self, opts: pulumi.ResourceOptions) -> None:
        spec = self._args.service_monitor
        if spec is None:
            return
        k8s.apiextensions.CustomResource(
            f"{self._name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=metadata(APP, self._args.namespace, {**self._labels(), **spec.labels}),
            spec={
                "selector": {"matchLabels": self._selector()},
                "endpoints": [
                    {
                        "port": "http",
                        "path": "/metrics",
                        "interval": spec.interval,
                        "authorization": {
                            "type": "Bearer",
                            "credentials": {
                                "name": spec.token_secret.secret,
                                "key": spec.token_secret.key,
                            },
                        },
                    }
                ],
            },
            opts=opts,
        )


def route_inputs(built: Mapping[str, Any]) -> tuple[list[Any], list[NetworkPeer]]:
    """The route descriptors and in-cluster network peers the built shapes offer."""
    routes = [c.route_descriptors for c in built.values() if hasattr(c, "route_descriptors")]
    peers = [p for c in built.values() for p in getattr(c, "network_peers", ())]
    return routes, peers


def audit_sink_of(built: Mapping[str, Any]) -> Any:
    """The sink URL of the environment's audit archive, if one was built."""
    return getattr(built.get("audit_archive"), "sink", None)


def gateway_role(built: Mapping[str, Any]) -> Any:
    """The IRSA role a built serving shape created for the gateway, if any."""
    roles = [c.role_arn for c in built.values() if hasattr(c, "role_arn")]
    return roles[0] if roles else None
