"""Pod security policies: a compliant workload passes; each unsafe setting is caught."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policies.k8s_pod_security import POLICIES
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated
from tests.stacks.fixtures.k8s.baseline import (
    DEPLOYMENT,
    deployment,
    first_container,
    pod_spec,
)

HOST = "k8s-pod-no-host-namespaces"
PRIVILEGED = "k8s-pod-no-privileged-containers"
NON_ROOT = "k8s-pod-run-as-non-root"
ESCALATION = "k8s-pod-no-privilege-escalation"
CAPABILITIES = "k8s-pod-drop-all-capabilities"
READ_ONLY = "k8s-pod-gateway-read-only-root-filesystem"


def check(props: dict[str, Any], type_: str = DEPLOYMENT) -> set[str]:
    return violated(POLICIES, [resource(type_, props)])


def test_compliant_gateway_passes() -> None:
    assert check(deployment()) == set()


def _pod(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda p: pod_spec(p).__setitem__(key, value)


def _security(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda p: first_container(p)["securityContext"].__setitem__(key, value)


def _drop_security(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda p: first_container(p)["securityContext"].pop(key)


def _pod_and_container_non_root(value: Any) -> Callable[[dict[str, Any]], None]:
    def change(p: dict[str, Any]) -> None:
        pod_spec(p)["securityContext"]["runAsNonRoot"] = value
        first_container(p)["securityContext"].pop("runAsNonRoot")

    return change


@pytest.mark.parametrize(
    ("change", "policy"),
    [
        (_pod("hostIPC", True), HOST),
        (_pod("hostPID", True), HOST),
        (_pod("hostNetwork", True), HOST),
        (_security("privileged", True), PRIVILEGED),
        (_security("runAsNonRoot", False), NON_ROOT),
        (_pod_and_container_non_root(False), NON_ROOT),
        (_security("runAsUser", 0), NON_ROOT),
        (_security("allowPrivilegeEscalation", True), ESCALATION),
        (_drop_security("allowPrivilegeEscalation"), ESCALATION),
        (_security("capabilities", {"drop": ["NET_RAW"]}), CAPABILITIES),
        (_security("capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}), CAPABILITIES),
        (_security("readOnlyRootFilesystem", False), READ_ONLY),
        (_drop_security("readOnlyRootFilesystem"), READ_ONLY),
    ],
    ids=[
        "hostIPC",
        "hostPID",
        "hostNetwork",
        "privileged",
        "container-runAsNonRoot-false",
        "pod-runAsNonRoot-false",
        "runAsUser-0",
        "escalation-true",
        "escalation-unset",
        "no-drop-all",
        "adds-sys-admin",
        "writable-root",
        "root-fs-unset",
    ],
)
def test_each_unsafe_setting_fails_its_policy(
    change: Callable[[dict[str, Any]], None], policy: str
) -> None:
    props = deployment()
    change(props)
    assert check(props) == {policy}


def test_non_root_inherited_from_the_pod_passes() -> None:
    props = deployment()
    first_container(props)["securityContext"].pop("runAsNonRoot")
    assert check(props) == set()


def test_net_bind_service_may_be_added_back() -> None:
    props = deployment()
    first_container(props)["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert check(props) == set()


def test_read_only_root_is_required_of_the_gateway_only() -> None:
    props = deployment(shape="vllm_nodes")
    first_container(props)["securityContext"]["readOnlyRootFilesystem"] = False
    assert check(props) == set()


def test_init_containers_are_checked_too() -> None:
    props = deployment()
    init = dict(first_container(props), name="init")
    init["securityContext"] = dict(init["securityContext"], privileged=True)
    pod_spec(props)["initContainers"] = [init]
    found = diagnostics(POLICIES, [resource(DEPLOYMENT, props)])
    assert {d.policy for d in found} == {PRIVILEGED}
    assert "initContainer 'init'" in found[0].message


def test_every_workload_kind_is_read() -> None:
    base = deployment()
    pod = pod_spec(base)
    pod["hostIPC"] = True
    template = base["spec"]["template"]
    kinds = {
        "kubernetes:core/v1:Pod": {"metadata": template["metadata"], "spec": pod},
        "kubernetes:apps/v1:StatefulSet": base,
        "kubernetes:apps/v1:DaemonSet": base,
        "kubernetes:batch/v1:Job": base,
        "kubernetes:batch/v1:CronJob": {"spec": {"jobTemplate": {"spec": base["spec"]}}},
    }
    for type_, props in kinds.items():
        assert HOST in check(props, type_), type_


def test_unknown_pod_template_fails_closed() -> None:
    props = deployment()
    props["spec"]["template"]["spec"] = UNKNOWN
    assert check(props) == set(p.name for p in POLICIES)


def test_unknown_security_value_fails_closed() -> None:
    props = deployment()
    first_container(props)["securityContext"]["allowPrivilegeEscalation"] = UNKNOWN
    assert check(props) == {ESCALATION}


def test_other_resources_are_ignored() -> None:
    assert check({"metadata": {"name": "x"}}, "kubernetes:core/v1:ConfigMap") == set()
