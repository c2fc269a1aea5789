"""Residency of Kubernetes objects: their jurisdiction label lies inside the zone.

A cluster has no location property the pack could read, so the Kubernetes shapes label
every object with ``gatehouse.dev/region`` and ``gatehouse.dev/jurisdiction``. When the
region label names a cloud region, its jurisdiction comes from the same residency tables
as the infrastructure; an on-premises site's jurisdiction is the one the spec states.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from components.residency import (
    AWS_REGIONS,
    AZURE_REGIONS,
    jurisdiction_of,
    normalize_azure_location,
)
from policies.base import (
    LABEL_PREFIX,
    RESIDENCY_SCHEMA,
    UNKNOWN,
    Meta,
    read,
    residency_of,
    resource_policy,
)

KUBERNETES_PREFIX: Final = "kubernetes:"


def table_jurisdiction(region: str) -> str | None:
    """The jurisdiction of a cloud region label, or None for an on-premises site."""
    if region in AWS_REGIONS:
        return jurisdiction_of("aws", region)
    if normalize_azure_location(region) in AZURE_REGIONS:
        return jurisdiction_of("azure", region)
    return None


def label_problem(labels: Any, allowed: frozenset[str], zone: str) -> str | None:
    if labels is UNKNOWN:
        return "the labels are unknown at preview, so the object's jurisdiction cannot be verified"
    if not isinstance(labels, Mapping):
        return None
    if not any(isinstance(k, str) and k.startswith(LABEL_PREFIX) for k in labels):
        return None  # not placed by a Gatehouse shape
    jurisdiction = labels.get(LABEL_PREFIX + "jurisdiction")
    region = labels.get(LABEL_PREFIX + "region")
    if not isinstance(jurisdiction, str):
        return f"the object has Gatehouse labels but no {LABEL_PREFIX}jurisdiction label"
    if jurisdiction not in allowed:
        return (
            f"{LABEL_PREFIX}jurisdiction is {jurisdiction!r}; expected one of "
            f"{', '.join(sorted(allowed))} ({zone})"
        )
    if isinstance(region, str):
        derived = table_jurisdiction(region)
        if derived is not None and derived != jurisdiction:
            return (
                f"{LABEL_PREFIX}region {region!r} is in jurisdiction {derived!r}, but the "
                f"object is labelled {jurisdiction!r}"
            )
    return None


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith(KUBERNETES_PREFIX):
        return
    residency = residency_of(args)
    problem = label_problem(
        read(args.props, "metadata", "labels"), residency.jurisdictions, residency.describe()
    )
    if problem is not None:
        report(problem, None)


jurisdiction_in_zone = resource_policy(
    Meta(
        name="k8s-object-jurisdiction-in-zone",
        description="Every Kubernetes object a Gatehouse shape places is labelled with a "
        "jurisdiction inside the residency zone.",
        severity=Severity.CRITICAL,
        remediation=(
            "Run the workload on a cluster inside the zone: set the shape's cluster.region "
            "to an in-zone region, or cluster.site with the site's in-zone jurisdiction."
        ),
        config_schema=RESIDENCY_SCHEMA,
    ),
    _check,
)

POLICIES: Final[list[Any]] = [jurisdiction_in_zone]
