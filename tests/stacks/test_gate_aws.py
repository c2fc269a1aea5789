"""The offline gate on the AWS environments, and on broken AWS fixtures.

The shipped environments pass. Broken stack files (``fixtures/aws/Pulumi.*.yaml``) make
``gatehouse gate`` exit 1 naming the policy. Unsafe resources the shapes refuse to build
are small programs (``fixtures/aws/programs.py``), analysed by the pack started as its own
process, exactly as the gate does: each makes one policy, and only it, fire.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies import ALL_POLICIES
from stacks.analyzer import PackProcess, run_analysis
from stacks.cli import main
from stacks.render import render
from tests.stacks.fixtures.aws.programs import BROKEN, REGION, Program

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "aws"
EU = {"zone": "eu", "extraJurisdictions": [], "allowGlobalProcessing": False}


@pytest.mark.parametrize("environment", ["prod-eu", "byoc-eu"])
def test_shipped_aws_environments_pass(
    environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(ROOT), "gate", environment, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True
    assert not [v for v in report["violations"] if v["enforcement"] == "mandatory"]
    assert report["resources"] > 15


def test_prod_eu_holds_both_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(ROOT), "plan", "prod-eu"]) == 0
    out = capsys.readouterr().out
    assert "BedrockPrivateLink" in out and "AzureOpenAI" in out
    runtime = next(line for line in out.splitlines() if "bedrock-runtime" in line)
    assert "eu-central-1" in runtime


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the project with the broken AWS stack files beside the shipped ones."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    shutil.copytree(
        ROOT / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    shutil.copytree(
        ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("__pycache__")
    )
    for fixture in FIXTURES.glob("Pulumi.*.yaml"):
        shutil.copy(fixture, tmp_path / "stacks" / fixture.name)
    return tmp_path


@pytest.mark.parametrize(
    ("environment", "policy"),
    [
        ("aws-bedrock-us-east-1", "aws-resource-region-in-zone"),
        ("aws-bedrock-us-profile", "aws-iam-bedrock-profile-in-zone"),
        ("aws-bedrock-global-profile", "aws-iam-bedrock-profile-in-zone"),
        ("aws-bedrock-zurich-profile", "aws-iam-bedrock-profile-in-zone"),
        ("aws-byoc-london", "aws-iam-boundary-pins-regions"),
    ],
)
def test_broken_stack_files_fail_the_gate_naming_the_policy(
    project: Path, environment: str, policy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(project), "gate", environment]) == 1
    out = capsys.readouterr().out
    assert f"[mandatory] {policy}" in out
    assert f"gate FAILED for '{environment}'" in out


@pytest.fixture(scope="module")
def pack() -> Iterator[PackProcess]:
    with PackProcess(ROOT / "policies") as started:
        yield started


def test_every_aws_policy_has_a_broken_fixture() -> None:
    aws_policies = {p.name for p in ALL_POLICIES if p.name.startswith("aws-")}
    assert aws_policies == set(BROKEN)


CASES = [
    pytest.param(policy, program, id=f"{policy}: {label}")
    for policy, programs in BROKEN.items()
    for label, program in programs
]


@pytest.mark.parametrize(("policy", "program"), CASES)
def test_each_broken_program_fires_exactly_its_policy(
    pack: PackProcess, policy: str, program: Program
) -> None:
    rendering = render(program, stack="fixture", config={"aws:region": REGION})
    found = run_analysis(
        pack, rendering, settings=EU, stack_config={"aws:region": REGION}, stack="fixture"
    )
    mandatory = {d.policy for d in found if d.mandatory}
    assert mandatory == {policy}, [(d.policy, d.message) for d in found]
