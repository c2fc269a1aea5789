"""The CLI end to end on the shipped environments and on broken copies of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from sarif import loader as sarif_loader

from stacks.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the project's stack files and pack, safe to break."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    skip = shutil.ignore_patterns("*.py", "__pycache__")
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks", ignore=skip)
    shutil.copytree(
        ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def edit(project: Path, env: str, new_env: str, change: dict[str, object]) -> None:
    """Copy an environment, setting ``key`` or ``key/field`` values."""
    source = yaml.safe_load((project / "stacks" / f"Pulumi.{env}.yaml").read_text())
    config = source["config"]
    for dotted, value in change.items():
        key, _, field = dotted.partition("/")
        if field:
            config[key][field] = value
        else:
            config[key] = value
    (project / "stacks" / f"Pulumi.{new_env}.yaml").write_text(yaml.safe_dump(source))


def run(project: Path, *args: str) -> int:
    return main(["--project", str(project), *args])


def test_gate_dev_eu_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(ROOT), "gate", "dev-eu"]) == 0
    out = capsys.readouterr().out
    assert "gate passed for 'dev-eu'" in out
    assert "0 mandatory" in out


def test_plan_prints_tree_with_region_and_jurisdiction(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(ROOT), "plan", "dev-eu"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "cognitiveservices:Account" in x)
    assert "swedencentral" in line
    assert line.rstrip().endswith("eu")


def test_westus_copy_fails_naming_the_location_policy(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        project,
        "dev-eu",
        "dev-us",
        {
            "gatehouse:azure_openai/region": "westus",
            "gatehouse:residency/allowed_regions": ["westus"],
            "azure-native:location": "westus",
        },
    )
    assert run(project, "gate", "dev-us") == 1
    out = capsys.readouterr().out
    assert "azure-resource-location-in-zone" in out
    assert "FAILED" in out


def test_global_standard_copy_fails_naming_the_sku_policy(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load((project / "stacks" / "Pulumi.dev-eu.yaml").read_text())
    config["config"]["gatehouse:azure_openai"]["deployments"][0]["sku"] = "GlobalStandard"
    (project / "stacks" / "Pulumi.dev-global.yaml").write_text(yaml.safe_dump(config))
    assert run(project, "gate", "dev-global") == 1
    out = capsys.readouterr().out
    assert "azure-cognitiveservices-deployment-sku-in-zone" in out
    assert "gatehouse:azure_openai.deployments[0].sku" in out


def test_sarif_and_json_outputs(project: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((project / "stacks" / "Pulumi.dev-eu.yaml").read_text())
    config["config"]["gatehouse:azure_openai"]["deployments"][1]["sku"] = "GlobalStandard"
    (project / "stacks" / "Pulumi.broken.yaml").write_text(yaml.safe_dump(config))
    sarif_path = tmp_path / "gate.sarif"
    assert run(project, "gate", "broken", "--format", "sarif", "--output", str(sarif_path)) == 1
    sarif = json.loads(sarif_path.read_text())
    assert sarif["version"] == "2.1.0"
    (run_,) = sarif["runs"]
    rule_ids = {r["id"] for r in run_["tool"]["driver"]["rules"]}
    assert "azure-cognitiveservices-deployment-sku-in-zone" in rule_ids
    result = run_["results"][0]
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "stacks/Pulumi.broken.yaml"
    )
    # Microsoft's SARIF tooling loads it and sees the same results.
    loaded = sarif_loader.load_sarif_file(str(sarif_path))
    assert loaded.get_result_count() == len(run_["results"])
    assert {r["ruleId"] for r in loaded.get_results()} <= rule_ids
    json_path = tmp_path / "gate.json"
    assert run(project, "gate", "broken", "--format", "json", "--output", str(json_path)) == 1
    document = json.loads(json_path.read_text())
    assert document["passed"] is False


def test_missing_environment_is_a_clear_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project, "gate", "nope") == 2
    err = capsys.readouterr().err
    assert "'nope' not found" in err
    assert "dev-eu" in err


def test_unknown_key_is_a_clear_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project, "dev-eu", "typo", {"gatehouse:cost_centre": "CC-1"})
    assert run(project, "gate", "typo") == 2
    assert "gatehouse:cost_centre: unknown key" in capsys.readouterr().err


def test_broken_pack_fails_the_gate(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "policies" / "__main__.py").write_text("raise SystemExit('pack is broken')\n")
    assert run(project, "gate", "dev-eu") == 2
    assert "pack is broken" in capsys.readouterr().err


def test_new_bu_writes_a_valid_environment_that_passes_the_gate(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            project,
            "new-bu",
            "claims",
            "--from",
            "dev-eu",
            "--cost-center",
            "CC-2040",
            "--region",
            "germanywestcentral",
        )
        == 0
    )
    written = yaml.safe_load((project / "stacks" / "Pulumi.claims.yaml").read_text())["config"]
    assert written["gatehouse:business_unit"] == "claims"
    assert written["gatehouse:cost_center"] == "CC-2040"
    assert written["gatehouse:azure_openai"]["region"] == "germanywestcentral"
    assert run(project, "gate", "claims") == 0
    # Never overwrites.
    assert run(project, "new-bu", "claims", "--from", "dev-eu", "--cost-center", "CC-9") == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_new_bu_refuses_a_region_outside_the_zone(project: Path) -> None:
    assert (
        run(
            project,
            "new-bu",
            "usbu",
            "--from",
            "dev-eu",
            "--cost-center",
            "CC-1",
            "--region",
            "eastus",
        )
        == 2
    )
    assert not (project / "stacks" / "Pulumi.usbu.yaml").exists()
