"""Kubernetes objects placed by a shape carry a jurisdiction label inside the zone."""

from __future__ import annotations

from typing import Any

from policies.k8s_residency import POLICIES
from tests.policies.harness import UNKNOWN, resource, violated
from tests.stacks.fixtures.k8s.baseline import DEPLOYMENT, deployment, facts

IN_ZONE = "k8s-object-jurisdiction-in-zone"


def check(labels: Any, settings: dict[str, Any] | None = None) -> set[str]:
    props = deployment()
    props["metadata"]["labels"] = labels
    return violated(POLICIES, [resource(DEPLOYMENT, props)], settings=settings)


def test_eu_cloud_region_passes() -> None:
    assert check(facts()) == set()


def test_onprem_site_with_eu_jurisdiction_passes() -> None:
    assert check(facts(region="onprem-fra1")) == set()


def test_us_jurisdiction_fails_in_eu_zone() -> None:
    assert check(facts(region="us-east-1", jurisdiction="us")) == {IN_ZONE}


def test_region_label_contradicting_the_tables_fails() -> None:
    assert check(facts(region="us-east-1", jurisdiction="eu")) == {IN_ZONE}


def test_missing_jurisdiction_label_fails() -> None:
    labels = facts()
    del labels["gatehouse.dev/jurisdiction"]
    assert check(labels) == {IN_ZONE}


def test_unknown_labels_fail_closed() -> None:
    assert check(UNKNOWN) == {IN_ZONE}


def test_objects_without_gatehouse_labels_are_not_ours() -> None:
    assert check({"app": "x"}) == set()


def test_extra_jurisdiction_admits_uk() -> None:
    labels = facts(region="eu-west-2", jurisdiction="uk")
    assert check(labels) == {IN_ZONE}
    assert check(labels, {"zone": "eu", "extraJurisdictions": ["uk"]}) == set()
