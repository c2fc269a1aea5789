"""AWS data residency: every regional AWS resource is placed in a Region inside the zone.

A resource's Region is, in order: its own ``region`` property (pulumi-aws v7), its explicit
provider's ``region``, the stack's ``aws:region`` (the default provider's configuration).
A Region that cannot be known at preview fails closed. Resources of AWS's global services
(IAM, Organizations, Route 53, ...) have no Region and are skipped unless they set one.
An interface endpoint that connects to a service in another Region (``serviceRegion``)
is checked on that Region too.
"""

from __future__ import annotations

from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from components.residency import UnknownRegionError, jurisdiction_of
from policies.aws_common import AWS, VPC_ENDPOINT, Unchecked, is_global, region_of
from policies.base import (
    MISSING,
    RESIDENCY_SCHEMA,
    UNKNOWN,
    Control,
    Meta,
    Residency,
    read,
    residency_of,
    resource_policy,
)

NAME: Final = "aws-resource-region-in-zone"


def region_problem(region: str, residency: Residency, what: str = "Region") -> str | None:
    """Why ``region`` is not inside the zone, or None."""
    try:
        jurisdiction = jurisdiction_of("aws", region)
    except UnknownRegionError as exc:
        return str(exc)
    if jurisdiction not in residency.jurisdictions:
        return (
            f"{what} {region!r} is in jurisdiction {jurisdiction!r}; expected a Region inside "
            f"{residency.describe()}"
        )
    return None


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith(AWS):
        return
    residency = residency_of(args)
    own = read(args.props, "region")
    if is_global(args.resource_type) and own is MISSING:
        return
    try:
        region = region_of(args.props, args.provider)
    except Unchecked as exc:
        report(
            f"the resource's Region could not be checked: {exc}; set `region` explicitly to a "
            f"Region inside {residency.describe()}",
            None,
        )
        return
    problem = region_problem(region, residency)
    if problem:
        report(problem, None)
    if args.resource_type == VPC_ENDPOINT:
        service_region: Any = read(args.props, "serviceRegion")
        if service_region is UNKNOWN:
            report("the endpoint's serviceRegion is unknown at preview; set it literally", None)
        elif isinstance(service_region, str) and service_region:
            problem = region_problem(service_region, residency, "the endpoint's serviceRegion")
            if problem:
                report(problem, None)


region_in_zone = resource_policy(
    Meta(
        name=NAME,
        description="Every regional AWS resource is placed in a Region inside the residency zone.",
        severity=Severity.CRITICAL,
        remediation=(
            "1. Set `region` on the resource to a Region inside the zone (for the Gatehouse "
            "shapes: the shape's `region` in the environment spec), or set the stack's "
            "`aws:region`. 2. Use a literal value so it is known at preview. 3. For interface "
            "endpoints, do not set `serviceRegion` to a Region outside the zone. 4. To admit "
            "another jurisdiction, add it to `extraJurisdictions`."
        ),
        control=Control(
            "Prowler",
            "organizations_scp_check_deny_regions (AWS Control Tower: deny access to AWS "
            "based on the requested Region)",
        ),
        config_schema=RESIDENCY_SCHEMA,
    ),
    _check,
)

POLICIES: Final[list[Any]] = [region_in_zone]

__all__ = ["NAME", "POLICIES", "region_problem"]
