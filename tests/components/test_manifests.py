"""Checks beyond our own: the rendered manifests against upstream Kubernetes schemas and checkov.

Every Kubernetes object the shipped environments (onprem-eu, prod-eu) and the optional
features of both Kubernetes shapes render is validated with kubernetes-validate against
the newest 1.3x schema the installed package ships, in strict mode (unknown fields fail).
Custom resources (KEDA, Prometheus operator) have no upstream schema: see CUSTOM_KINDS.

checkov's Kubernetes framework then runs over the same manifests, written as YAML. checkov
pins dependencies that conflict with the project's (it would downgrade boto3, botocore and
packaging), so it runs from its own virtualenv, created once by the fixture below under the
user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``, then ``gatehouse/``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components.central_gateway import CentralGateway, CentralGatewayArgs
from components.common import RouteDescriptor, ShapeContext
from components.vllm_nodes import VllmNodes, VllmNodesArgs
from stacks.gate import Project, render_environment
from stacks.render import Rendering, render

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("onprem-eu", "prod-eu")
CHECKOV_REQUIREMENT = "checkov==3.3.30"

# Custom resources: their CRDs belong to the operators (KEDA, Prometheus operator), and
# kubernetes-validate ships only the upstream Kubernetes API schemas.
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}

# checkov checks skipped, each with its reason. Nothing else may be skipped or fail.
CHECKOV_SKIPS = {
    "CKV_K8S_43": (
        "Image should use digest: the shapes accept an image pinned by a version tag or by a "
        "digest (both refuse 'latest' and untagged references, as policy "
        "k8s-pod-image-pinned does); the shipped environments use release tags"
    ),
    "CKV_K8S_35": (
        "Prefer secrets as files: the gateway's config names environment variables for its "
        "secrets (api_key_env, PGPASSWORD) and vLLM reads its key from VLLM_API_KEY; both "
        "come from secretKeyRef, never from a value in the manifest or in state"
    ),
}

CTX = ShapeContext(
    environment="manifests",
    business_unit="retail",
    cost_center="CC-1",
    data_classification="confidential",
    jurisdictions=frozenset({"eu"}),
)


def newest_13x_schema() -> str:
    """The newest 1.3x Kubernetes version whose strict schema the package ships."""
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    versions = []
    for entry in schemas.iterdir():
        match = re.fullmatch(r"v(1)\.(3\d)\.(\d+)-local-strict", entry.name)
        if match:
            versions.append(tuple(int(p) for p in match.groups()))
    assert versions, "kubernetes-validate ships no 1.3x schema"
    return ".".join(map(str, max(versions)))


def _ints(value: Any) -> Any:
    """The engine's protobuf Struct carries every number as a double; 2.0 is the int 2."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def manifests_of(rendering: Rendering, source: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{source}/{r.name}", _ints(r.inputs))
        for r in rendering.resources
        if r.custom and r.type.startswith("kubernetes:")
    ]


def _optional_features() -> Rendering:
    """Both shapes with every optional Kubernetes object switched on."""
    gateway = CentralGatewayArgs.model_validate(
        {
            "cluster": {"region": "eu-central-1"},
            "image": "registry.example/gatehouse/gateway:0.1.0",
            "store_url": "postgresql://gatehouse@pg:5432/gatehouse",
            "secret_env": [{"env": "VLLM_API_KEY_LLAMA", "secret": "up", "key": "llama"}],
            "identity": {
                "aws_role_arn": "arn:aws:iam::111122223333:role/gw",
                "azure_client_id": "11111111-2222-3333-4444-555555555555",
            },
            "egress": {"postgres": {"cidrs": ["10.0.0.0/28"], "ports": [5432]}},
            "audit_storage": {"storage_class": "ssd"},
            "ingress": {"host": "llm.internal", "tls_secret": "t", "controller_namespace": "in"},
            "service_monitor": {
                "token_secret": {"secret": "metrics", "key": "token"},
                "labels": {"release": "prom"},
            },
            "telemetry": {"otlp_endpoint": "https://otel.observability.svc:4318"},
        }
    )
    nodes = VllmNodesArgs.model_validate(
        {
            "cluster": {"site": "onprem-fra1", "jurisdiction": "eu"},
            "namespace": "vllm-sts",
            "image": "registry.internal/vllm/vllm-openai:v0.11.0",
            "workload": "StatefulSet",
            "runtime_class_name": "nvidia",
            "tls_secret": "vllm-tls",
            "models": [
                {
                    "name": "llama",
                    "weights": {
                        "registry_image": "registry.internal/weights/llama:2025-01",
                        "path": "llama",
                    },
                    "max_model_len": 8192,
                    "api_key": {"secret": "k", "key": "llama"},
                    "keda": {"prometheus_url": "http://prometheus.monitoring:9090"},
                }
            ],
        }
    )
    route = RouteDescriptor(
        provider="openai",
        model="llama",
        region="onprem-fra1",
        jurisdiction="eu",
        settings={
            "base_url": "https://llama.vllm-sts.svc:8000/v1",
            "model": "llama",
            "api_key_env": "VLLM_API_KEY_LLAMA",
        },
    )

    def program() -> None:
        VllmNodes("vllm", nodes, CTX)
        CentralGateway("gw", gateway, CTX, routes=[[route]])

    return render(program)


@pytest.fixture(scope="module")
def manifests() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for environment in ENVIRONMENTS:
        rendered = render_environment(Project(ROOT), environment).rendering
        assert rendered is not None, environment
        found += manifests_of(rendered, environment)
    found += manifests_of(_optional_features(), "options")
    return found


def test_every_kind_is_covered(manifests: list[tuple[str, dict[str, Any]]]) -> None:
    kinds = {m["kind"] for _, m in manifests}
    assert {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "StatefulSet",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "ScaledObject",
        "ServiceMonitor",
    } <= kinds


def test_manifests_validate_against_upstream_schemas(
    manifests: list[tuple[str, dict[str, Any]]],
) -> None:
    version = newest_13x_schema()
    checked = 0
    for name, manifest in manifests:
        if (manifest["apiVersion"], manifest["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked >= 40


def test_schema_validation_can_fail() -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"type": "ClusterIP", "portz": []},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, newest_13x_schema(), strict=True)


# --- checkov ------------------------------------------------------------------------------


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gatehouse" / CHECKOV_REQUIREMENT.replace("==", "-")


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov's executable, in a virtualenv of its own (created on first use)."""
    target = _cache_dir()
    exe = target / "bin" / "checkov"
    if exe.exists():
        return exe
    building = target.with_name(target.name + ".partial")
    shutil.rmtree(building, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(building)
    result = subprocess.run(
        [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", CHECKOV_REQUIREMENT],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"installing {CHECKOV_REQUIREMENT} failed:\n{result.stderr}"
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    # The scripts name the interpreter by the path they were installed under.
    for script in (target / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            text = script.read_bytes()
            if text.startswith(b"#!") and str(building).encode() in text:
                script.write_bytes(text.replace(str(building).encode(), str(target).encode()))
    return exe


def run_checkov(checkov: Path, directory: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--skip-check",
            ",".join(sorted(CHECKOV_SKIPS)),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "PYTHONWARNINGS": "ignore"},
    )
    assert result.stdout.strip(), f"checkov printed nothing:\n{result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    assert isinstance(report, dict), report
    return report


def _write(directory: Path, manifests: list[tuple[str, dict[str, Any]]]) -> None:
    for index, (name, manifest) in enumerate(manifests):
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        (directory / f"{index:03d}-{safe}.yaml").write_text(
            yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8"
        )


@pytest.fixture(scope="module")
def workload_dir(
    tmp_path_factory: pytest.TempPathFactory, manifests: list[tuple[str, dict[str, Any]]]
) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("manifests")
    _write(directory, manifests)
    yield directory


def test_checkov_passes_on_the_rendered_manifests(checkov: Path, workload_dir: Path) -> None:
    report = run_checkov(checkov, workload_dir)
    results = report["results"]
    failed = [
        f"{c['check_id']} {c['check_name']} on {c['resource']}" for c in results["failed_checks"]
    ]
    assert failed == []
    assert results["parsing_errors"] == []
    assert report["summary"]["passed"] > 200
    skipped = {c["check_id"] for c in results["skipped_checks"]}
    assert skipped <= set(CHECKOV_SKIPS)


def test_checkov_catches_an_unsafe_pod(checkov: Path, tmp_path: Path) -> None:
    rendering = render_environment(Project(ROOT), "onprem-eu").rendering
    assert rendering is not None
    unsafe = [m for m in manifests_of(rendering, "bad") if m[1]["kind"] == "Deployment"][:1]
    unsafe[0][1]["spec"]["template"]["spec"]["hostIPC"] = True
    _write(tmp_path, unsafe)
    failed = {c["check_id"] for c in run_checkov(checkov, tmp_path)["results"]["failed_checks"]}
    assert "CKV_K8S_18" in failed  # "Containers should not share the host IPC namespace"


def test_every_skip_has_a_reason() -> None:
    assert all(len(reason) > 40 for reason in CHECKOV_SKIPS.values())
    assert sys.version_info >= (3, 11)
