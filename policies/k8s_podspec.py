"""Where each Kubernetes workload keeps its pod: the shared reader of the k8s policy modules.

Not a policy module itself. :func:`workload_policy` wraps a check of one pod template into
a resource policy that fails closed: a pod template that is missing, or unknown at preview,
is reported, never passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from policies.base import LABEL_PREFIX, MISSING, UNKNOWN, Meta, read, resource_policy

_TEMPLATE: Final = ("spec", "template")
# Path from the resource's properties to its pod template (whose "spec" is the pod spec).
POD_TEMPLATES: Final[Mapping[str, tuple[str, ...]]] = {
    "kubernetes:core/v1:Pod": (),
    "kubernetes:core/v1:ReplicationController": _TEMPLATE,
    "kubernetes:apps/v1:Deployment": _TEMPLATE,
    "kubernetes:apps/v1:StatefulSet": _TEMPLATE,
    "kubernetes:apps/v1:DaemonSet": _TEMPLATE,
    "kubernetes:apps/v1:ReplicaSet": _TEMPLATE,
    "kubernetes:batch/v1:Job": _TEMPLATE,
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
}
RUN_TO_COMPLETION: Final = frozenset({"kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"})
CONTAINER_LISTS: Final = ("initContainers", "containers", "ephemeralContainers")
SHAPE_LABEL: Final = LABEL_PREFIX + "shape"
GATEWAY_SHAPE: Final = "central_gateway"


@dataclass(frozen=True)
class Container:
    kind: str  # "containers", "initContainers" or "ephemeralContainers"
    name: str
    props: Mapping[str, Any]

    def describe(self) -> str:
        return f"{self.kind[:-1]} {self.name!r}"


@dataclass(frozen=True)
class Workload:
    """One pod template of a workload resource, already known to be a mapping."""

    resource_type: str
    pod: Mapping[str, Any]
    labels: Mapping[str, Any]
    containers: tuple[Container, ...]

    @property
    def is_gateway(self) -> bool:
        return self.labels.get(SHAPE_LABEL) == GATEWAY_SHAPE

    @property
    def runs_to_completion(self) -> bool:
        return self.resource_type in RUN_TO_COMPLETION

    def main_containers(self) -> Iterator[Container]:
        return (c for c in self.containers if c.kind == "containers")


Check = Callable[[Workload], Iterable[str]]


def _containers(pod: Mapping[str, Any]) -> Iterator[Container | str]:
    for kind in CONTAINER_LISTS:
        listed = read(pod, kind)
        if listed is MISSING:
            continue
        if not isinstance(listed, list):
            yield f"{kind} cannot be read (got {listed!r}); it must be known to be verified"
            continue
        for index, container in enumerate(listed):
            if not isinstance(container, Mapping):
                yield f"{kind}[{index}] cannot be read; it must be known to be verified"
                continue
            name = read(container, "name")
            yield Container(kind, name if isinstance(name, str) else f"#{index}", container)


def workload_of(resource_type: str, props: Any) -> Workload | str | None:
    """The workload's pod template, a problem message, or None for non-workloads."""
    path = POD_TEMPLATES.get(resource_type)
    if path is None:
        return None
    template = read(props, *path) if path else props
    pod = read(template, "spec")
    if pod is UNKNOWN or template is UNKNOWN:
        return "the pod template is unknown at preview, so it cannot be verified"
    if not isinstance(pod, Mapping):
        return "the resource has no pod template to verify"
    labels = read(template, "metadata", "labels")
    containers: list[Container] = []
    for item in _containers(pod):
        if isinstance(item, str):
            return item
        containers.append(item)
    return Workload(
        resource_type=resource_type,
        pod=pod,
        labels=labels if isinstance(labels, Mapping) else {},
        containers=tuple(containers),
    )


def workload_policy(meta: Meta, check: Check) -> ResourceValidationPolicy:
    """A resource policy running ``check`` on every workload's pod template."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        found = workload_of(args.resource_type, args.props)
        if found is None:
            return
        if isinstance(found, str):
            report(found, None)
            return
        for problem in check(found):
            report(problem, None)

    return resource_policy(meta, validate)


def effective(workload: Workload, container: Container, field: str) -> Any:
    """A securityContext field of the container, else of the pod (containers override)."""
    own = read(container.props, "securityContext", field)
    if own is not MISSING:
        return own
    return read(workload.pod, "securityContext", field)
