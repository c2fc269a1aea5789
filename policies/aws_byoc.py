"""BYOC fences: roles another AWS account may assume need an external id, a permissions
boundary, and a boundary that pins Regions to the zone.

A role is "assumable by an AWS principal" when its trust policy allows ``sts:AssumeRole``
to an ``AWS`` principal (an account, role, user or ``*``). The pack cannot know the stack's
own account, so every such role is held to the vendor rules (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components.residency import AWS_GLOBAL_SERVICES, AWS_REGION_DENY_SCP_NOT_ACTIONS
from policies.aws_common import (
    POLICY,
    ROLE,
    Unchecked,
    allows_any,
    as_list,
    linked,
    of_types,
    parse_document,
    statements,
    trust_principals,
)
from policies.aws_residency import region_problem
from policies.base import (
    MISSING,
    RESIDENCY_SCHEMA,
    UNKNOWN,
    Meta,
    Residency,
    read,
    residency_of,
    resource_policy,
    stack_policy,
)

NAME_EXTERNAL_ID: Final = "aws-iam-cross-account-external-id"
NAME_BOUNDARY: Final = "aws-iam-cross-account-boundary"
NAME_PINS_REGIONS: Final = "aws-iam-boundary-pins-regions"

_REGION_KEY = "aws:requestedregion"
_NEGATED = ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike")


def cross_account_statements(trust: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Allow statements of a trust policy that let an AWS principal assume the role."""
    return [
        s for s in statements(trust) if trust_principals(s) and allows_any(s, ["sts:AssumeRole"])
    ]


def _trust(props: Any) -> list[Mapping[str, Any]]:
    return cross_account_statements(parse_document(read(props, "assumeRolePolicy")))


def external_id_problem(statement: Mapping[str, Any]) -> str | None:
    condition = statement.get("Condition")
    values: list[Any] = []
    if isinstance(condition, Mapping):
        equals = condition.get("StringEquals")
        if isinstance(equals, Mapping):
            values = [v for k, v in equals.items() if str(k).lower() == "sts:externalid"]
    ids = [i for v in values for i in as_list(v)]
    if not ids:
        return "it does not require sts:ExternalId (a StringEquals condition)"
    if any(not isinstance(i, str) or not i.strip() for i in ids):
        return "its sts:ExternalId condition is empty"
    return None


def _check_external_id(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ROLE:
        return
    try:
        trusts = _trust(args.props)
    except Unchecked as exc:
        report(f"the trust policy could not be checked: {exc}", None)
        return
    for statement in trusts:
        problem = external_id_problem(statement)
        if problem:
            principals = ", ".join(trust_principals(statement))
            report(
                f"the role may be assumed by {principals} but {problem}; require the secret "
                "external id agreed with the vendor",
                None,
            )


def _check_boundary(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ROLE:
        return
    try:
        if not _trust(args.props):
            return
    except Unchecked:
        return  # reported by the external-id policy
    boundary = read(args.props, "permissionsBoundary")
    if boundary is UNKNOWN:
        report("permissionsBoundary is unknown at preview, so it could not be checked", None)
    elif not isinstance(boundary, str) or not boundary:
        report(
            "the role may be assumed by another AWS account but has no permissions boundary; "
            "attach one that pins Regions and protects the customer's key and trail",
            None,
        )


# --- the boundary's Region pin --------------------------------------------------------------


def _exempt_ok(entry: str) -> bool:
    """A NotAction entry of a Region pin may only exempt AWS's documented global services."""
    if entry in AWS_REGION_DENY_SCP_NOT_ACTIONS and not entry.endswith(":*"):
        return True
    service, _, action = entry.partition(":")
    return action == "*" and service in AWS_GLOBAL_SERVICES


def pin_problem(document: Mapping[str, Any], residency: Residency) -> str | None:
    """Why a boundary does not deny every call outside in-zone Regions, or None."""
    reasons: list[str] = []
    for statement in statements(document):
        if statement.get("Effect") != "Deny" or as_list(statement.get("Resource")) != ["*"]:
            continue
        condition = statement.get("Condition")
        if not isinstance(condition, Mapping):
            continue
        regions: list[Any] = []
        for operator in _NEGATED:
            values = condition.get(operator)
            if isinstance(values, Mapping):
                regions += [
                    r
                    for k, v in values.items()
                    if str(k).lower() == _REGION_KEY
                    for r in as_list(v)
                ]
        if not regions:
            continue
        if "NotAction" in statement:
            loose = [e for e in as_list(statement["NotAction"]) if not _exempt_ok(str(e))]
            if loose:
                reasons.append(f"its Region pin exempts {', '.join(map(str, loose))}")
                continue
        elif "*" not in as_list(statement.get("Action")):
            reasons.append("its Region pin covers only some actions")
            continue
        outside = [p for r in regions if (p := region_problem(str(r), residency, "pinned Region"))]
        if outside:
            reasons.extend(outside)
            continue
        return None
    detail = f" ({'; '.join(reasons)})" if reasons else ""
    return (
        "it does not deny every call outside Regions inside "
        f"{residency.describe()} (a Deny on Resource '*' with StringNotEquals "
        f"aws:RequestedRegion, exempting only global services){detail}"
    )


def boundary_of(role: PolicyResource, policies: list[PolicyResource]) -> PolicyResource | None:
    """The stack's managed policy a role's ``permissionsBoundary`` names."""
    arn = read(role.props, "permissionsBoundary")
    for policy in policies:
        if linked(role, "permissionsBoundary", policy, ()):
            return policy
        name = read(policy.props, "name")
        path = read(policy.props, "path")
        path = path if isinstance(path, str) else "/"
        if isinstance(arn, str) and isinstance(name, str) and arn.endswith(f":policy{path}{name}"):
            return policy
    return None


def _check_pins(args: StackValidationArgs, report: ReportViolation) -> None:
    residency = residency_of(args)
    policies = of_types(args.resources, [POLICY])
    for role in of_types(args.resources, [ROLE]):
        try:
            if not _trust(role.props):
                continue
        except Unchecked:
            continue  # reported by the external-id policy
        arn = read(role.props, "permissionsBoundary")
        if arn is MISSING:
            continue  # reported by the boundary policy
        boundary = boundary_of(role, policies)
        if boundary is None:
            report(
                f"the permissions boundary {arn!r} of role {role.name!r} is not managed in this "
                "stack, so its Region pin could not be checked; create it in the same stack",
                role.urn,
            )
            continue
        try:
            problem = pin_problem(parse_document(read(boundary.props, "policy")), residency)
        except Unchecked as exc:
            problem = f"could not be checked: {exc}"
        if problem:
            report(f"the boundary {boundary.name!r} of role {role.name!r}: {problem}", role.urn)


_REMEDIATE = (
    "1. In the trust policy, require sts:ExternalId (StringEquals) with the secret agreed with "
    "the vendor; keep it in a Pulumi secret. 2. Attach a permissions boundary that denies "
    "every action outside the allowed Regions (aws:RequestedRegion, exempting only global "
    "services), protects the customer's key and trail and requires itself on roles the vendor "
    "creates; the BYOC shape builds both."
)

external_id_required = resource_policy(
    Meta(
        name=NAME_EXTERNAL_ID,
        description="Roles that another AWS account may assume require an sts:ExternalId.",
        severity=Severity.CRITICAL,
        remediation=_REMEDIATE,
    ),
    _check_external_id,
)

boundary_required = resource_policy(
    Meta(
        name=NAME_BOUNDARY,
        description="Roles that another AWS account may assume carry a permissions boundary.",
        severity=Severity.HIGH,
        remediation=_REMEDIATE,
    ),
    _check_boundary,
)

boundary_pins_regions = stack_policy(
    Meta(
        name=NAME_PINS_REGIONS,
        description="The permissions boundary of a role another AWS account may assume denies "
        "every call outside Regions inside the residency zone.",
        severity=Severity.CRITICAL,
        remediation=_REMEDIATE,
        config_schema=RESIDENCY_SCHEMA,
    ),
    _check_pins,
)

POLICIES: Final[list[Any]] = [external_id_required, boundary_required, boundary_pins_regions]

__all__ = [
    "POLICIES",
    "boundary_of",
    "cross_account_statements",
    "external_id_problem",
    "pin_problem",
]
