"""Availability of the gateway: a PodDisruptionBudget must cover its pods.

Every request of the environment passes the gateway, so a node drain must never take all
of its replicas at once.

Source, checked 2026-11-27 (a budget selects pods by label in its own namespace):
https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-budgets
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from policies.base import MISSING, Control, Meta, read, stack_policy
from policies.k8s_podspec import Workload, workload_of

PDB: Final = "kubernetes:policy/v1:PodDisruptionBudget"
_NONE: Final[tuple[object, ...]] = (MISSING, None, [])


def covers(pdb: PolicyResource, namespace: Any, pod_labels: Mapping[str, Any]) -> bool:
    """Whether the budget is in ``namespace`` and its matchLabels select ``pod_labels``."""
    if read(pdb.props, "metadata", "namespace") != namespace:
        return False
    selector = read(pdb.props, "spec", "selector")
    if not isinstance(selector, Mapping) or read(selector, "matchExpressions") not in _NONE:
        return False  # expressions are not evaluated here: fail closed
    match = read(selector, "matchLabels")
    if not isinstance(match, Mapping) or not match:
        return False
    if read(pdb.props, "spec", "maxUnavailable") in (0, "0%"):
        return False  # blocks every drain: not a budget the cluster can honour
    return all(pod_labels.get(k) == v for k, v in match.items())


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    budgets = [r for r in args.resources if r.resource_type == PDB]
    for resource in args.resources:
        found = workload_of(resource.resource_type, resource.props)
        if not isinstance(found, Workload) or not found.is_gateway:
            continue
        namespace = read(resource.props, "metadata", "namespace")
        if not any(covers(b, namespace, found.labels) for b in budgets):
            report(
                f"gateway workload {resource.name!r} has no PodDisruptionBudget in namespace "
                f"{namespace!r} whose selector matches its pod labels (expected "
                "policy/v1 PodDisruptionBudget with maxUnavailable: 1 or minAvailable: 1)",
                resource.urn,
            )


gateway_pdb = stack_policy(
    Meta(
        name="k8s-gateway-pod-disruption-budget",
        description="The central gateway's pods are covered by a PodDisruptionBudget.",
        severity=Severity.MEDIUM,
        remediation=(
            "Create a policy/v1 PodDisruptionBudget in the gateway's namespace whose "
            "selector.matchLabels match the gateway's pod labels, with maxUnavailable: 1."
        ),
        control=Control("Kubernetes documentation", "Pod disruption budgets"),
    ),
    _check,
)

POLICIES: Final[list[Any]] = [gateway_pdb]
