"""Bedrock endpoints (private DNS, own policy) and invocation logging (per Region, in Region)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi_aws as aws
import pytest

from components import aws_iam_documents as docs
from policies.aws_bedrock import POLICIES
from stacks.render import render
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated

PRIVATE_DNS = "aws-bedrock-endpoint-private-dns"
ENDPOINT_POLICY = "aws-bedrock-endpoint-policy-restricted"
PER_REGION = "aws-bedrock-invocation-logging-per-region"
SAME_REGION = "aws-bedrock-invocation-logging-same-region"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ACCOUNT = docs.Account("111122223333")
MODELS = ["amazon.nova-pro-v1:0"]
GOOD_POLICY = docs.to_json(docs.bedrock_endpoint_policy(MODELS, "eu-central-1", ACCOUNT))
FULL_ACCESS = json.dumps(
    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
)


def endpoint_props(**overrides: Any) -> dict[str, Any]:
    base = {
        "region": "eu-central-1",
        "vpcId": "vpc-1",
        "serviceName": "com.amazonaws.eu-central-1.bedrock-runtime",
        "vpcEndpointType": "Interface",
        "privateDnsEnabled": True,
        "policy": GOOD_POLICY,
    }
    return {**base, **overrides}


def endpoint(**overrides: Any) -> Any:
    return resource(ENDPOINT, endpoint_props(**overrides))


def logging(region: str = "eu-central-1") -> Any:
    return resource(
        "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration",
        {
            "region": region,
            "loggingConfig": {"cloudwatchConfig": {"logGroupName": "/g", "roleArn": "r"}},
        },
        name=f"logging-{region}",
    )


def log_group(region: str = "eu-central-1") -> Any:
    return resource("aws:cloudwatch/logGroup:LogGroup", {"name": "/g", "region": region}, name="lg")


def fired(*resources: Any) -> set[str]:
    return violated(POLICIES, resources, stack_config={"aws:region": "eu-central-1"})


def test_baseline_endpoint_with_logging_passes() -> None:
    assert fired(endpoint(), logging(), log_group()) == set()


@pytest.mark.parametrize("value", [False, None, UNKNOWN])
def test_private_dns_must_be_on(value: Any) -> None:
    props = endpoint_props(privateDnsEnabled=value)
    if value is None:
        del props["privateDnsEnabled"]  # AWS's default: off
    assert PRIVATE_DNS in fired(resource(ENDPOINT, props), logging(), log_group())


@pytest.mark.parametrize("service", ["bedrock", "bedrock-agent-runtime"])
def test_every_bedrock_endpoint_needs_private_dns(service: str) -> None:
    subject = endpoint(serviceName=f"com.amazonaws.eu-central-1.{service}", privateDnsEnabled=False)
    assert PRIVATE_DNS in fired(subject)


def test_other_endpoints_are_not_bedrock_s_business() -> None:
    gateway = resource(
        ENDPOINT,
        {"region": "eu-central-1", "vpcId": "v", "serviceName": "com.amazonaws.eu-central-1.s3"},
    )
    assert fired(gateway) == set()
    assert PRIVATE_DNS in fired(endpoint(serviceName=UNKNOWN))


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (None, "AWS applies the default one"),
        (FULL_ACCESS, "allows any principal"),
        (
            json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "*"},
                            "Action": "bedrock:InvokeModel",
                            "Resource": "*",
                        }
                    ]
                }
            ),
            "allows any principal",
        ),
        (
            json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                            "Action": "*",
                            "Resource": "*",
                        }
                    ]
                }
            ),
            "every action",
        ),
        (UNKNOWN, "unknown at preview"),
    ],
)
def test_endpoint_policy_must_replace_the_default(policy: Any, expected: str) -> None:
    props = endpoint_props()
    if policy is None:
        props.pop("policy")
    else:
        props["policy"] = policy
    found = [
        d
        for d in diagnostics(POLICIES, [resource(ENDPOINT, props), logging(), log_group()])
        if d.policy == ENDPOINT_POLICY
    ]
    assert found and expected in found[0].message


def _render(program: Callable[[], None]) -> set[str]:
    rendering = render(program, config={"aws:region": "eu-central-1"})
    return violated(POLICIES, rendering.resources, stack_config={"aws:region": "eu-central-1"})


def _endpoint_program(policy: str | None, attached: str | None) -> Callable[[], None]:
    def program() -> None:
        created = aws.ec2.VpcEndpoint(
            "runtime",
            vpc_id="vpc-1",
            service_name="com.amazonaws.eu-central-1.bedrock-runtime",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            policy=policy,
        )
        if attached is not None:
            aws.ec2.VpcEndpointPolicy("runtime-policy", vpc_endpoint_id=created.id, policy=attached)
        aws.cloudwatch.LogGroup("lg", name="/g")
        aws.bedrockmodel.InvocationLoggingConfiguration(
            "logging",
            logging_config={"cloudwatch_config": {"log_group_name": "/g", "role_arn": "r"}},
        )

    return program


def test_a_separate_endpoint_policy_resource_counts() -> None:
    assert ENDPOINT_POLICY in _render(_endpoint_program(None, None))
    assert ENDPOINT_POLICY not in _render(_endpoint_program(None, GOOD_POLICY))
    assert ENDPOINT_POLICY in _render(_endpoint_program(None, FULL_ACCESS))


def test_every_region_that_serves_bedrock_needs_logging() -> None:
    assert PER_REGION in fired(endpoint())
    assert PER_REGION in fired(endpoint(), logging("eu-west-1"), log_group("eu-west-1"))
    guardrail = resource("aws:bedrock/guardrail:Guardrail", {"region": "eu-west-3", "name": "g"})
    assert PER_REGION in fired(endpoint(), logging(), log_group(), guardrail)
    no_destination = resource(
        "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration",
        {"region": "eu-central-1", "loggingConfig": {"textDataDeliveryEnabled": True}},
    )
    assert PER_REGION in fired(endpoint(), no_destination)


def test_logging_destinations_must_be_in_its_region_and_in_the_stack() -> None:
    assert SAME_REGION in fired(endpoint(), logging(), log_group("eu-west-1"))
    assert SAME_REGION in fired(endpoint(), logging())  # log group not managed here
    found = [
        d
        for d in diagnostics(POLICIES, [logging(), log_group("eu-north-1")])
        if d.policy == SAME_REGION
    ]
    assert "is in 'eu-north-1', not in 'eu-central-1'" in found[0].message


def _bucket_program(bucket_region: str) -> Callable[[], None]:
    def program() -> None:
        bucket = aws.s3.Bucket("logs", region=bucket_region)
        aws.cloudwatch.LogGroup("lg", name="/g", region="eu-central-1")
        aws.bedrockmodel.InvocationLoggingConfiguration(
            "logging",
            region="eu-central-1",
            logging_config={
                "cloudwatch_config": {"log_group_name": "/g", "role_arn": "r"},
                "s3_config": {"bucket_name": bucket.bucket, "key_prefix": "bedrock"},
            },
        )

    return program


def test_the_bucket_is_found_through_its_dependency() -> None:
    assert SAME_REGION not in _render(_bucket_program("eu-central-1"))
    assert SAME_REGION in _render(_bucket_program("us-east-1"))
