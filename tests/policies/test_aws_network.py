"""Security groups admit no internet-wide ingress; every VPC has flow logs."""

from __future__ import annotations

from typing import Any

import pulumi_aws as aws
import pytest

from policies.aws_network import POLICIES
from stacks.render import render
from tests.policies.harness import UNKNOWN, resource, violated

OPEN = "aws-ec2-no-open-ingress"
FLOW = "aws-vpc-flow-logs"


def group(**rule: Any) -> Any:
    base = {"protocol": "tcp", "fromPort": 443, "toPort": 443, **rule}
    return resource(
        "aws:ec2/securityGroup:SecurityGroup", {"region": "eu-central-1", "ingress": [base]}
    )


def test_rules_from_groups_and_private_cidrs_pass() -> None:
    assert not violated(POLICIES, [group(securityGroups=["sg-1"])])
    assert not violated(POLICIES, [group(cidrBlocks=["10.0.0.0/8"], ipv6CidrBlocks=["fd00::/8"])])


@pytest.mark.parametrize(
    "rule",
    [
        {"cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"]},
        {"ipv6CidrBlocks": ["::/0"]},
        {"cidrBlocks": ["0.0.0.0/00"]},
        {"cidrBlocks": [UNKNOWN]},
    ],
)
def test_internet_wide_or_unknown_ingress_fires(rule: dict[str, Any]) -> None:
    assert OPEN in violated(POLICIES, [group(**rule)])


def test_separate_rule_resources_are_checked() -> None:
    legacy = resource(
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 22, "toPort": 22},
    )
    egress = resource(
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 0, "toPort": 0},
    )
    modern = resource(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"cidrIpv6": "::/0", "ipProtocol": "tcp"},
    )
    assert OPEN in violated(POLICIES, [legacy])
    assert OPEN in violated(POLICIES, [modern])
    assert not violated(POLICIES, [egress])
    # Egress to anywhere is a different question (the Gatehouse shapes set none at all).
    wide_egress = resource(
        "aws:ec2/securityGroup:SecurityGroup", {"egress": [{"cidrBlocks": ["0.0.0.0/0"]}]}
    )
    assert not violated(POLICIES, [wide_egress])


def _vpc_program(with_flow_log: bool) -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", region="eu-central-1")
    if with_flow_log:
        aws.ec2.FlowLog("flow", vpc_id=vpc.id, traffic_type="ALL", region="eu-central-1")


@pytest.mark.parametrize("with_flow_log", [True, False])
def test_vpcs_need_a_flow_log(with_flow_log: bool) -> None:
    rendering = render(lambda: _vpc_program(with_flow_log))
    assert (FLOW in violated(POLICIES, rendering.resources)) is not with_flow_log
