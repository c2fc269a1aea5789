"""The offline gate on the Kubernetes environments, and on broken Kubernetes fixtures.

The shipped environments pass. Broken stack files (derived from onprem-eu by
``fixtures/k8s/stack_files.py``) make ``gatehouse gate`` exit 1 naming the policy. Unsafe
objects the shapes refuse to build are small raw programs (``fixtures/k8s/programs.py``),
analysed by the pack started as its own process, as the gate does: each makes one policy,
and only it, fire.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from policies import ALL_POLICIES
from stacks.analyzer import PackProcess, run_analysis
from stacks.cli import main
from stacks.gate import Project, render_environment
from stacks.program import build
from stacks.render import render
from stacks.spec import spec_from_config
from tests.stacks.fixtures.k8s.programs import BROKEN, Program, compliant
from tests.stacks.fixtures.k8s.stack_files import write_all

ROOT = Path(__file__).resolve().parents[2]
EU = {"zone": "eu", "extraJurisdictions": [], "allowGlobalProcessing": False}
OURS = ("k8s-", "gatehouse-")


def test_onprem_eu_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(ROOT), "gate", "onprem-eu", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["violations"] == []
    assert report["resources"] > 20


def test_prod_eu_has_the_gateway_and_prints_the_egress_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--project", str(ROOT), "plan", "prod-eu", "--traffic", "100000,8,2"]) == 0
    out = capsys.readouterr().out
    assert "CentralGateway" in out and "AuditArchive" in out
    assert "FROM" in out and "USD/MONTH" in out
    # Frankfurt gateway -> Sweden Central Azure OpenAI is the only cross-region flow pair.
    assert "eu-central-1   swedencentral  prompts" in out
    assert "over 2 cross-region flows" in out


def test_prod_eu_gateway_archives_its_trail_in_its_region() -> None:
    rendering = render_environment(Project(ROOT), "prod-eu").rendering
    assert rendering is not None
    (config_map,) = rendering.of_type("kubernetes:core/v1:ConfigMap")
    config = yaml.safe_load(config_map.inputs["data"]["config.yaml"])
    assert config["audit"]["sink"] == "s3://retail-prod-eu-audit/audit"
    (bucket,) = [r for r in rendering.of_type("aws:s3/bucket:Bucket") if "audit" in r.name]
    assert bucket.inputs["region"] == "eu-central-1"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the project with the broken stack files beside the shipped ones."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    shutil.copytree(
        ROOT / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    shutil.copytree(
        ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("__pycache__")
    )
    write_all(tmp_path / "stacks")
    return tmp_path


@pytest.mark.parametrize(
    ("environment", "policy"),
    [
        ("k8s-audit-elsewhere", "gatehouse-colocation-data-with-compute"),
        ("k8s-us-route", "k8s-configmap-gateway-routes-in-zone"),
        ("k8s-us-site", "k8s-object-jurisdiction-in-zone"),
    ],
)
def test_broken_stack_files_fail_the_gate_naming_the_policy(
    project: Path, environment: str, policy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(project), "gate", environment]) == 1
    out = capsys.readouterr().out
    assert f"[mandatory] {policy}" in out
    assert f"gate FAILED for '{environment}'" in out


def test_a_colocation_exception_with_a_reason_admits_the_pair(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(project), "gate", "k8s-audit-elsewhere-allowed"]) == 0
    assert "gate passed" in capsys.readouterr().out


@pytest.fixture(scope="module")
def pack() -> Iterator[PackProcess]:
    with PackProcess(ROOT / "policies") as started:
        yield started


def test_every_kubernetes_and_stack_policy_has_a_broken_fixture() -> None:
    ours = {p.name for p in ALL_POLICIES if p.name.startswith(OURS)}
    assert ours == set(BROKEN)


def _mandatory(pack: PackProcess, program: Program) -> list[tuple[str, str]]:
    rendering = render(program, stack="fixture")
    found = run_analysis(pack, rendering, settings=EU, stack_config={}, stack="fixture")
    return [(d.policy, d.message) for d in found if d.mandatory]


def test_the_baseline_program_is_compliant(pack: PackProcess) -> None:
    assert _mandatory(pack, compliant) == []


CASES = [
    pytest.param(policy, program, id=f"{policy}: {label}")
    for policy, programs in BROKEN.items()
    for label, program in programs
]


@pytest.mark.parametrize(("policy", "program"), CASES)
def test_each_broken_program_fires_exactly_its_policy(
    pack: PackProcess, policy: str, program: Program
) -> None:
    found = _mandatory(pack, program)
    assert {p for p, _ in found} == {policy}, found


def test_kubeconfig_context_gives_the_shape_its_own_provider() -> None:
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.onprem-eu.yaml").read_text())["config"]
    for section in ("gatehouse:vllm_nodes", "gatehouse:central_gateway"):
        config[section]["cluster"]["kubeconfig_context"] = "fra1-gpu"
    spec = spec_from_config(config)
    rendering = render(lambda: build(spec, "onprem-eu"), stack="onprem-eu")
    providers = rendering.of_type("pulumi:providers:kubernetes")
    assert sorted(p.name for p in providers) == ["central-gateway-cluster", "vllm-nodes-cluster"]
    assert all(p.inputs["context"] == "fra1-gpu" for p in providers)
    (deployment,) = [r for r in rendering.resources if r.name == "central-gateway-deployment"]
    assert deployment.provider is not None and "central-gateway-cluster" in deployment.provider
