"""The on-prem GPU vLLM shape: air-gapped, GPU-scheduled, locked down, routed to the gateway."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from components.common import ResidencyViolation, ShapeContext
from components.k8s_security import POLICY_K8S_JURISDICTION
from components.vllm_nodes import GPU_RESOURCE, VllmNodes, VllmNodesArgs
from stacks.render import Rendering, render

CTX = ShapeContext(
    environment="test",
    business_unit="retail",
    cost_center="CC-1",
    data_classification="confidential",
    jurisdictions=frozenset({"eu"}),
)
DIGEST = "sha256:" + "b" * 64


def model(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "llama",
        "weights": {"pvc": {"claim_name": "llama-weights"}, "path": "meta/llama"},
        "gpus": 2,
        "max_model_len": 8192,
        "gpu_memory_utilization": 0.85,
        "api_key": {"secret": "vllm-keys", "key": "llama"},
    }
    data.update(overrides)
    return data


def make_args(**overrides: Any) -> VllmNodesArgs:
    data: dict[str, Any] = {
        "cluster": {"site": "onprem-fra1", "jurisdiction": "eu"},
        "image": "registry.internal/vllm/vllm-openai:v0.11.0",
        "tls_secret": "vllm-tls",
        "models": [model()],
    }
    data.update(overrides)
    return VllmNodesArgs.model_validate(data)


def build(args: VllmNodesArgs | None = None) -> Rendering:
    chosen = args or make_args()
    return render(lambda: VllmNodes("vllm", chosen, CTX))


def pod(rendering: Rendering, type_: str = "kubernetes:apps/v1:Deployment") -> dict[str, Any]:
    (workload,) = rendering.of_type(type_)
    spec: dict[str, Any] = workload.inputs["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def default() -> Rendering:
    return build()


def test_server_arguments(default: Rendering) -> None:
    args = pod(default)["containers"][0]["args"]
    flags = dict(zip(args[::2], args[1::2], strict=True))
    assert flags["--served-model-name"] == "llama"
    assert flags["--tensor-parallel-size"] == "2"
    assert flags["--max-model-len"] == "8192"
    assert flags["--gpu-memory-utilization"] == "0.85"
    assert flags["--model"] == "/models/meta/llama"
    assert flags["--ssl-certfile"].endswith("tls.crt")


def test_air_gapped_and_key_from_a_secret(default: Rendering) -> None:
    env = {e["name"]: e for e in pod(default)["containers"][0]["env"]}
    assert env["HF_HUB_OFFLINE"]["value"] == "1"
    assert env["VLLM_NO_USAGE_STATS"]["value"] == "1"
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "vllm-keys", "key": "llama"}
    assert not default.of_type("kubernetes:core/v1:Secret")
    volumes = {v["name"]: v for v in pod(default)["volumes"]}
    assert volumes["weights"]["persistentVolumeClaim"] == {
        "claimName": "llama-weights",
        "readOnly": True,
    }


def test_gpu_scheduling_and_shared_memory(default: Rendering) -> None:
    spec = pod(default)
    resources = spec["containers"][0]["resources"]
    assert resources["limits"][GPU_RESOURCE] == "2"
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert spec["tolerations"][0]["key"] == GPU_RESOURCE
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert "/dev/shm" in mounts
    assert "runtimeClassName" not in spec
    with_runtime = pod(build(make_args(runtime_class_name="nvidia")))
    assert with_runtime["runtimeClassName"] == "nvidia"


def test_never_shares_host_namespaces_and_runs_restricted(default: Rendering) -> None:
    spec = pod(default)
    assert spec["hostIPC"] is False and spec["hostPID"] is False and spec["hostNetwork"] is False
    sc = spec["containers"][0]["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True


def test_probes_are_sized_for_model_load(default: Rendering) -> None:
    c = pod(default)["containers"][0]
    startup = c["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"


def test_network_policy_admits_only_the_gateway(default: Rendering) -> None:
    policies = default.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    allow = [p.inputs["spec"] for p in policies if p.inputs["spec"]["podSelector"]]
    assert len(allow) == 1
    sources = [r["from"][0]["namespaceSelector"]["matchLabels"] for r in allow[0]["ingress"]]
    assert sources == [{"kubernetes.io/metadata.name": "gatehouse"}]
    assert len(allow[0]["egress"]) == 1  # DNS only
    assert default.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    assert default.of_type("kubernetes:core/v1:Service")


def test_labels_name_the_site_and_its_jurisdiction(default: Rendering) -> None:
    for r in default.resources:
        if r.type.startswith("kubernetes:"):
            labels = r.inputs["metadata"]["labels"]
            assert labels["gatehouse.dev/site"] == "onprem-fra1", r.name
            assert labels["gatehouse.dev/jurisdiction"] == "eu", r.name
            assert labels["gatehouse.dev/role"] == "model-endpoint", r.name


def test_route_descriptors_for_the_gateway() -> None:
    seen: list[Any] = []

    def program() -> None:
        nodes = VllmNodes("vllm", make_args(), CTX)
        nodes.route_descriptors.apply(seen.extend)

    render(program)
    (route,) = seen
    assert route.provider == "openai" and route.model == "llama"
    assert route.region == "onprem-fra1" and route.jurisdiction == "eu"
    assert route.settings["base_url"] == "https://llama.vllm.svc.cluster.local:8000/v1"
    assert route.settings["api_key_env"] == "VLLM_API_KEY_LLAMA"
    assert "allow_insecure_http" not in route.settings


def test_plain_http_needs_the_explicit_opt_in() -> None:
    with pytest.raises(ValidationError, match="tls_secret"):
        make_args(tls_secret=None)
    args = make_args(tls_secret=None, allow_insecure_http=True)
    nodes_routes: list[Any] = []
    render(lambda: VllmNodes("vllm", args, CTX).route_descriptors.apply(nodes_routes.extend))
    assert nodes_routes[0].settings["allow_insecure_http"] is True
    assert nodes_routes[0].settings["base_url"].startswith("http://")


def test_new_weights_claim_and_registry_image() -> None:
    pvc = {"pvc": {"storage_class": "ssd", "size": "100Gi"}, "path": "m"}
    rendering = build(make_args(models=[model(weights=pvc)]))
    (claim,) = rendering.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.inputs["spec"]["storageClassName"] == "ssd"
    image = {"registry_image": f"registry.internal/weights/llama@{DIGEST}", "path": "m"}
    spec = pod(build(make_args(models=[model(weights=image)])))
    (init,) = spec["initContainers"]
    assert init["image"].endswith(DIGEST)
    assert init["securityContext"]["allowPrivilegeEscalation"] is False


def test_statefulset_and_keda() -> None:
    keda = {"prometheus_url": "http://prometheus.monitoring:9090", "threshold": 3}
    rendering = build(make_args(workload="StatefulSet", models=[model(keda=keda)]))
    assert rendering.of_type("kubernetes:apps/v1:StatefulSet")
    (scaled,) = rendering.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
    trigger = scaled.inputs["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus"
    assert "vllm:num_requests_waiting" in trigger["metadata"]["query"]
    assert scaled.inputs["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"


@pytest.mark.parametrize(
    "override",
    [
        {"image": "vllm/vllm-openai:latest"},
        {"image": "vllm/vllm-openai"},
        {"models": [model(extra_args=["--trust-remote-code"])]},
        {"models": [model(extra_args=["--api-key", "x"])]},
        {"models": [model(weights={"path": "m"})]},
        {"models": [model(weights={"pvc": {"claim_name": "c"}, "path": "../etc"})]},
        {"models": [model(), model()]},
        {"cluster": {"site": "onprem-fra1"}},
        {"tls_secret": "t", "allow_insecure_http": True},
    ],
    ids=[
        "latest",
        "untagged",
        "remote-code",
        "managed-flag",
        "no-weights",
        "path-escape",
        "duplicate",
        "site-without-jurisdiction",
        "tls-and-plain",
    ],
)
def test_unsafe_or_invalid_args_are_refused(override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make_args(**override)


def test_site_outside_the_zone_is_refused() -> None:
    args = make_args(cluster={"site": "onprem-nyc", "jurisdiction": "us"})
    with pytest.raises(ResidencyViolation) as caught:
        VllmNodes("vllm", args, CTX)
    assert caught.value.policy == POLICY_K8S_JURISDICTION
    assert caught.value.field_path == "cluster.site"
