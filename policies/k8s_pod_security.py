"""Pod security: the Pod Security Standards' baseline and restricted rules, per workload.

Sources, checked 2026-11-27:
- Pod Security Standards (baseline: Privileged Containers, Host Namespaces; restricted:
  Running as Non-root, Privilege Escalation, Capabilities):
  https://kubernetes.io/docs/concepts/security/pod-security-standards/
- checkov's Kubernetes checks (CKV_K8S_16 privileged, CKV_K8S_17 hostPID, CKV_K8S_18
  hostIPC, CKV_K8S_19 hostNetwork, CKV_K8S_20 allowPrivilegeEscalation, CKV_K8S_22
  readOnlyRootFilesystem, CKV_K8S_23 root containers, CKV_K8S_37 capabilities):
  https://www.checkov.io/5.Policy%20Index/kubernetes.html
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import Severity

from policies.base import MISSING, UNKNOWN, Control, Meta, read
from policies.k8s_podspec import Workload, effective, workload_policy

HOST_NAMESPACES: Final = ("hostIPC", "hostPID", "hostNetwork")
# The only capability the restricted profile lets a container add back.
ADDABLE_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})


def _unknown(what: str, where: str) -> str:
    return f"{where}: {what} is unknown at preview, so it cannot be verified"


def host_namespace_problems(workload: Workload) -> Iterator[str]:
    for field in HOST_NAMESPACES:
        value = read(workload.pod, field)
        if value is UNKNOWN:
            yield _unknown(field, "pod")
        elif value not in (MISSING, False, None):
            yield f"pod sets {field}: {value!r}; expected it unset or false"


def privileged_problems(workload: Workload) -> Iterator[str]:
    for c in workload.containers:
        value = read(c.props, "securityContext", "privileged")
        if value is UNKNOWN:
            yield _unknown("securityContext.privileged", c.describe())
        elif value not in (MISSING, False, None):
            yield f"{c.describe()} sets securityContext.privileged: {value!r}; expected false"


def non_root_problems(workload: Workload) -> Iterator[str]:
    for c in workload.containers:
        non_root = effective(workload, c, "runAsNonRoot")
        user = effective(workload, c, "runAsUser")
        if UNKNOWN in (non_root, user):
            yield _unknown("runAsNonRoot/runAsUser", c.describe())
        elif non_root is not True:
            yield (
                f"{c.describe()} may run as root: runAsNonRoot is {non_root!r} on the container "
                "and the pod; expected true"
            )
        elif user == 0:
            yield f"{c.describe()} sets runAsUser: 0 (root); expected a non-zero user id"


def escalation_problems(workload: Workload) -> Iterator[str]:
    for c in workload.containers:
        value = read(c.props, "securityContext", "allowPrivilegeEscalation")
        if value is UNKNOWN:
            yield _unknown("securityContext.allowPrivilegeEscalation", c.describe())
        elif value is not False:
            got = "unset (defaults to true)" if value is MISSING else repr(value)
            yield f"{c.describe()}: allowPrivilegeEscalation is {got}; expected false"


def read_only_root_problems(workload: Workload) -> Iterator[str]:
    if not workload.is_gateway:
        return
    for c in workload.containers:
        value = read(c.props, "securityContext", "readOnlyRootFilesystem")
        if value is UNKNOWN:
            yield _unknown("securityContext.readOnlyRootFilesystem", c.describe())
        elif value is not True:
            got = "unset" if value is MISSING else repr(value)
            yield f"gateway {c.describe()}: readOnlyRootFilesystem is {got}; expected true"


def _names(value: Any) -> set[str] | None:
    if value is MISSING:
        return set()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return {v.upper() for v in value}


def capability_problems(workload: Workload) -> Iterator[str]:
    for c in workload.containers:
        dropped = _names(read(c.props, "securityContext", "capabilities", "drop"))
        added = _names(read(c.props, "securityContext", "capabilities", "add"))
        if dropped is None or added is None:
            yield _unknown("securityContext.capabilities", c.describe())
            continue
        if "ALL" not in dropped:
            yield f"{c.describe()} does not drop ALL capabilities; expected drop: [ALL]"
        extra = sorted(added - ADDABLE_CAPABILITIES)
        if extra:
            yield f"{c.describe()} adds capabilities {', '.join(extra)}; expected none"


_PSS = "Pod Security Standards"

no_host_namespaces = workload_policy(
    Meta(
        name="k8s-pod-no-host-namespaces",
        description="No pod shares the node's IPC, PID or network namespace.",
        severity=Severity.CRITICAL,
        remediation=(
            "Remove hostIPC, hostPID and hostNetwork from the pod spec (or set them to "
            "false); expose ports through a Service instead of the host network."
        ),
        control=Control(_PSS, "baseline: Host Namespaces; checkov CKV_K8S_17, 18, 19"),
    ),
    host_namespace_problems,
)
no_privileged_containers = workload_policy(
    Meta(
        name="k8s-pod-no-privileged-containers",
        description="No container runs privileged.",
        severity=Severity.CRITICAL,
        remediation="Remove securityContext.privileged (or set it to false) on every container.",
        control=Control(_PSS, "baseline: Privileged Containers; checkov CKV_K8S_16"),
    ),
    privileged_problems,
)
run_as_non_root = workload_policy(
    Meta(
        name="k8s-pod-run-as-non-root",
        description="Every container must run as a non-root user.",
        severity=Severity.HIGH,
        remediation=(
            "Set securityContext.runAsNonRoot: true on the pod (or each container) and a "
            "non-zero runAsUser, e.g. 10001; build the image with a non-root USER."
        ),
        control=Control(_PSS, "restricted: Running as Non-root; checkov CKV_K8S_23"),
    ),
    non_root_problems,
)
no_privilege_escalation = workload_policy(
    Meta(
        name="k8s-pod-no-privilege-escalation",
        description="Every container sets allowPrivilegeEscalation to false.",
        severity=Severity.HIGH,
        remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
        control=Control(_PSS, "restricted: Privilege Escalation; checkov CKV_K8S_20"),
    ),
    escalation_problems,
)
drop_all_capabilities = workload_policy(
    Meta(
        name="k8s-pod-drop-all-capabilities",
        description="Every container drops all Linux capabilities and adds none back but "
        "NET_BIND_SERVICE.",
        severity=Severity.HIGH,
        remediation="Set securityContext.capabilities.drop: [ALL] and no add list.",
        control=Control(_PSS, "restricted: Capabilities; checkov CKV_K8S_37"),
    ),
    capability_problems,
)
gateway_read_only_root = workload_policy(
    Meta(
        name="k8s-pod-gateway-read-only-root-filesystem",
        description="The gateway's containers run with a read-only root filesystem.",
        severity=Severity.HIGH,
        remediation=(
            "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes "
            "where the gateway writes (/tmp, its state directory)."
        ),
        control=Control("checkov", "CKV_K8S_22"),
    ),
    read_only_root_problems,
)

POLICIES: Final[list[Any]] = [
    no_host_namespaces,
    no_privileged_containers,
    run_as_non_root,
    no_privilege_escalation,
    drop_all_capabilities,
    gateway_read_only_root,
]
