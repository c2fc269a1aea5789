"""Workload hygiene: pinned images, resource requests and limits, health probes.

The image rule is the one the Kubernetes shapes apply to their own input
(:func:`components.k8s_security.check_image`), so a shape and the pack never disagree.

Sources, checked 2026-11-27: checkov's Kubernetes checks (CKV_K8S_14 image tag fixed,
CKV_K8S_8 liveness probe, CKV_K8S_9 readiness probe, CKV_K8S_10/11 CPU requests/limits,
CKV_K8S_12/13 memory requests/limits), https://www.checkov.io/5.Policy%20Index/kubernetes.html ;
probes: https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import Severity

from components.k8s_security import check_image
from policies.base import MISSING, UNKNOWN, Control, Meta, read
from policies.k8s_podspec import Workload, workload_policy

RESOURCE_FIELDS: Final = (
    ("requests", "cpu"),
    ("requests", "memory"),
    ("limits", "cpu"),
    ("limits", "memory"),
)
PROBES: Final = ("readinessProbe", "livenessProbe")


def image_problems(workload: Workload) -> Iterator[str]:
    for c in workload.containers:
        image = read(c.props, "image")
        if image is UNKNOWN:
            yield f"{c.describe()}: the image is unknown at preview, so it cannot be verified"
        elif not isinstance(image, str):
            yield f"{c.describe()} names no image; expected a pinned image reference"
        else:
            try:
                check_image(f"{c.describe()} image", image)
            except ValueError as exc:
                yield str(exc)


def resource_problems(workload: Workload) -> Iterator[str]:
    for c in workload.containers:
        if c.kind == "ephemeralContainers":
            continue  # the API forbids resources on ephemeral containers
        missing = []
        for kind, name in RESOURCE_FIELDS:
            value = read(c.props, "resources", kind, name)
            if value is UNKNOWN:
                yield f"{c.describe()}: resources.{kind}.{name} is unknown at preview"
            elif not isinstance(value, str | int | float) or value in ("", 0, "0"):
                missing.append(f"{kind}.{name}")
        if missing:
            yield f"{c.describe()} sets no resources {', '.join(missing)}; expected all four"


def probe_problems(workload: Workload) -> Iterator[str]:
    if workload.runs_to_completion:
        return  # Jobs finish by themselves; probes would only kill them
    for c in workload.main_containers():
        for probe in PROBES:
            value = read(c.props, probe)
            if value is UNKNOWN:
                yield f"{c.describe()}: {probe} is unknown at preview"
            elif value is MISSING or not value:
                yield f"{c.describe()} has no {probe}; expected an httpGet, tcpSocket or exec probe"


images_pinned = workload_policy(
    Meta(
        name="k8s-pod-image-pinned",
        description="Every container image is pinned by a version tag or a digest, never "
        "'latest' or untagged.",
        severity=Severity.HIGH,
        remediation=(
            "Reference images as '<image>:<version>' or '<image>@sha256:<digest>' and "
            "update the reference on purpose, through review."
        ),
        control=Control("checkov", "CKV_K8S_14"),
    ),
    image_problems,
)
resources_set = workload_policy(
    Meta(
        name="k8s-pod-resources-set",
        description="Every container sets CPU and memory requests and limits.",
        severity=Severity.MEDIUM,
        remediation="Set resources.requests and resources.limits for cpu and memory.",
        control=Control("checkov", "CKV_K8S_10, CKV_K8S_11, CKV_K8S_12, CKV_K8S_13"),
    ),
    resource_problems,
)
probes_set = workload_policy(
    Meta(
        name="k8s-pod-probes-set",
        description="Every long-running container has a readiness and a liveness probe.",
        severity=Severity.MEDIUM,
        remediation=(
            "Add readinessProbe and livenessProbe (and a startupProbe when start-up is slow, "
            "such as a model loading its weights)."
        ),
        control=Control("checkov", "CKV_K8S_8, CKV_K8S_9"),
    ),
    probe_problems,
)

POLICIES: Final[list[Any]] = [images_pinned, resources_set, probes_set]
