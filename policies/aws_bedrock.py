"""Bedrock endpoints and invocation logging.

- ``aws-bedrock-endpoint-private-dns``: Bedrock interface endpoints resolve the public
  Bedrock hostnames privately, so SDKs cannot silently go over the internet.
- ``aws-bedrock-endpoint-policy-restricted``: a Bedrock endpoint carries its own policy
  (on the endpoint or as a VpcEndpointPolicy) instead of the default full-access one, and
  admits only principals of named accounts, organisations or ARNs.
- ``aws-bedrock-invocation-logging-per-region``: every Region that serves Bedrock (a Bedrock
  endpoint or Bedrock resource is there) has model invocation logging with a destination.
- ``aws-bedrock-invocation-logging-same-region``: invocation logs go to a log group and a
  bucket of this stack in the logging configuration's own Region (Bedrock supports nothing
  else; a destination this stack cannot see fails closed).
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

from policies.aws_common import (
    BUCKET_TYPES,
    VPC_ENDPOINT,
    VPC_ENDPOINT_POLICY,
    Unchecked,
    as_list,
    linked,
    of_types,
    parse_document,
    region_of,
    service_of,
    statements,
)
from policies.base import MISSING, UNKNOWN, Control, Meta, read, resource_policy, stack_policy

LOGGING: Final = "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"
LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
BEDROCK_MODULES: Final = frozenset({"bedrock", "bedrockfoundation"})

# Condition keys that tie a principal "*" to an account, an organisation or named ARNs.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
PRINCIPAL_KEYS: Final = frozenset(
    k.lower() for k in ("aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalArn")
)


def bedrock_service(props: Any) -> str | None:
    """The Bedrock endpoint service ("bedrock-runtime", ...) of a VPC endpoint, or None."""
    name = read(props, "serviceName")
    if not isinstance(name, str):
        return None
    suffix = name.rsplit(".", 1)[-1]
    return suffix if suffix.startswith("bedrock") else None


def _check_private_dns(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != VPC_ENDPOINT:
        return
    if read(args.props, "serviceName") is UNKNOWN:
        report("serviceName is unknown at preview, so the endpoint could not be checked", None)
        return
    service = bedrock_service(args.props)
    if service is None:
        return
    enabled = read(args.props, "privateDnsEnabled")
    if enabled is UNKNOWN:
        report(f"privateDnsEnabled of the {service} endpoint is unknown at preview", None)
    elif enabled is not True:
        report(
            f"the {service} endpoint has private DNS disabled, so the public {service} "
            "hostname still resolves to public addresses; set privateDnsEnabled: true",
            None,
        )


# --- endpoint policies ----------------------------------------------------------------------


def _principal_is_anyone(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal", "*")
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return "*" in as_list(principal.get("AWS"))
    return False


def _principal_condition(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    return any(
        isinstance(values, Mapping) and any(k.lower() in PRINCIPAL_KEYS for k in values)
        for values in condition.values()
    )


def endpoint_policy_problem(document: Mapping[str, Any]) -> str | None:
    """Why an endpoint policy admits anyone to anything, or None."""
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        if _principal_is_anyone(statement) and not _principal_condition(statement):
            return (
                f"statement {index} allows any principal, of any account; add a condition on "
                "aws:PrincipalAccount (or aws:PrincipalOrgID) or name the principals"
            )
        if "*" in as_list(statement.get("Action")) or "NotAction" in statement:
            return f"statement {index} allows every action of every service"
    return None


def _endpoint_policy_of(
    endpoint: PolicyResource, policies: list[PolicyResource]
) -> tuple[Any, str]:
    for attached in policies:
        if linked(attached, "vpcEndpointId", endpoint, ()):
            return read(attached.props, "policy"), f"VpcEndpointPolicy {attached.name!r}"
    return read(endpoint.props, "policy"), "the endpoint's policy"


def _check_endpoint_policies(args: StackValidationArgs, report: ReportViolation) -> None:
    attached = of_types(args.resources, [VPC_ENDPOINT_POLICY])
    for endpoint in of_types(args.resources, [VPC_ENDPOINT]):
        service = bedrock_service(endpoint.props)
        if service is None:
            continue
        value, source = _endpoint_policy_of(endpoint, attached)
        if value is MISSING or value == "":
            report(
                f"the {service} endpoint has no policy, so AWS applies the default one, which "
                "allows every action by every principal; attach a policy that names the models "
                "and this account's principals",
                endpoint.urn,
            )
            continue
        try:
            problem = endpoint_policy_problem(parse_document(value))
        except Unchecked as exc:
            problem = f"could not be checked: {exc}"
        if problem:
            report(f"{source} of the {service} endpoint: {problem}", endpoint.urn)


# --- invocation logging ---------------------------------------------------------------------


def _serves_bedrock(resource: PolicyResource) -> bool:
    if resource.resource_type == VPC_ENDPOINT:
        return bedrock_service(resource.props) == "bedrock-runtime"
    return (
        resource.resource_type.startswith("aws:")
        and service_of(resource.resource_type) in BEDROCK_MODULES
    )


def _has_destination(config: PolicyResource) -> bool:
    return any(
        isinstance(read(config.props, "loggingConfig", key), Mapping)
        for key in ("cloudwatchConfig", "s3Config")
    )


def _check_logging_per_region(args: StackValidationArgs, report: ReportViolation) -> None:
    logged: set[str] = set()
    for config in of_types(args.resources, [LOGGING]):
        try:
            region = region_of(config.props, config.provider)
        except Unchecked:
            continue  # the residency policy reports it; it logs nowhere provable
        if _has_destination(config):
            logged.add(region)
    for resource in args.resources:
        if not _serves_bedrock(resource):
            continue
        try:
            region = region_of(resource.props, resource.provider)
        except Unchecked as exc:
            report(
                f"the Region this Bedrock resource serves could not be checked: {exc}", resource.urn
            )
            continue
        if region not in logged:
            report(
                f"Bedrock is served in {region!r} but this stack configures no model invocation "
                f"logging with a destination there; add an InvocationLoggingConfiguration with "
                f"region {region!r}",
                resource.urn,
            )


def _destination_problem(
    config: PolicyResource,
    region: str,
    key: str,
    candidates: list[PolicyResource],
    target_props: tuple[str, ...],
    what: str,
) -> str | None:
    prop = f"loggingConfig.{key}"
    value = read(config.props, *prop.split("."))
    if value is MISSING:
        return None
    if value is UNKNOWN or not isinstance(value, str):
        return f"{prop} is unknown at preview, so its Region could not be checked"
    for candidate in candidates:
        deps = config.property_dependencies.get("loggingConfig", [])
        if read(candidate.props, *target_props) == value or any(
            d.urn == candidate.urn for d in deps
        ):
            try:
                where = region_of(candidate.props, candidate.provider)
            except Unchecked as exc:
                return f"the {what} {value!r} could not be checked: {exc}"
            if where != region:
                return (
                    f"the {what} {value!r} is in {where!r}, not in {region!r} where the logging "
                    "configuration is; Bedrock only delivers to its own Region"
                )
            return None
    return (
        f"the {what} {value!r} is not managed in this stack, so its Region could not be "
        f"checked; create it here, in {region!r}"
    )


def _check_logging_same_region(args: StackValidationArgs, report: ReportViolation) -> None:
    groups = of_types(args.resources, [LOG_GROUP])
    buckets = of_types(args.resources, BUCKET_TYPES)
    for config in of_types(args.resources, [LOGGING]):
        try:
            region = region_of(config.props, config.provider)
        except Unchecked as exc:
            report(f"the logging configuration's Region could not be checked: {exc}", config.urn)
            continue
        for key, candidates, target, what in (
            ("cloudwatchConfig.logGroupName", groups, ("name",), "log group"),
            ("s3Config.bucketName", buckets, ("bucket",), "bucket"),
            (
                "cloudwatchConfig.largeDataDeliveryS3Config.bucketName",
                buckets,
                ("bucket",),
                "large-data bucket",
            ),
        ):
            problem = _destination_problem(config, region, key, candidates, target, what)
            if problem:
                report(problem, config.urn)
        if not _has_destination(config):
            report("the logging configuration has no destination", config.urn)


_REMEDIATE_ENDPOINT = (
    "1. Create Bedrock interface endpoints with privateDnsEnabled: true (the VPC needs DNS "
    "support and DNS hostnames). 2. Give each a policy that allows only bedrock:InvokeModel "
    "and bedrock:InvokeModelWithResponseStream on the configured models, for principals of "
    "this account (aws:PrincipalAccount); the Bedrock-over-PrivateLink shape does both."
)
_REMEDIATE_LOGGING = (
    "1. In every Region where Bedrock is used, add a bedrockmodel.InvocationLoggingConfiguration "
    "with an explicit region. 2. Deliver to a CloudWatch log group and an S3 bucket created in "
    "the same stack and the same Region, both encrypted with a customer-managed key."
)

endpoint_private_dns = resource_policy(
    Meta(
        name="aws-bedrock-endpoint-private-dns",
        description="Bedrock interface endpoints have private DNS enabled, so Bedrock traffic "
        "stays on the endpoint.",
        severity=Severity.HIGH,
        remediation=_REMEDIATE_ENDPOINT,
        control=Control("Prowler", "bedrock_vpc_endpoints_configured"),
    ),
    _check_private_dns,
)

endpoint_policy_restricted = stack_policy(
    Meta(
        name="aws-bedrock-endpoint-policy-restricted",
        description="Bedrock interface endpoints carry a policy that replaces the default full "
        "access and admits only named principals or accounts.",
        severity=Severity.HIGH,
        remediation=_REMEDIATE_ENDPOINT,
        control=Control("Prowler", "vpc_endpoint_connections_trust_boundaries"),
    ),
    _check_endpoint_policies,
)

logging_per_region = stack_policy(
    Meta(
        name="aws-bedrock-invocation-logging-per-region",
        description="Every Region that serves Bedrock has model invocation logging with a "
        "destination.",
        severity=Severity.HIGH,
        remediation=_REMEDIATE_LOGGING,
        control=Control("Prowler", "bedrock_model_invocation_logging_enabled"),
    ),
    _check_logging_per_region,
)

logging_same_region = stack_policy(
    Meta(
        name="aws-bedrock-invocation-logging-same-region",
        description="Bedrock invocation logs go to a log group and bucket of this stack in the "
        "logging configuration's own Region.",
        severity=Severity.HIGH,
        remediation=_REMEDIATE_LOGGING,
    ),
    _check_logging_same_region,
)

POLICIES: Final[list[Any]] = [
    endpoint_private_dns,
    endpoint_policy_restricted,
    logging_per_region,
    logging_same_region,
]

__all__ = ["POLICIES", "bedrock_service", "endpoint_policy_problem"]
