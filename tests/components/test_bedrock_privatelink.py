"""The Bedrock-over-PrivateLink shape: residency checks, secure defaults, documents, outputs."""

from __future__ import annotations

import asyncio
import contextvars
import json
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from components import aws_iam_documents as docs
from components.aws_blocks import account_identity
from components.bedrock_privatelink import (
    POLICY_PROFILE,
    BedrockPrivateLink,
    BedrockPrivateLinkArgs,
    validate,
)
from components.common import ResidencyViolation, ShapeContext
from stacks.render import MOCK_ACCOUNT_ID, RenderedResource, Rendering, render
from tests.components.test_aws_iam_documents import unexplained_findings

EU_SONNET_45 = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
OIDC = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
GATEWAY_SG = "sg-0123456789abcdef0"
ACCOUNT = "111122223333"

EU = ShapeContext(
    environment="prod-eu",
    business_unit="retail",
    cost_center="CC-1001",
    data_classification="confidential",
    jurisdictions=frozenset({"eu"}),
)


def make_args(**overrides: Any) -> BedrockPrivateLinkArgs:
    base: dict[str, Any] = {
        "region": "eu-central-1",
        "models": [EU_SONNET_45, NOVA_PRO],
        "gateway_trust": {"kind": "irsa", "oidc_provider_arn": OIDC},
        "client_security_group_ids": [GATEWAY_SG],
        "account_id": ACCOUNT,
    }
    return BedrockPrivateLinkArgs.model_validate({**base, **overrides})


def render_with_outputs(
    args: BedrockPrivateLinkArgs, ctx: ShapeContext = EU
) -> tuple[Rendering, dict[str, Any]]:
    outputs: dict[str, Any] = {}

    def program() -> None:
        shape = BedrockPrivateLink("bedrock", args, ctx)
        for key in ("routes", "role_arn", "endpoint", "endpoint_dns"):
            getattr(shape, key).apply(lambda value, k=key: outputs.__setitem__(k, value))

    # The stack's default Region is elsewhere on purpose: the shape must not rely on it.
    return render(program, config={"aws:region": "us-east-1"}), outputs


def render_shape(args: BedrockPrivateLinkArgs, ctx: ShapeContext = EU) -> Rendering:
    return render_with_outputs(args, ctx)[0]


def of_type(rendering: Rendering, suffix: str) -> list[RenderedResource]:
    return [r for r in rendering.resources if r.type.endswith(suffix)]


def one(rendering: Rendering, suffix: str) -> dict[str, Any]:
    found = of_type(rendering, suffix)
    assert len(found) == 1, [r.name for r in found]
    return found[0].inputs


@pytest.fixture(scope="module")
def default() -> Rendering:
    return render_shape(make_args(extra_endpoints=["sts", "logs"]))


# --- residency, before anything is created ------------------------------------------------


def test_region_outside_the_zone_is_refused_naming_the_policy() -> None:
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(region="us-east-1", models=[NOVA_PRO]), EU)
    assert err.value.policy == "aws-resource-region-in-zone"
    assert err.value.field_path == "region"
    assert "'us-east-1' (jurisdiction 'us')" in err.value.message


def test_unknown_region_and_allowed_regions() -> None:
    with pytest.raises(ResidencyViolation, match="expected a known AWS Region"):
        validate(make_args(region="eu-moon-1", models=[NOVA_PRO]), EU)
    pinned = ShapeContext(**{**EU.__dict__, "allowed_regions": ("eu-west-1",)})
    with pytest.raises(ResidencyViolation, match="allowed_regions eu-west-1"):
        validate(make_args(), pinned)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "cannot be called from region"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "global inference profile"),
        ("eu.anthropic.claude-made-up-20990101-v1:0", "not in the reviewed snapshot"),
    ],
)
def test_profiles_that_cannot_be_placed_in_the_zone_are_refused(model: str, expected: str) -> None:
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(models=[NOVA_PRO, model]), EU)
    assert err.value.policy == POLICY_PROFILE
    assert err.value.field_path == "models[1]"
    assert expected in err.value.message


def test_profile_jurisdiction_comes_from_destinations_not_the_prefix() -> None:
    # Zone "ch" admits Zurich, but the eu. profile called from Zurich may run in the EU too.
    swiss = ShapeContext(**{**EU.__dict__, "jurisdictions": frozenset({"ch"})})
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(region="eu-central-2", models=[EU_SONNET_45]), swiss)
    assert "may process in jurisdictions eu" in err.value.message
    # With both, it is fine, and the route says where it may run.
    both = ShapeContext(**{**EU.__dict__, "jurisdictions": frozenset({"ch", "eu"})})
    placement = validate(make_args(region="eu-central-2", models=[EU_SONNET_45]), both)
    assert placement.model_jurisdictions[EU_SONNET_45] == frozenset({"ch", "eu"})


def test_eu_profile_from_frankfurt_stays_in_the_eu() -> None:
    placement = validate(make_args(), EU)
    assert placement.model_jurisdictions == {
        EU_SONNET_45: frozenset({"eu"}),
        NOVA_PRO: frozenset({"eu"}),
    }


# --- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"client_security_group_ids": []}, "no client is admitted"),
        ({"client_cidrs": ["0.0.0.0/0"]}, "admits the whole internet"),
        ({"client_cidrs": ["::/0"]}, "admits the whole internet"),
        ({"client_cidrs": ["10.0.0.300/8"]}, "expected a CIDR block"),
        ({"client_security_group_ids": ["default"]}, "expected security group ids"),
        ({"vpc_id": "vpc-0123456789abcdef0"}, "vpc_id and subnet_ids go together"),
        ({"subnet_ids": ["subnet-0123456789abcdef0"]}, "vpc_id and subnet_ids go together"),
        ({"availability_zones": ["eu-west-1a"]}, "are not in region 'eu-central-1'"),
        ({"log_retention_days": 100}, "retention values"),
        ({"kms_key_id": "alias/logs"}, "expected a KMS key ARN"),
        (
            {"kms_key_id": "arn:aws:kms:eu-west-1:111122223333:key/" + "0" * 36},
            "expected a key in region 'eu-central-1'",
        ),
        ({"models": [NOVA_PRO, NOVA_PRO]}, "must not repeat"),
        ({"models": []}, "at least 1 item"),
        ({"prices": {"amazon.titan-text-lite-v1": {}}}, "prices names models not in models"),
        ({"tags": {"gatehouse:role": "x"}}, "reserved"),
        ({"account_id": "12345"}, "12-digit"),
        ({"gateway_trust": {"kind": "irsa", "oidc_provider_arn": "arn:aws:iam::1:role/x"}}, "oidc"),
        ({"gateway_trust": {"kind": "lambda"}}, "does not match any of the expected tags"),
        ({"extra_endpoints": ["ssm"]}, "Input should be"),
        ({"public": True}, "Extra inputs are not permitted"),
    ],
)
def test_bad_arguments_say_what_was_expected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_args(**overrides)


# --- what gets created ----------------------------------------------------------------------


def test_every_regional_resource_names_its_region_explicitly(default: Rendering) -> None:
    regional = [r for r in default.resources if r.type.startswith("aws:") and ":iam/" not in r.type]
    assert len(regional) > 15
    for resource in regional:
        assert resource.inputs.get("region") == "eu-central-1", resource.name


def test_every_taggable_child_carries_the_policy_tags(default: Rendering) -> None:
    untaggable = (
        "aws:iam/rolePolicy:",
        "aws:s3/bucket",  # the bucket's sub-resources (the bucket itself is checked below)
        "aws:bedrockmodel/",
    )
    tagged = [
        r
        for r in default.resources
        if r.type.startswith("aws:")
        and (not r.type.startswith(untaggable) or r.type == "aws:s3/bucket:Bucket")
    ]
    for resource in tagged:
        tags = resource.inputs.get("tags", {})
        assert tags.get("gatehouse:jurisdiction") == "eu", resource.name
        assert tags.get("gatehouse:cost-center") == "CC-1001", resource.name
        assert tags.get("gatehouse:shape") == "bedrock_privatelink", resource.name
        assert tags.get("gatehouse:role"), resource.name
    assert all(r.parent for r in default.resources if r.type.startswith("aws:"))


def test_new_network_is_private_only(default: Rendering) -> None:
    types = {r.type for r in default.resources}
    for forbidden in ("internetGateway", "natGateway", "eip:Eip", "route:Route", "egressOnly"):
        assert not any(forbidden in t for t in types), forbidden
    vpc = one(default, "ec2/vpc:Vpc")
    assert vpc["enableDnsHostnames"] is True and vpc["enableDnsSupport"] is True
    subnets = of_type(default, "ec2/subnet:Subnet")
    zones = sorted((s.inputs["availabilityZone"], s.inputs["cidrBlock"]) for s in subnets)
    assert zones == [("eu-central-1a", "10.60.0.0/20"), ("eu-central-1b", "10.60.16.0/20")]
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    default_sg = one(default, "ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg["ingress"] == [] and default_sg["egress"] == []


def test_endpoints_are_private_and_carry_their_own_policies(default: Rendering) -> None:
    endpoints = {r.inputs["serviceName"]: r.inputs for r in of_type(default, ":VpcEndpoint")}
    assert set(endpoints) == {
        "com.amazonaws.eu-central-1.bedrock-runtime",
        "com.amazonaws.eu-central-1.sts",
        "com.amazonaws.eu-central-1.logs",
    }
    account = docs.Account(ACCOUNT)
    for endpoint in endpoints.values():
        assert endpoint["privateDnsEnabled"] is True
        assert endpoint["vpcEndpointType"] == "Interface"
        assert endpoint["securityGroupIds"] == ["bedrock-endpoints-sg-id"]
    runtime = json.loads(endpoints["com.amazonaws.eu-central-1.bedrock-runtime"]["policy"])
    assert runtime == docs.bedrock_endpoint_policy(
        [EU_SONNET_45, NOVA_PRO], "eu-central-1", account
    )
    sts = json.loads(endpoints["com.amazonaws.eu-central-1.sts"]["policy"])
    assert sts == docs.service_endpoint_policy("sts", account)


def test_endpoint_security_group_admits_https_from_the_gateway_only(default: Rendering) -> None:
    group = one(default, "ec2/securityGroup:SecurityGroup")
    assert group["egress"] == []
    [rule] = group["ingress"]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
    assert rule["securityGroups"] == [GATEWAY_SG]
    assert not rule.get("cidrBlocks")


def test_client_cidrs_become_one_rule_for_both_families() -> None:
    rendering = render_shape(
        make_args(client_security_group_ids=[], client_cidrs=["10.8.0.0/16", "fd00::/8"])
    )
    [rule] = one(rendering, "ec2/securityGroup:SecurityGroup")["ingress"]
    assert rule["cidrBlocks"] == ["10.8.0.0/16"] and rule["ipv6CidrBlocks"] == ["fd00::/8"]


def test_gateway_role_is_irsa_with_least_privilege_inference(default: Rendering) -> None:
    roles = {r.name: r.inputs for r in of_type(default, "iam/role:Role")}
    gateway = roles["bedrock-gateway-role"]
    assert gateway["maxSessionDuration"] == 3600
    assert json.loads(gateway["assumeRolePolicy"]) == docs.irsa_trust_policy(
        OIDC, "gatehouse", "gateway"
    )
    invoke = next(
        r.inputs for r in of_type(default, "iam/rolePolicy:RolePolicy") if r.name.endswith("invoke")
    )
    assert invoke["role"] == "bedrock-gateway-role"
    policy = json.loads(invoke["policy"])
    assert policy == docs.bedrock_invoke_policy(
        [EU_SONNET_45, NOVA_PRO], "eu-central-1", docs.Account(ACCOUNT)
    )
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}


@pytest.mark.parametrize(
    ("trust", "service"),
    [({"kind": "ecs"}, "ecs-tasks.amazonaws.com"), ({"kind": "ec2"}, "ec2.amazonaws.com")],
)
def test_ecs_and_ec2_are_alternative_trusts(trust: dict[str, str], service: str) -> None:
    rendering = render_shape(make_args(gateway_trust=trust))
    role = next(r for r in of_type(rendering, "iam/role:Role") if r.name == "bedrock-gateway-role")
    statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert statement["Principal"] == {"Service": service}


def test_logs_are_encrypted_retained_and_in_the_region(default: Rendering) -> None:
    key = one(default, "kms/key:Key")
    assert key["enableKeyRotation"] is True
    assert key["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    key_arn = f"arn:aws:kms:eu-central-1:{MOCK_ACCOUNT_ID}:key/bedrock-logs-key"
    groups = {g.inputs["name"]: g.inputs for g in of_type(default, "logGroup:LogGroup")}
    assert set(groups) == {
        "/gatehouse/prod-eu/bedrock/bedrock-invocations",
        "/gatehouse/prod-eu/bedrock/vpc-flow-logs",
    }
    for group in groups.values():
        assert group["kmsKeyId"] == key_arn and group["retentionInDays"] == 365
    encryption = one(default, "BucketServerSideEncryptionConfiguration")["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key_arn,
    }
    block = one(default, "BucketPublicAccessBlock")
    assert all(
        block[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    lifecycle = one(default, "BucketLifecycleConfiguration")["rules"][0]
    assert lifecycle["expiration"] == {"days": 365} and lifecycle["status"] == "Enabled"
    policy = json.loads(one(default, "s3/bucketPolicy:BucketPolicy")["policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"


def test_invocation_logging_targets_both_destinations(default: Rendering) -> None:
    logging = one(default, "invocationLoggingConfiguration:InvocationLoggingConfiguration")
    config = logging["loggingConfig"]
    assert logging["region"] == "eu-central-1"
    assert (
        config["cloudwatchConfig"]["logGroupName"]
        == "/gatehouse/prod-eu/bedrock/bedrock-invocations"
    )
    assert config["cloudwatchConfig"]["roleArn"].endswith(":role/bedrock-logging-role")
    assert config["s3Config"] == {"bucketName": "bedrock-invocations", "keyPrefix": "bedrock"}
    assert config["textDataDeliveryEnabled"] is True
    assert config["imageDataDeliveryEnabled"] is False
    assert config["embeddingDataDeliveryEnabled"] is False


def test_flow_logs_capture_all_traffic(default: Rendering) -> None:
    flow = one(default, "ec2/flowLog:FlowLog")
    assert flow["trafficType"] == "ALL" and flow["vpcId"] == "bedrock-vpc-id"
    assert flow["logDestination"].endswith(":log-group:/gatehouse/prod-eu/bedrock/vpc-flow-logs")


def test_existing_vpc_and_key_are_used_as_given() -> None:
    key = "arn:aws:kms:eu-central-1:111122223333:key/" + "1" * 36
    rendering = render_shape(
        make_args(
            vpc_id="vpc-0123456789abcdef0",
            subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            kms_key_id=key,
        )
    )
    assert not of_type(rendering, "ec2/vpc:Vpc") and not of_type(rendering, "ec2/subnet:Subnet")
    assert not of_type(rendering, "kms/key:Key")
    endpoint = one(rendering, ":VpcEndpoint")
    assert endpoint["vpcId"] == "vpc-0123456789abcdef0"
    assert endpoint["subnetIds"] == ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    assert one(rendering, "ec2/flowLog:FlowLog")["vpcId"] == "vpc-0123456789abcdef0"
    assert {g.inputs["kmsKeyId"] for g in of_type(rendering, "logGroup:LogGroup")} == {key}


def test_every_generated_policy_document_lints_clean(default: Rendering) -> None:
    documents = [
        json.loads(value)
        for r in default.resources
        for field, value in r.inputs.items()
        if field in ("policy", "assumeRolePolicy")
    ]
    assert len(documents) >= 10
    for document in documents:
        assert unexplained_findings(document) == [], document


def test_outputs_routes_role_and_endpoint() -> None:
    _, outputs = render_with_outputs(make_args())
    assert outputs["role_arn"] == f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/bedrock-gateway-role"
    assert outputs["endpoint"] == "https://bedrock-runtime.eu-central-1.amazonaws.com"
    assert outputs["routes"] == [
        {
            "provider": "bedrock",
            "model": EU_SONNET_45,
            "region": "eu-central-1",
            "jurisdiction": "eu",
        },
        {"provider": "bedrock", "model": NOVA_PRO, "region": "eu-central-1", "jurisdiction": "eu"},
    ]


def test_prices_reach_the_routes() -> None:
    _, outputs = render_with_outputs(
        make_args(prices={NOVA_PRO: {"input_per_mtok": 0.8, "output_per_mtok": 3.2}})
    )
    nova = next(r for r in outputs["routes"] if r["model"] == NOVA_PRO)
    assert nova["price"] == {"input_per_mtok": 0.8, "output_per_mtok": 3.2}


class _AskAws(pulumi.runtime.Mocks):
    """Answers the two invokes the shapes make when no account_id is given."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        answers: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": "210987654321",
                "arn": "arn:aws-eusc:iam::210987654321:user/deployer",
                "userId": "deployer",
                "id": "210987654321",
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws-eusc",
                "dnsSuffix": "amazonaws.eu",
                "reverseDnsPrefix": "eu.amazonaws",
                "id": "aws-eusc",
            },
        }
        return answers[args.token], []


def test_without_account_id_the_account_and_partition_are_asked_of_aws() -> None:
    def ask() -> docs.Account | None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_mocks(_AskAws(), preview=False)
            return loop.run_until_complete(account_identity(None).future())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    account = contextvars.copy_context().run(ask)
    assert account is not None
    assert account == docs.Account(account_id="210987654321", partition="aws-eusc")
    assert account.root == "arn:aws-eusc:iam::210987654321:root"
