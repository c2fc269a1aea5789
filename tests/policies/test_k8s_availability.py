"""The gateway's pods must be covered by a PodDisruptionBudget."""

from __future__ import annotations

from typing import Any

import pytest

from policies.k8s_availability import POLICIES
from tests.policies.harness import resource, violated
from tests.stacks.fixtures.k8s.baseline import DEPLOYMENT, PDB, deployment, pdb

GATEWAY_PDB = "k8s-gateway-pod-disruption-budget"


def stack(workload: dict[str, Any], *budgets: dict[str, Any]) -> set[str]:
    resources = [resource(DEPLOYMENT, workload, name="gw")]
    resources += [resource(PDB, b, name=f"pdb{i}") for i, b in enumerate(budgets)]
    return violated(POLICIES, resources)


def test_gateway_with_matching_budget_passes() -> None:
    assert stack(deployment(), pdb()) == set()


def test_gateway_without_budget_fails() -> None:
    assert stack(deployment()) == {GATEWAY_PDB}


def test_budget_in_another_namespace_does_not_count() -> None:
    assert stack(deployment(), pdb("other")) == {GATEWAY_PDB}


@pytest.mark.parametrize(
    "spec",
    [
        {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "other"}}},
        {"maxUnavailable": 1, "selector": {}},
        {"maxUnavailable": 0, "selector": {"matchLabels": {"app.kubernetes.io/instance": "gw"}}},
    ],
    ids=["other-pods", "empty-selector", "blocks-every-drain"],
)
def test_budget_that_does_not_fit_does_not_count(spec: dict[str, Any]) -> None:
    budget = pdb()
    budget["spec"] = spec
    assert stack(deployment(), budget) == {GATEWAY_PDB}


def test_other_workloads_need_no_budget() -> None:
    assert stack(deployment(shape="vllm_nodes")) == set()
