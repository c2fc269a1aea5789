"""Data-bearing resources sit in the region of the compute that processes them."""

from __future__ import annotations

from typing import Any

from policies.colocation import POLICIES
from tests.policies.harness import diagnostics, resource, violated
from tests.stacks.fixtures.k8s.baseline import DEPLOYMENT, deployment, facts

COLOCATION = "gatehouse-colocation-data-with-compute"
BUCKET = "aws:s3/bucket:Bucket"
WORKSPACE = "azure-native:operationalinsights:Workspace"
ACCOUNT = "azure-native:cognitiveservices:Account"


def gateway(region: str = "eu-central-1") -> Any:
    props = deployment()
    props["metadata"]["labels"].update(facts(region=region))
    return resource(DEPLOYMENT, props, name="gateway")


def tagged(type_: str, name: str, *, role: str, shape: str, region: str, **extra: Any) -> Any:
    tags = {
        "gatehouse:role": role,
        "gatehouse:shape": shape,
        "gatehouse:region": region,
        "gatehouse:jurisdiction": "eu",
    }
    return resource(type_, {"tags": tags, **extra}, name=name)


def archive(region: str) -> Any:
    return tagged(BUCKET, "archive", role="data", shape="audit_archive", region=region)


def exception(compute: str, data: str, reason: str = "x" * 30) -> dict[str, Any]:
    return {
        "colocationExceptions": [{"compute_region": compute, "data_region": data, "reason": reason}]
    }


def test_archive_in_the_gateway_region_passes() -> None:
    assert violated(POLICIES, [gateway(), archive("eu-central-1")]) == set()


def test_archive_in_another_region_fails() -> None:
    found = diagnostics(POLICIES, [gateway(), archive("eu-west-1")])
    assert {d.policy for d in found} == {COLOCATION}
    assert "'eu-west-1'" in found[0].message and "'eu-central-1'" in found[0].message


def test_allow_listed_pair_with_reason_passes() -> None:
    resources = [gateway(), archive("eu-west-1")]
    assert violated(POLICIES, resources, settings=exception("eu-central-1", "eu-west-1")) == set()


def test_allow_list_needs_a_reason_and_the_exact_pair() -> None:
    resources = [gateway(), archive("eu-west-1")]
    short = exception("eu-central-1", "eu-west-1", reason="because")
    assert violated(POLICIES, resources, settings=short) == {COLOCATION}
    reversed_pair = exception("eu-west-1", "eu-central-1")
    assert violated(POLICIES, resources, settings=reversed_pair) == {COLOCATION}


def test_shape_data_pairs_with_its_own_compute() -> None:
    account = tagged(
        ACCOUNT, "aoai", role="model-endpoint", shape="azure_openai", region="swedencentral"
    )
    near = tagged(WORKSPACE, "logs", role="logs", shape="azure_openai", region="swedencentral")
    far = tagged(WORKSPACE, "logs2", role="logs", shape="azure_openai", region="westeurope")
    assert violated(POLICIES, [gateway(), account, near]) == set()
    assert violated(POLICIES, [gateway(), account, far]) == {COLOCATION}


def test_azure_display_names_are_normalised() -> None:
    account = tagged(
        ACCOUNT, "aoai", role="model-endpoint", shape="azure_openai", region="swedencentral"
    )
    logs = resource(
        WORKSPACE,
        {
            "location": "Sweden Central",
            "tags": {"gatehouse:role": "logs", "gatehouse:shape": "azure_openai"},
        },
        name="logs",
    )
    assert violated(POLICIES, [account, logs]) == set()


def test_data_without_any_compute_fails_closed() -> None:
    assert violated(POLICIES, [archive("eu-central-1")]) == {COLOCATION}


def test_data_without_a_region_fails_closed() -> None:
    bucket = resource(
        BUCKET, {"tags": {"gatehouse:role": "data", "gatehouse:shape": "audit_archive"}}, name="b"
    )
    assert violated(POLICIES, [gateway(), bucket]) == {COLOCATION}


def test_onprem_gateway_with_cloud_archive_fails() -> None:
    assert violated(POLICIES, [gateway("onprem-fra1"), archive("eu-central-1")]) == {COLOCATION}
