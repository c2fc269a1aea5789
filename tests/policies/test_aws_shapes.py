"""Both AWS shapes, as rendered, pass the whole pack, whatever the stack's default Region."""

from __future__ import annotations

from typing import Any

import pytest

from components.bedrock_privatelink import BedrockPrivateLink, BedrockPrivateLinkArgs
from components.byoc import Byoc, ByocArgs
from components.common import ShapeContext
from policies import ALL_POLICIES
from stacks.render import render
from tests.policies.harness import diagnostics

CTX = ShapeContext(
    environment="prod-eu",
    business_unit="retail",
    cost_center="CC-1001",
    data_classification="confidential",
    jurisdictions=frozenset({"eu"}),
)
OIDC = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
BEDROCK: dict[str, Any] = {
    "region": "eu-central-1",
    "models": ["eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "amazon.nova-pro-v1:0"],
    "gateway_trust": {"kind": "irsa", "oidc_provider_arn": OIDC},
    "client_security_group_ids": ["sg-0123456789abcdef0"],
    "extra_endpoints": ["bedrock", "sts", "logs", "kms", "secretsmanager"],
    "account_id": "111122223333",
}
BYOC: dict[str, Any] = {
    "region": "eu-west-1",
    "allowed_regions": ["eu-west-1", "eu-central-1"],
    "vendor": {"principal_arn": "arn:aws:iam::444455556666:root", "external_id": "ext-123456"},
    "bedrock_models": ["eu.anthropic.claude-3-7-sonnet-20250219-v1:0"],
    "vpc": {},
    "account_id": "111122223333",
}


@pytest.mark.parametrize("stack_region", ["eu-central-1", "us-east-1"])
@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"gateway_trust": {"kind": "ecs"}, "client_cidrs": ["10.1.0.0/16"]},
        {"vpc_id": "vpc-0123456789abcdef0", "subnet_ids": ["subnet-0123456789abcdef0"]},
    ],
)
def test_bedrock_privatelink_passes_the_pack(variant: dict[str, Any], stack_region: str) -> None:
    args = BedrockPrivateLinkArgs.model_validate({**BEDROCK, **variant})
    rendering = render(lambda: BedrockPrivateLink("bedrock", args, CTX))
    found = diagnostics(
        ALL_POLICIES, rendering.resources, stack_config={"aws:region": stack_region}
    )
    assert [(d.policy, d.message) for d in found] == []


@pytest.mark.parametrize("stack_region", ["eu-west-1", "us-east-1"])
def test_byoc_passes_the_pack(stack_region: str) -> None:
    args = ByocArgs.model_validate(BYOC)
    rendering = render(lambda: Byoc("byoc", args, CTX))
    found = diagnostics(
        ALL_POLICIES, rendering.resources, stack_config={"aws:region": stack_region}
    )
    assert [(d.policy, d.message) for d in found] == []
