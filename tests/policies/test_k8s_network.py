"""Network policies: a default-deny NetworkPolicy per namespace; no public load balancers."""

from __future__ import annotations

from typing import Any

import pytest

from policies.k8s_network import INTERNAL_LB_ANNOTATIONS, POLICIES
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated
from tests.stacks.fixtures.k8s.baseline import (
    NAMESPACE,
    NETWORK_POLICY,
    SERVICE,
    default_deny,
    namespace,
)

NETPOL = "k8s-namespace-network-policy"
PUBLIC_LB = "k8s-service-no-public-load-balancer"


def stack(*policies: dict[str, Any], ns: dict[str, Any] | None = None) -> set[str]:
    resources = [resource(NAMESPACE, ns or namespace(), name="ns")]
    resources += [resource(NETWORK_POLICY, p, name=f"np{i}") for i, p in enumerate(policies)]
    return violated(POLICIES, resources)


def test_namespace_with_default_deny_passes() -> None:
    assert stack(default_deny()) == set()


def test_namespace_without_any_policy_fails() -> None:
    found = diagnostics(POLICIES, [resource(NAMESPACE, namespace(), name="ns")])
    assert {d.policy for d in found} == {NETPOL}
    assert "'gatehouse'" in found[0].message


def test_policy_in_another_namespace_does_not_count() -> None:
    assert stack(default_deny("other")) == {NETPOL}


@pytest.mark.parametrize(
    "change",
    [
        {"podSelector": {"matchLabels": {"app": "x"}}},
        {"policyTypes": ["Ingress"]},
        {"ingress": [{}]},
        {"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]},
    ],
    ids=["selects-some-pods", "ingress-only", "allow-all-ingress", "egress-rule"],
)
def test_a_policy_that_is_not_default_deny_does_not_count(change: dict[str, Any]) -> None:
    policy = default_deny()
    policy["spec"].update(change)
    assert stack(policy) == {NETPOL}


def test_allow_policies_beside_default_deny_pass() -> None:
    allow = default_deny()
    allow["spec"] = {
        "podSelector": {"matchLabels": {"app": "x"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {}}]}],
    }
    assert stack(allow, default_deny()) == set()


def test_unknown_namespace_name_fails_closed() -> None:
    assert stack(default_deny(), ns={"metadata": {"name": UNKNOWN}}) == {NETPOL}


def service(kind: Any, annotations: dict[str, str] | None = None) -> set[str]:
    props = {"metadata": {"name": "s", "annotations": annotations or {}}, "spec": {"type": kind}}
    return violated(POLICIES, [resource(SERVICE, props)])


def test_cluster_ip_service_passes() -> None:
    assert service("ClusterIP") == set()


def test_plain_load_balancer_fails() -> None:
    assert service("LoadBalancer") == {PUBLIC_LB}


@pytest.mark.parametrize(("key", "value"), list(INTERNAL_LB_ANNOTATIONS.items()))
def test_internal_load_balancer_passes(key: str, value: str) -> None:
    assert service("LoadBalancer", {key: value.capitalize()}) == set()


def test_internet_facing_scheme_fails() -> None:
    key = "service.beta.kubernetes.io/aws-load-balancer-scheme"
    assert service("LoadBalancer", {key: "internet-facing"}) == {PUBLIC_LB}


def test_unknown_service_type_fails_closed() -> None:
    assert service(UNKNOWN) == {PUBLIC_LB}
