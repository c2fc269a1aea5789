"""Bedrock in IAM documents: no blanket grants, no Region wildcards, no out-of-zone models.

Every identity policy (managed, inline in a role, role/user/group policy) and every VPC
endpoint policy is read. A document that is unknown at preview or malformed fails closed.

- ``aws-iam-no-bedrock-wildcard``: no Allow of ``bedrock:*`` (or ``*``, or a NotAction that
  leaves Bedrock in), and no attachment of AWS's ``AmazonBedrockFullAccess``.
- ``aws-iam-no-bedrock-region-wildcard``: an Allow of Bedrock inference names Bedrock ARNs
  with a literal Region, never ``*``, ``arn:aws:bedrock:*:...`` or an empty Region.
- ``aws-iam-bedrock-profile-in-zone``: each model granted is in a Region inside the zone;
  each inference profile's destination Regions (for calls from its Region, per the reviewed
  snapshot) are inside the zone; ``global.`` profiles are outside every zone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from components.aws_iam_documents import INVOKE_ACTIONS
from components.residency import (
    GLOBAL_JURISDICTION,
    UnknownInferenceProfileError,
    UnknownRegionError,
    UnsupportedSourceRegionError,
    bedrock_jurisdictions,
    jurisdiction_of,
)
from policies.aws_common import (
    ROLE,
    Unchecked,
    action_matches,
    actions_of,
    allows_any,
    as_list,
    checked_documents,
)
from policies.base import (
    RESIDENCY_SCHEMA,
    UNKNOWN,
    Control,
    Meta,
    Residency,
    read,
    residency_of,
    resource_policy,
)

# AWS-managed policies that grant bedrock:* (Prowler: bedrock_full_access_policy_attached).
FULL_ACCESS_POLICIES: Final = frozenset({"AmazonBedrockFullAccess"})
ATTACHMENT_TYPES: Final = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)
_WILDCARD = ("*", "?")


def _documents(
    args: ResourceValidationArgs, report: ReportViolation
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The resource's parsed documents; unreadable ones are reported (fail closed)."""
    for where, parsed in checked_documents(args.resource_type, args.props):
        if isinstance(parsed, Unchecked):
            report(f"{where}: could not be checked: {parsed}", None)
        else:
            yield where, parsed


def _invoke_statements(document: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for index, statement in enumerate(as_list(document.get("Statement"))):
        if isinstance(statement, Mapping) and allows_any(statement, INVOKE_ACTIONS):
            yield index, statement


# --- no bedrock:* ---------------------------------------------------------------------------


def grants_all_of_bedrock(statement: Mapping[str, Any]) -> str | None:
    """How an Allow statement grants every Bedrock action, or None."""
    if statement.get("Effect") != "Allow":
        return None
    if "NotAction" in statement:
        if allows_any(statement, ["bedrock:CreateModelCustomizationJob", *INVOKE_ACTIONS]):
            return "an Allow with NotAction grants every Bedrock action it does not name"
        return None
    for pattern in actions_of(statement):
        service, _, action = pattern.partition(":")
        if pattern == "*" or (action == "*" and action_matches(service, "bedrock")):
            return f"it allows {pattern!r}"
    return None


def _check_no_wildcard(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in ATTACHMENT_TYPES:
        arn = read(args.props, "policyArn")
        if arn is UNKNOWN:
            report(
                "policyArn is unknown at preview, so the attached policy cannot be checked", None
            )
        elif isinstance(arn, str) and arn.rsplit("/", 1)[-1] in FULL_ACCESS_POLICIES:
            report(f"it attaches {arn}, which allows bedrock:*; grant inference per model", None)
        return
    if args.resource_type == ROLE:
        for arn in as_list(read(args.props, "managedPolicyArns")):
            if isinstance(arn, str) and arn.rsplit("/", 1)[-1] in FULL_ACCESS_POLICIES:
                report(f"managedPolicyArns names {arn}, which allows bedrock:*", None)
    for where, document in _documents(args, report):
        for index, statement in enumerate(as_list(document.get("Statement"))):
            if not isinstance(statement, Mapping):
                continue
            how = grants_all_of_bedrock(statement)
            if how:
                report(
                    f"{where}, statement {index}: {how}; allow bedrock:InvokeModel and "
                    "bedrock:InvokeModelWithResponseStream on explicit model ARNs instead",
                    None,
                )


# --- no Region wildcard ---------------------------------------------------------------------


def _bedrock_arn_parts(arn: str) -> tuple[str, str, str] | None:
    """(partition, region, resource) of a Bedrock ARN, or None for any other string."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not action_matches(parts[2], "bedrock"):
        return None
    return parts[1], parts[3], parts[5]


def region_wildcard(resource: str) -> str | None:
    """Why a Resource entry of an inference grant covers more than literal Regions, or None."""
    if resource == "*":
        return "Resource '*' grants inference on every model in every Region"
    parts = _bedrock_arn_parts(resource)
    if parts is None:
        return None
    partition, region, _ = parts
    if any(w in partition for w in _WILDCARD) or any(w in region for w in _WILDCARD):
        return f"{resource!r} has a wildcard Region or partition"
    if not region:
        return f"{resource!r} has no Region, which means every Region"
    return None


def _check_region_wildcard(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for where, document in _documents(args, report):
        for index, statement in _invoke_statements(document):
            if "NotResource" in statement:
                report(
                    f"{where}, statement {index}: NotResource grants inference on everything "
                    "it does not name, in every Region; name the model ARNs instead",
                    None,
                )
                continue
            for resource in as_list(statement.get("Resource")):
                why = region_wildcard(resource) if isinstance(resource, str) else None
                if why:
                    report(f"{where}, statement {index}: {why}; name each Region", None)


# --- models and profiles in the zone -------------------------------------------------------


def grant_problem(resource: str, residency: Residency) -> str | None:
    """Why inference through ``resource`` may process outside the zone, or None."""
    parts = _bedrock_arn_parts(resource)
    if parts is None or region_wildcard(resource):
        return None  # not Bedrock, or refused by the Region-wildcard policy
    _, region, rest = parts
    kind, _, target = rest.partition("/")
    if any(w in target for w in _WILDCARD):
        return f"{resource!r} names models with a wildcard, so where they run cannot be checked"
    try:
        if kind == "inference-profile":
            where = bedrock_jurisdictions(target, region)
        elif kind == "application-inference-profile":
            return (
                f"{resource!r} is an application inference profile, whose model source is not "
                "visible here; grant the system profile or model it copies instead"
            )
        else:
            where = frozenset({jurisdiction_of("aws", region)})
    except (UnknownInferenceProfileError, UnsupportedSourceRegionError, UnknownRegionError) as exc:
        return str(exc)
    if GLOBAL_JURISDICTION in where and not residency.allow_global_processing:
        return (
            f"{resource!r} is a global inference profile, which may process in any Region; "
            f"expected a model or geographic profile inside {residency.describe()}"
        )
    outside = sorted(where - residency.jurisdictions - {GLOBAL_JURISDICTION})
    if outside:
        return (
            f"{resource!r} may process in jurisdictions {', '.join(outside)}; expected "
            f"processing inside {residency.describe()}"
        )
    return None


def _check_in_zone(args: ResourceValidationArgs, report: ReportViolation) -> None:
    residency = residency_of(args)
    for where, document in _documents(args, report):
        for index, statement in _invoke_statements(document):
            for resource in as_list(statement.get("Resource")):
                problem = grant_problem(resource, residency) if isinstance(resource, str) else None
                if problem:
                    report(f"{where}, statement {index}: {problem}", None)


_REMEDIATE_GRANTS = (
    "1. Grant only bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream (they also "
    "authorise Converse and ConverseStream). 2. Name each model's ARN with its Region; for a "
    "geographic inference profile, the profile ARN in the source Region plus the model in each "
    "destination Region with the bedrock:InferenceProfileArn condition (the Gatehouse shapes "
    "build this from the reviewed snapshot). 3. Make the document a literal, known at preview."
)

no_bedrock_wildcard = resource_policy(
    Meta(
        name="aws-iam-no-bedrock-wildcard",
        description="No IAM or endpoint policy allows every Bedrock action (bedrock:*, *, or "
        "AmazonBedrockFullAccess).",
        severity=Severity.HIGH,
        remediation=_REMEDIATE_GRANTS,
        control=Control("Prowler", "bedrock_full_access_policy_attached"),
    ),
    _check_no_wildcard,
)

no_region_wildcard = resource_policy(
    Meta(
        name="aws-iam-no-bedrock-region-wildcard",
        description="Bedrock inference is granted on ARNs with a literal Region, never on a "
        "Region wildcard or Resource '*'.",
        severity=Severity.HIGH,
        remediation=_REMEDIATE_GRANTS,
    ),
    _check_region_wildcard,
)

profile_in_zone = resource_policy(
    Meta(
        name="aws-iam-bedrock-profile-in-zone",
        description="Bedrock models and inference profiles granted process only in "
        "jurisdictions inside the residency zone, judged from each profile's destination "
        "Regions.",
        severity=Severity.CRITICAL,
        remediation=(
            "1. Use a model id in an in-zone Region, or a geographic profile whose destinations "
            "for its source Region are all in the zone (an eu. profile called from Zurich or "
            "London may run there). 2. Never grant global. profiles unless allowGlobalProcessing "
            "is set. 3. For a profile missing from the reviewed snapshot, add it there first."
        ),
        config_schema=RESIDENCY_SCHEMA,
    ),
    _check_in_zone,
)

POLICIES: Final[list[Any]] = [no_bedrock_wildcard, no_region_wildcard, profile_in_zone]

__all__ = ["POLICIES", "grant_problem", "grants_all_of_bedrock", "region_wildcard"]
