"""Network: no security group admits the whole internet; every VPC has flow logs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from policies.aws_common import as_list, linked, of_types
from policies.base import UNKNOWN, Control, Meta, read, resource_policy, stack_policy

SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE: Final = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
VPC: Final = "aws:ec2/vpc:Vpc"
FLOW_LOG: Final = "aws:ec2/flowLog:FlowLog"


def is_anywhere(cidr: Any) -> bool:
    """Whether a CIDR block is 0.0.0.0/0 or ::/0 (in any spelling)."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def _ingress_cidrs(resource_type: str, props: Any) -> Iterator[tuple[str, Any]]:
    if resource_type == SECURITY_GROUP:
        rules = read(props, "ingress")
        if rules is UNKNOWN:
            yield "ingress", UNKNOWN
        for index, rule in enumerate(as_list(rules)):
            for key in ("cidrBlocks", "ipv6CidrBlocks"):
                for cidr in as_list(read(rule, key)):
                    yield f"ingress[{index}].{key}", cidr
    elif resource_type == SECURITY_GROUP_RULE:
        kind = read(props, "type")
        if kind in ("ingress", UNKNOWN):
            for key in ("cidrBlocks", "ipv6CidrBlocks"):
                for cidr in as_list(read(props, key)):
                    yield key, UNKNOWN if kind is UNKNOWN else cidr
    elif resource_type == INGRESS_RULE:
        for key in ("cidrIpv4", "cidrIpv6"):
            value = read(props, key)
            if value is UNKNOWN or isinstance(value, str):
                yield key, value


def _check_open_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for where, cidr in _ingress_cidrs(args.resource_type, args.props):
        if cidr is UNKNOWN:
            report(f"{where} is unknown at preview, so the ingress could not be checked", None)
        elif is_anywhere(cidr):
            report(
                f"{where} admits {cidr}, the whole internet; admit the clients' security "
                "groups or CIDR blocks only",
                None,
            )


def _check_flow_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    flow_logs = of_types(args.resources, [FLOW_LOG])
    for vpc in of_types(args.resources, [VPC]):
        if not any(linked(f, "vpcId", vpc, ()) for f in flow_logs):
            report(
                f"VPC {vpc.name!r} has no flow log; add an aws.ec2.FlowLog for it",
                vpc.urn,
            )


no_open_ingress = resource_policy(
    Meta(
        name="aws-ec2-no-open-ingress",
        description="No security group rule admits ingress from 0.0.0.0/0 or ::/0.",
        severity=Severity.HIGH,
        remediation="Replace the rule's 0.0.0.0/0 or ::/0 with the security groups or CIDR "
        "blocks of the clients that need access.",
        control=Control(
            "Prowler",
            "ec2_securitygroup_allow_ingress_from_internet_to_any_port (CIS AWS Foundations "
            "3.0 5.2, 5.3 for administration ports)",
        ),
    ),
    _check_open_ingress,
)

vpc_flow_logs = stack_policy(
    Meta(
        name="aws-vpc-flow-logs",
        description="Every VPC created in the stack has a flow log.",
        severity=Severity.MEDIUM,
        remediation="Add an aws.ec2.FlowLog (trafficType 'ALL') for the VPC, delivering to an "
        "encrypted log group with retention.",
        control=Control(
            "Prowler",
            "vpc_flow_logs_enabled (AWS Config vpc-flow-logs-enabled; CIS AWS Foundations 3.0 3.7)",
        ),
    ),
    _check_flow_logs,
)

POLICIES: Final[list[Any]] = [no_open_ingress, vpc_flow_logs]

__all__ = ["POLICIES", "is_anywhere"]
