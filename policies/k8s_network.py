"""Network exposure: a default-deny NetworkPolicy per namespace, no public load balancers.

Sources, checked 2026-11-27:
- Default-deny NetworkPolicy (empty podSelector selects every pod of the namespace; listing
  a policy type with no rules denies that direction):
  https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies
- Internal load-balancer annotations: AWS Load Balancer Controller
  (``service.beta.kubernetes.io/aws-load-balancer-scheme: internal``; the older
  ``aws-load-balancer-internal: "true"``),
  https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/ ;
  AKS (``service.beta.kubernetes.io/azure-load-balancer-internal: "true"``),
  https://learn.microsoft.com/azure/aks/internal-lb ; GKE
  (``networking.gke.io/load-balancer-type: Internal``),
  https://cloud.google.com/kubernetes-engine/docs/how-to/internal-load-balancing
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from policies.base import MISSING, UNKNOWN, Control, Meta, read, resource_policy, stack_policy

NAMESPACE: Final = "kubernetes:core/v1:Namespace"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE: Final = "kubernetes:core/v1:Service"

# Annotation -> the value that makes the cloud's load balancer internal (case-insensitive).
INTERNAL_LB_ANNOTATIONS: Final[Mapping[str, str]] = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "internal",
    "cloud.google.com/load-balancer-type": "internal",
}


def _empty_selector(selector: Any) -> bool:
    if selector is MISSING:
        return False  # podSelector is required; absent means we cannot tell
    if not isinstance(selector, Mapping):
        return False
    return all(
        read(selector, k) in (MISSING, None, {}, []) for k in ("matchLabels", "matchExpressions")
    )


def is_default_deny(policy: PolicyResource) -> bool:
    """Selects every pod of its namespace and admits nothing in either direction."""
    spec = read(policy.props, "spec")
    if not isinstance(spec, Mapping) or not _empty_selector(read(spec, "podSelector")):
        return False
    types = read(spec, "policyTypes")
    if not isinstance(types, list) or not {"Ingress", "Egress"} <= set(types):
        return False
    return all(read(spec, d) in (MISSING, None, []) for d in ("ingress", "egress"))


def _by_namespace(resources: Iterable[PolicyResource]) -> dict[str, list[PolicyResource]]:
    out: dict[str, list[PolicyResource]] = {}
    for r in resources:
        if r.resource_type == NETWORK_POLICY:
            ns = read(r.props, "metadata", "namespace")
            if isinstance(ns, str):
                out.setdefault(ns, []).append(r)
    return out


def _check_namespaces(args: StackValidationArgs, report: ReportViolation) -> None:
    policies = _by_namespace(args.resources)
    for ns in args.resources:
        if ns.resource_type != NAMESPACE:
            continue
        name = read(ns.props, "metadata", "name")
        if not isinstance(name, str):
            report(
                f"namespace {ns.name!r} has no known metadata.name, so its NetworkPolicy "
                "cannot be verified; give the namespace an explicit name",
                ns.urn,
            )
            continue
        if not any(is_default_deny(p) for p in policies.get(name, [])):
            report(
                f"namespace {name!r} has no default-deny NetworkPolicy (expected one with "
                "podSelector {}, policyTypes [Ingress, Egress] and no rules, beside the "
                "policies that admit what the workloads need)",
                ns.urn,
            )


def lb_problem(props: Any) -> str | None:
    kind = read(props, "spec", "type")
    if kind is UNKNOWN:
        return "spec.type is unknown at preview, so the Service's exposure cannot be verified"
    if kind != "LoadBalancer":
        return None
    annotations = read(props, "metadata", "annotations")
    if annotations is UNKNOWN:
        return "the annotations are unknown at preview, so the load balancer cannot be verified"
    if isinstance(annotations, Mapping):
        for key, internal in INTERNAL_LB_ANNOTATIONS.items():
            value = annotations.get(key)
            if isinstance(value, str) and value.lower() == internal:
                return None
    expected = ", ".join(f"{k}: {v!r}" for k, v in INTERNAL_LB_ANNOTATIONS.items())
    return (
        "Service of type LoadBalancer is not annotated internal, so the cloud gives it a "
        f"public address; expected one of: {expected} (or type ClusterIP behind an ingress)"
    )


def _check_service(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SERVICE:
        return
    problem = lb_problem(args.props)
    if problem is not None:
        report(problem, None)


namespace_network_policy = stack_policy(
    Meta(
        name="k8s-namespace-network-policy",
        description="Every namespace the stack creates has a default-deny NetworkPolicy.",
        severity=Severity.HIGH,
        remediation=(
            "Create a NetworkPolicy in the namespace with podSelector {} and policyTypes "
            "[Ingress, Egress] and no rules, then admit each workload's traffic with its own "
            "policy."
        ),
        control=Control("checkov", "CKV2_K8S_6"),
    ),
    _check_namespaces,
)
no_public_load_balancer = resource_policy(
    Meta(
        name="k8s-service-no-public-load-balancer",
        description="No Service of type LoadBalancer unless it is annotated as internal.",
        severity=Severity.CRITICAL,
        remediation=(
            "Use a ClusterIP Service behind an internal ingress, or annotate the Service as "
            "internal for your cloud (e.g. service.beta.kubernetes.io/aws-load-balancer-scheme: "
            "internal, service.beta.kubernetes.io/azure-load-balancer-internal: 'true')."
        ),
    ),
    _check_service,
)

POLICIES: Final[list[Any]] = [namespace_network_policy, no_public_load_balancer]
