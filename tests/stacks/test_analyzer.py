"""The Analyzer client against real pack processes."""

from pathlib import Path

import pytest

from stacks.analyzer import PackError, PackProcess, run_analysis
from stacks.render import Rendering
from tests.policies.harness import resource

PACKS = Path(__file__).parent / "packs"


def rendering(*names: str) -> Rendering:
    return Rendering(
        stack_urn="",
        resources=[
            resource("azure-native:resources:ResourceGroup", {"location": "x"}, name=n)
            for n in names
        ],
        outputs={},
    )


def test_pack_process_reports_violations_over_grpc() -> None:
    with PackProcess(PACKS / "tiny") as pack:
        found = run_analysis(pack, rendering("good", "bad"), settings={}, stack_config={})
    assert [(d.policy, d.enforcement) for d in found] == [("test-name-not-bad", "mandatory")]
    assert found[0].urn.endswith("::bad")
    assert "location x" in found[0].message


def test_pack_that_cannot_start_fails_with_its_error() -> None:
    with pytest.raises(PackError, match="missing dependency"), PackProcess(PACKS / "broken"):
        pass


def test_missing_pack_fails() -> None:
    with pytest.raises(PackError, match="not found"), PackProcess(PACKS / "nowhere"):
        pass


def test_pack_crash_during_analysis_fails_the_gate() -> None:
    with PackProcess(PACKS / "crashing") as pack, pytest.raises(PackError, match="Analyze"):
        run_analysis(pack, rendering("any"), settings={}, stack_config={})
