"""aws-resource-region-in-zone: the resource's region, then its provider's, then aws:region."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from policies.aws_residency import POLICIES
from stacks.render import render
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated

NAME = "aws-resource-region-in-zone"
VPC = "aws:ec2/vpc:Vpc"


def vpc(**props: Any) -> Any:
    return resource(VPC, {"cidrBlock": "10.0.0.0/16", **props})


def fired(*resources: Any, stack_region: str | None = None, **settings: Any) -> bool:
    config = {"aws:region": stack_region} if stack_region else {}
    return NAME in violated(POLICIES, resources, settings=settings, stack_config=config)


def test_baseline_in_zone_passes() -> None:
    assert not fired(vpc(region="eu-central-1"))


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-2", "eu-central-2", "il-central-1"])
def test_regions_outside_the_eu_fire(region: str) -> None:
    assert fired(vpc(region=region))


def test_unknown_region_value_fails_closed() -> None:
    [finding] = diagnostics(POLICIES, [vpc(region=UNKNOWN)])
    assert "unknown at preview" in finding.message


def test_unknown_region_name_fails_closed() -> None:
    [finding] = diagnostics(POLICIES, [vpc(region="eu-moon-1")])
    assert "unknown aws region 'eu-moon-1'" in finding.message


def test_stack_region_applies_when_the_resource_has_none() -> None:
    assert not fired(vpc(), stack_region="eu-west-1")
    assert fired(vpc(), stack_region="us-west-2")


def test_no_region_anywhere_fails_closed() -> None:
    [finding] = diagnostics(POLICIES, [vpc()])
    assert "the stack has no `aws:region`" in finding.message


def test_the_resource_region_wins_over_the_stack_region() -> None:
    assert not fired(vpc(region="eu-north-1"), stack_region="us-east-1")
    assert fired(vpc(region="us-east-1"), stack_region="eu-north-1")


def _with_provider(provider_region: str | None, resource_region: str | None) -> set[str]:
    def program() -> None:
        provider = aws.Provider("explicit", region=provider_region)
        aws.ec2.Vpc(
            "v",
            cidr_block="10.0.0.0/16",
            region=resource_region,
            opts=pulumi.ResourceOptions(provider=provider),
        )

    rendering = render(program, config={"aws:region": "eu-central-1"})
    return violated(POLICIES, rendering.resources, stack_config={"aws:region": "eu-central-1"})


def test_explicit_provider_region_comes_before_the_stack_region() -> None:
    assert NAME in _with_provider("us-east-1", None)
    assert NAME not in _with_provider("eu-west-3", None)
    assert NAME not in _with_provider("us-east-1", "eu-west-3")


def test_explicit_provider_without_region_fails_closed() -> None:
    assert NAME in _with_provider(None, None)


def test_global_services_need_no_region_but_are_checked_when_they_set_one() -> None:
    role = resource("aws:iam/role:Role", {"assumeRolePolicy": "{}"})
    assert not fired(role, stack_region="us-east-1")
    waf = resource("aws:wafv2/webAcl:WebAcl", {"region": "us-east-1", "scope": "REGIONAL"})
    assert fired(waf, stack_region="eu-west-1")


def test_extra_jurisdictions_admit_more_regions() -> None:
    assert fired(vpc(region="eu-central-2"))
    assert not fired(vpc(region="eu-central-2"), zone="eu", extraJurisdictions=["ch"])


def test_cross_region_interface_endpoint_fires_on_its_service_region() -> None:
    endpoint = {
        "region": "eu-central-1",
        "vpcId": "vpc-1",
        "serviceName": "com.amazonaws.us-east-1.bedrock-runtime",
        "vpcEndpointType": "Interface",
    }
    assert not fired(resource("aws:ec2/vpcEndpoint:VpcEndpoint", endpoint))
    remote = resource("aws:ec2/vpcEndpoint:VpcEndpoint", {**endpoint, "serviceRegion": "us-east-1"})
    [finding] = diagnostics(POLICIES, [remote])
    assert "serviceRegion 'us-east-1'" in finding.message


def test_other_clouds_are_left_to_their_own_policies() -> None:
    assert not fired(resource("azure-native:resources:ResourceGroup", {"location": "westus"}))
