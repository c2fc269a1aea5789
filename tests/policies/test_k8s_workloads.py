"""Workload hygiene policies: pinned images, resources, probes."""

from __future__ import annotations

from typing import Any

import pytest

from policies.k8s_workloads import POLICIES
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated
from tests.stacks.fixtures.k8s.baseline import DEPLOYMENT, deployment, first_container, pod_spec

IMAGE = "k8s-pod-image-pinned"
RESOURCES = "k8s-pod-resources-set"
PROBES = "k8s-pod-probes-set"
DIGEST = "sha256:" + "a" * 64


def check(props: dict[str, Any], type_: str = DEPLOYMENT) -> set[str]:
    return violated(POLICIES, [resource(type_, props)])


def with_image(image: Any) -> dict[str, Any]:
    props = deployment()
    first_container(props)["image"] = image
    return props


def test_compliant_workload_passes() -> None:
    assert check(deployment()) == set()


@pytest.mark.parametrize(
    "image",
    [
        "registry.example/gateway:0.1.0",
        f"registry.example/gateway@{DIGEST}",
        f"registry.example:5000/team/gateway:1.2@{DIGEST}",
        "vllm/vllm-openai:v0.11.0",
    ],
)
def test_pinned_images_pass(image: str) -> None:
    assert check(with_image(image)) == set()


@pytest.mark.parametrize(
    "image",
    ["registry.example/gateway:latest", "registry.example/gateway", "registry.example:5000/gw"],
)
def test_latest_or_untagged_images_fail(image: str) -> None:
    found = diagnostics(POLICIES, [resource(DEPLOYMENT, with_image(image))])
    assert {d.policy for d in found} == {IMAGE}
    assert image in found[0].message


def test_unknown_image_fails_closed() -> None:
    assert check(with_image(UNKNOWN)) == {IMAGE}


def test_latest_init_container_fails() -> None:
    props = deployment()
    pod_spec(props)["initContainers"] = [dict(first_container(props), image="busybox:latest")]
    assert check(props) == {IMAGE}


@pytest.mark.parametrize(
    ("kind", "name"),
    [("requests", "cpu"), ("requests", "memory"), ("limits", "cpu"), ("limits", "memory")],
)
def test_each_missing_resource_fails(kind: str, name: str) -> None:
    props = deployment()
    del first_container(props)["resources"][kind][name]
    found = diagnostics(POLICIES, [resource(DEPLOYMENT, props)])
    assert {d.policy for d in found} == {RESOURCES}
    assert f"{kind}.{name}" in found[0].message


def test_no_resources_at_all_fails() -> None:
    props = deployment()
    del first_container(props)["resources"]
    assert check(props) == {RESOURCES}


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_each_missing_probe_fails(probe: str) -> None:
    props = deployment()
    del first_container(props)[probe]
    assert check(props) == {PROBES}


def test_jobs_need_no_probes() -> None:
    props = deployment()
    for probe in ("readinessProbe", "livenessProbe"):
        del first_container(props)[probe]
    assert check(props, "kubernetes:batch/v1:Job") == set()


def test_init_containers_need_no_probes() -> None:
    props = deployment()
    init = {k: v for k, v in first_container(props).items() if not k.endswith("Probe")}
    pod_spec(props)["initContainers"] = [dict(init, name="init")]
    assert check(props) == set()
