"""The central gateway shape: its config comes from the gateway's own model; secure defaults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime.settings import SETTINGS
from pydantic import ValidationError

from components.central_gateway import (
    AZURE_WI_ANNOTATION,
    AZURE_WI_POD_LABEL,
    CONFIG_KEY,
    IRSA_ANNOTATION,
    POLICY_ROUTES,
    CentralGateway,
    CentralGatewayArgs,
    config_map_name,
    gateway_config,
)
from components.common import Price, ResidencyViolation, RouteDescriptor, ShapeContext
from components.k8s_security import NetworkPeer
from gateway.config import GatewayConfig, parse_config
from stacks.render import RenderError, Rendering, render

ROOT = Path(__file__).resolve().parents[2]
CTX = ShapeContext(
    environment="test",
    business_unit="retail",
    cost_center="CC-1",
    data_classification="confidential",
    jurisdictions=frozenset({"eu"}),
)
VLLM_ROUTE = RouteDescriptor(
    provider="openai",
    model="llama",
    region="onprem-fra1",
    jurisdiction="eu",
    settings={
        "base_url": "https://llama.vllm.svc.cluster.local:8000/v1",
        "model": "llama",
        "api_key_env": "VLLM_API_KEY_LLAMA",
    },
    price=Price(input_per_mtok=0.1, output_per_mtok=0.2),
)
AZURE_ROUTE = RouteDescriptor(
    provider="azure_openai",
    model="gpt-4o",
    region="swedencentral",
    jurisdiction="eu",
    settings={
        "endpoint": "https://aoai.openai.azure.com/",
        "deployment": "gpt-4o",
        "api_version": "2024-10-21",
    },
)
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
ROLE_ARN = "arn:aws:iam::111122223333:role/gatehouse-gateway"


def make_args(**overrides: Any) -> CentralGatewayArgs:
    data: dict[str, Any] = {
        "cluster": {"region": "eu-central-1"},
        "image": "registry.example/gatehouse/gateway:0.1.0",
        "store_url": "postgresql://gatehouse@pg.internal:5432/gatehouse",
        "secret_env": [
            {"env": "PGPASSWORD", "secret": "store", "key": "password"},
            {"env": "VLLM_API_KEY_LLAMA", "secret": "upstreams", "key": "llama"},
        ],
        "allowed_namespaces": ["apps"],
        "egress": {
            "postgres": {"cidrs": ["10.0.1.0/28"], "ports": [5432]},
            "model_endpoints": [{"cidrs": ["10.0.2.0/24"], "ports": [443]}],
        },
    }
    data.update(overrides)
    return CentralGatewayArgs.model_validate(data)


def build(
    args: CentralGatewayArgs | None = None,
    routes: list[RouteDescriptor] | None = None,
    peers: list[NetworkPeer] | None = None,
) -> Rendering:
    chosen = args or make_args()
    return render(
        lambda: CentralGateway(
            "gw",
            chosen,
            CTX,
            routes=[routes if routes is not None else [VLLM_ROUTE]],
            model_peers=peers or [],
        )
    )


def one(rendering: Rendering, type_: str) -> dict[str, Any]:
    found = rendering.of_type(type_)
    assert len(found) == 1, f"{type_}: {len(found)}"
    return found[0].inputs


def pod(rendering: Rendering) -> dict[str, Any]:
    spec: dict[str, Any] = one(rendering, "kubernetes:apps/v1:Deployment")["spec"]
    return spec


def container(rendering: Rendering) -> dict[str, Any]:
    found: dict[str, Any] = pod(rendering)["template"]["spec"]["containers"][0]
    return found


@pytest.fixture(scope="module")
def default() -> Rendering:
    return build()


def test_deployment_defaults(default: Rendering) -> None:
    spec = pod(default)
    assert spec["replicas"] >= 2
    c = container(default)
    assert c["image"] == "registry.example/gatehouse/gateway:0.1.0"
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    pod_sc = spec["template"]["spec"]["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] >= 10000
    assert set(c["resources"]["requests"]) == {"cpu", "memory"}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"}
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    keys = {t["topologyKey"] for t in spec["template"]["spec"]["topologySpreadConstraints"]}
    assert "topology.kubernetes.io/zone" in keys
    assert spec["template"]["spec"]["automountServiceAccountToken"] is False


def test_config_map_is_what_the_gateway_loads(default: Rendering) -> None:
    config_map = one(default, "kubernetes:core/v1:ConfigMap")
    text = config_map["data"][CONFIG_KEY]
    loaded = parse_config(yaml.safe_load(text))
    assert loaded == gateway_config(make_args(), CTX, [VLLM_ROUTE])
    assert loaded.store == "postgresql://gatehouse@pg.internal:5432/gatehouse"
    assert loaded.jurisdictions == ["eu"]
    route = loaded.model("llama")
    assert route is not None and route.deployments[0].jurisdiction == "eu"
    assert config_map["metadata"]["name"] == config_map_name(text)
    volumes = pod(default)["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": config_map_name(text)}} in volumes


def test_config_map_name_follows_the_content() -> None:
    first = gateway_config(make_args(), CTX, [VLLM_ROUTE])
    second = gateway_config(make_args(), CTX, [VLLM_ROUTE, AZURE_ROUTE])
    assert first != second
    assert config_map_name("a") != config_map_name("b")


def test_azure_routes_use_the_workload_identity() -> None:
    args = make_args(identity={"azure_client_id": CLIENT_ID})
    config = gateway_config(args, CTX, [AZURE_ROUTE])
    deployment = config.models[0].deployments[0]
    assert deployment.provider == "azure_openai"
    assert deployment.auth == "managed_identity"
    assert deployment.managed_identity_client_id == CLIENT_ID


def test_no_secret_values_in_state(default: Rendering) -> None:
    assert not default.of_type("kubernetes:core/v1:Secret")
    env = {e["name"]: e for e in container(default)["env"]}
    for name in ("PGPASSWORD", "VLLM_API_KEY_LLAMA"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] in {"store", "upstreams"}


def test_a_route_key_with_no_secret_is_refused() -> None:
    args = make_args(secret_env=[{"env": "PGPASSWORD", "secret": "store", "key": "password"}])
    with pytest.raises(ValueError, match="VLLM_API_KEY_LLAMA"):
        gateway_config(args, CTX, [VLLM_ROUTE])


@pytest.fixture
def failing_render() -> Iterator[None]:
    """A render that fails leaves output tasks of its closed event loop behind; drop them."""
    yield
    SETTINGS.outputs.clear()


def test_a_config_the_gateway_rejects_is_never_rendered(failing_render: None) -> None:
    plain = RouteDescriptor(
        provider="openai",
        model="x",
        region="onprem-fra1",
        jurisdiction="eu",
        settings={"base_url": "http://x.svc:8000/v1", "model": "x"},
    )
    with pytest.raises(ValueError, match="base_url"):
        gateway_config(make_args(), CTX, [plain])
    with pytest.raises(RenderError, match="base_url"):
        build(routes=[plain])


def test_route_outside_the_zone_is_refused() -> None:
    us = RouteDescriptor(
        provider="azure_openai",
        model="gpt-4o",
        region="eastus",
        jurisdiction="us",
        settings=dict(AZURE_ROUTE.settings),
    )
    with pytest.raises(ResidencyViolation) as caught:
        gateway_config(make_args(), CTX, [us])
    assert caught.value.policy == POLICY_ROUTES
    extra = make_args(
        routes=[{"provider": "openai", "model": "m", "region": "us-east-1", "jurisdiction": "us"}]
    )
    with pytest.raises(ResidencyViolation) as again:
        CentralGateway("gw", extra, CTX)
    assert again.value.field_path == "routes[0].jurisdiction"


def test_cluster_outside_the_zone_is_refused() -> None:
    # Refused before anything is registered, so no render is needed.
    with pytest.raises(ResidencyViolation, match="us-east-1") as caught:
        CentralGateway("gw", make_args(cluster={"region": "us-east-1"}), CTX)
    assert caught.value.field_path == "cluster.region"
    with pytest.raises(ResidencyViolation, match="onprem-nyc"):
        CentralGateway("gw", make_args(cluster={"site": "onprem-nyc", "jurisdiction": "us"}), CTX)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"image": "registry.example/gatehouse/gateway:latest"}, "image"),
        ({"image": "registry.example/gatehouse/gateway"}, "image"),
        ({"replicas": 1}, "replicas"),
        ({"store_url": "sqlite:///./gatehouse.db"}, "store_url"),
        ({"settings": {"models": []}}, "settings"),
        ({"cluster": {"region": "eu-central-1", "site": "x"}}, "cluster"),
        ({"cluster": {"site": "onprem-fra1"}}, "cluster"),
        ({"egress": {"postgres": {"cidrs": ["0.0.0.0/0"], "ports": [5432]}}}, "egress"),
    ],
)
def test_unsafe_or_invalid_args_are_refused(override: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_args(**override)
    assert caught.value.errors()[0]["loc"][0] == field


def test_default_audit_log_is_on_an_empty_dir(default: Rendering) -> None:
    volumes = {v["name"]: v for v in pod(default)["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["state"]
    assert pod(default)["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_audit_storage_keeps_the_log_on_a_volume_per_replica() -> None:
    rendering = build(make_args(audit_storage={"storage_class": "ssd", "size": "20Gi"}))
    assert not rendering.of_type("kubernetes:apps/v1:Deployment")
    (sts,) = rendering.of_type("kubernetes:apps/v1:StatefulSet")
    (claim,) = sts.inputs["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "state"
    assert claim["spec"]["storageClassName"] == "ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    volumes = {v["name"] for v in sts.inputs["spec"]["template"]["spec"]["volumes"]}
    assert "state" not in volumes
    hpa = one(rendering, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"


def test_service_account_annotations() -> None:
    rendering = build(make_args(identity={"aws_role_arn": ROLE_ARN, "azure_client_id": CLIENT_ID}))
    sa = one(rendering, "kubernetes:core/v1:ServiceAccount")
    assert sa["metadata"]["annotations"] == {
        IRSA_ANNOTATION: ROLE_ARN,
        AZURE_WI_ANNOTATION: CLIENT_ID,
    }
    assert sa["automountServiceAccountToken"] is False
    labels = pod(rendering)["template"]["metadata"]["labels"]
    assert labels[AZURE_WI_POD_LABEL] == "true"


def test_service_is_cluster_ip_and_no_ingress_by_default(default: Rendering) -> None:
    assert one(default, "kubernetes:core/v1:Service")["spec"]["type"] == "ClusterIP"
    assert not default.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    assert not default.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")


def test_ingress_is_tls_only_with_an_internal_class() -> None:
    ingress = {"host": "llm.internal", "tls_secret": "llm-tls", "controller_namespace": "ingress"}
    rendering = build(make_args(ingress=ingress))
    spec = one(rendering, "kubernetes:networking.k8s.io/v1:Ingress")["spec"]
    assert spec["ingressClassName"] == "internal"
    assert spec["tls"] == [{"hosts": ["llm.internal"], "secretName": "llm-tls"}]
    netpol = _gateway_netpol(rendering)
    sources = [r["from"][0]["namespaceSelector"]["matchLabels"] for r in netpol["ingress"]]
    assert {"kubernetes.io/metadata.name": "ingress"} in sources


def _gateway_netpol(rendering: Rendering) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        r.inputs["spec"]
        for r in rendering.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.inputs["spec"].get("podSelector")
    ]
    assert len(found) == 1
    return found[0]


def test_network_policy_denies_by_default_and_admits_only_what_is_needed() -> None:
    peer = NetworkPeer(namespace="vllm", pod_labels={"app": "llama"}, ports=[8000])
    rendering = build(peers=[peer])
    policies = rendering.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    deny = [p.inputs["spec"] for p in policies if not p.inputs["spec"].get("podSelector")]
    assert deny == [{"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}]
    spec = _gateway_netpol(rendering)
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    sources = [r["from"][0]["namespaceSelector"]["matchLabels"] for r in spec["ingress"]]
    assert sources == [{"kubernetes.io/metadata.name": "apps"}]
    destinations = [r["to"][0] for r in spec["egress"]]
    assert destinations[0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {"ipBlock": {"cidr": "10.0.1.0/28"}} in destinations  # PostgreSQL
    assert {"ipBlock": {"cidr": "10.0.2.0/24"}} in destinations  # model endpoints
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "vllm"}},
        "podSelector": {"matchLabels": {"app": "llama"}},
    } in destinations
    assert len(destinations) == 4


def test_namespace_enforces_restricted_pod_security(default: Rendering) -> None:
    labels = one(default, "kubernetes:core/v1:Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_availability(default: Rendering) -> None:
    hpa = one(default, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] == 2 and hpa["maxReplicas"] == 6
    pdb = one(default, "kubernetes:policy/v1:PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1
    assert (
        pdb["selector"]["matchLabels"].items()
        <= pod(default)["template"]["metadata"]["labels"].items()
    )


def test_telemetry_goes_into_the_gateway_config() -> None:
    args = make_args(telemetry={"otlp_endpoint": "https://otel.observability.svc:4318"})
    telemetry = gateway_config(args, CTX, [VLLM_ROUTE]).telemetry
    assert telemetry.otlp_endpoint == "https://otel.observability.svc:4318"
    assert telemetry.allow_insecure_http is False
    assert telemetry.resource_attributes["gatehouse.jurisdiction"] == "eu"
    assert telemetry.resource_attributes["gatehouse.region"] == "eu-central-1"
    env = {e["name"]: e.get("value") for e in container(build(args))["env"]}
    assert "gatehouse.jurisdiction=eu" in env["OTEL_RESOURCE_ATTRIBUTES"]


def test_plain_http_export_needs_the_opt_in() -> None:
    plain = make_args(telemetry={"otlp_endpoint": "http://otel.observability.svc:4318"})
    with pytest.raises(ValueError, match="otlp_endpoint"):
        gateway_config(plain, CTX, [VLLM_ROUTE])
    opted = make_args(
        telemetry={
            "otlp_endpoint": "http://otel.observability.svc:4318",
            "allow_insecure_http": True,
        }
    )
    assert gateway_config(opted, CTX, [VLLM_ROUTE]).telemetry.allow_insecure_http is True


def test_service_monitor_scrapes_with_a_token_from_a_secret() -> None:
    monitor_args = {
        "token_secret": {"secret": "metrics", "key": "token"},
        "labels": {"release": "prom"},
    }
    rendering = build(make_args(service_monitor=monitor_args))
    monitor = one(rendering, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["authorization"]["credentials"] == {"name": "metrics", "key": "token"}
    env = {e["name"]: e for e in container(rendering)["env"]}
    assert env["GATEHOUSE_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "metrics"
    sources = [
        r["from"][0]["namespaceSelector"]["matchLabels"]
        for r in _gateway_netpol(rendering)["ingress"]
    ]
    assert {"kubernetes.io/metadata.name": "monitoring"} in sources


def test_audit_trail_goes_to_the_archive() -> None:
    config = gateway_config(make_args(), CTX, [VLLM_ROUTE], audit_sink="s3://archive/audit")
    assert config.audit.sink == "s3://archive/audit"
    assert str(config.audit.dir) == "/var/lib/gatehouse/audit"
    own = make_args(settings={"audit": {"sink": "s3://own/trail"}})
    assert gateway_config(own, CTX, [VLLM_ROUTE], "s3://archive/audit").audit.sink == (
        "s3://own/trail"
    )


def test_the_component_hands_the_archive_sink_to_the_config() -> None:
    rendering = render(
        lambda: CentralGateway(
            "gw", make_args(), CTX, routes=[[VLLM_ROUTE]], audit_sink="s3://archive/audit"
        )
    )
    text = one(rendering, "kubernetes:core/v1:ConfigMap")["data"][CONFIG_KEY]
    assert yaml.safe_load(text)["audit"]["sink"] == "s3://archive/audit"


def test_every_variable_the_config_names_must_come_from_a_secret() -> None:
    signed = make_args(settings={"audit": {"signing_key_env": "AUDIT_KEY"}})
    with pytest.raises(ValueError, match=r"audit\.signing_key_env"):
        gateway_config(signed, CTX, [VLLM_ROUTE])
    redis = make_args(settings={"limits": {"backend": "redis"}})
    with pytest.raises(ValueError, match="GATEHOUSE_REDIS_URL"):
        gateway_config(redis, CTX, [VLLM_ROUTE])
    # The admin key is optional: without it the admin API is off.
    assert gateway_config(make_args(), CTX, [VLLM_ROUTE]).auth.admin_key_env


def test_every_object_carries_the_policy_labels(default: Rendering) -> None:
    for r in default.resources:
        if r.type.startswith("kubernetes:"):
            labels = r.inputs["metadata"]["labels"]
            assert labels["gatehouse.dev/jurisdiction"] == "eu", r.name
            assert labels["gatehouse.dev/region"] == "eu-central-1", r.name
            assert labels["gatehouse.dev/shape"] == "central_gateway", r.name
            assert labels["gatehouse.dev/role"] == "compute", r.name


def test_outputs(default: Rendering) -> None:
    del default  # the outputs are read from a fresh component
    seen: dict[str, Any] = {}

    def program() -> None:
        gw = CentralGateway("gw", make_args(), CTX, routes=[[VLLM_ROUTE]])
        gw.url.apply(lambda v: seen.__setitem__("url", v))
        gw.service_account.apply(lambda v: seen.__setitem__("sa", v))

    render(program)
    assert seen == {
        "url": "http://gatehouse-gateway.gatehouse.svc.cluster.local:8080",
        "sa": "gatehouse-gateway",
    }


def test_config_is_a_gateway_config_type() -> None:
    assert isinstance(gateway_config(make_args(), CTX, [VLLM_ROUTE]), GatewayConfig)


# --- the image ----------------------------------------------------------------------------

DOCKERFILE = (ROOT / "gateway" / "Dockerfile").read_text(encoding="utf-8")
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|make|build-essential|apt-get install)\b")


def _stages() -> list[str]:
    return re.split(r"(?m)^FROM ", DOCKERFILE)[1:]


def test_image_is_multi_stage_and_final_stage_is_lean() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert "COPY --from=build" in final
    assert not BUILD_TOOLS.search(final)
    assert "pip install" not in final


def test_image_runs_as_a_non_root_numeric_user() -> None:
    users = re.findall(r"(?m)^USER (\S+)", _stages()[-1])
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000


def test_image_base_is_pinned_and_entrypoint_is_the_gateway() -> None:
    base = re.search(r"(?m)^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE)
    assert base is not None and ":" in base.group(1) and "latest" not in base.group(1)
    assert 'ENTRYPOINT ["python", "-m", "gateway"]' in DOCKERFILE
