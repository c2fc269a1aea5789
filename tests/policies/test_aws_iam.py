"""Bedrock grants in IAM and endpoint documents: no bedrock:*, no Region wildcard, in zone."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components import aws_iam_documents as docs
from policies.aws_iam import POLICIES
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated

WILDCARD = "aws-iam-no-bedrock-wildcard"
REGION = "aws-iam-no-bedrock-region-wildcard"
IN_ZONE = "aws-iam-bedrock-profile-in-zone"
ACCOUNT = docs.Account("111122223333")
EU_SONNET_45 = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
BASELINE = docs.bedrock_invoke_policy(
    [EU_SONNET_45, "amazon.nova-pro-v1:0"], "eu-central-1", ACCOUNT
)


def role_policy(document: Any) -> Any:
    text = document if isinstance(document, str) else json.dumps(document)
    return resource("aws:iam/rolePolicy:RolePolicy", {"role": "gateway", "policy": text})


def grant(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def invoke(resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(docs.INVOKE_ACTIONS), "Resource": resources, **extra}


def fired(document: Any, **settings: Any) -> set[str]:
    return violated(POLICIES, [role_policy(document)], settings=settings)


def test_the_shapes_grant_passes() -> None:
    assert fired(BASELINE) == set()


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "*:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "BEDROCK:*", "Resource": "*"},
        {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"},
    ],
)
def test_blanket_bedrock_grants_fire(statement: dict[str, Any]) -> None:
    assert WILDCARD in fired(grant(statement))


def test_narrow_patterns_and_denies_do_not_count_as_blanket() -> None:
    assert WILDCARD not in fired(
        grant(
            {"Effect": "Deny", "Action": "bedrock:*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["bedrock:List*", "bedrock:Get*"], "Resource": "*"},
            {"Effect": "Allow", "NotAction": ["bedrock:*"], "Resource": "*"},
        )
    )


@pytest.mark.parametrize(
    "type_",
    [
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    ],
)
def test_attaching_bedrock_full_access_fires(type_: str) -> None:
    arn = "arn:aws:iam::aws:policy/AmazonBedrockFullAccess"
    assert WILDCARD in violated(POLICIES, [resource(type_, {"role": "r", "policyArn": arn})])
    other = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert not violated(POLICIES, [resource(type_, {"role": "r", "policyArn": other})])
    unknown = resource(type_, {"role": "r", "policyArn": UNKNOWN})
    assert WILDCARD in violated(POLICIES, [unknown])


def test_role_managed_policy_arns_are_checked() -> None:
    role = resource(
        "aws:iam/role:Role",
        {
            "assumeRolePolicy": "{}",
            "managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonBedrockFullAccess"],
        },
    )
    assert WILDCARD in violated(POLICIES, [role])


@pytest.mark.parametrize(
    "resources",
    [
        "*",
        ["arn:aws:bedrock:*::foundation-model/amazon.nova-pro-v1:0"],
        ["arn:aws:bedrock:eu-*::foundation-model/amazon.nova-pro-v1:0"],
        ["arn:aws:bedrock:::foundation-model/amazon.nova-pro-v1:0"],
        ["arn:*:bedrock:eu-central-1::foundation-model/amazon.nova-pro-v1:0"],
    ],
)
def test_region_wildcards_on_inference_fire(resources: Any) -> None:
    assert REGION in fired(grant(invoke(resources)))


def test_not_resource_on_inference_fires() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "bedrock:InvokeModel",
        "NotResource": "arn:aws:s3:::x",
    }
    assert REGION in fired(grant(statement))


def test_wildcard_resources_on_other_actions_are_not_inference_grants() -> None:
    read_only = {"Effect": "Allow", "Action": ["bedrock:ListFoundationModels"], "Resource": "*"}
    assert REGION not in fired(grant(read_only))
    # ...but a wildcard action that includes inference is.
    assert REGION in fired(grant({"Effect": "Allow", "Action": "bedrock:Invoke*", "Resource": "*"}))


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0", "jurisdictions us"),
        (
            "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "jurisdictions us",
        ),
        (
            "arn:aws:bedrock:eu-central-1:111122223333:inference-profile/"
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "cannot be called from region",
        ),
        (
            "arn:aws:bedrock:eu-central-1:111122223333:inference-profile/"
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global inference profile",
        ),
        (
            # Called from Zurich, the eu. profile may run in Zurich: outside zone "eu".
            f"arn:aws:bedrock:eu-central-2:111122223333:inference-profile/{EU_SONNET_45}",
            "jurisdictions ch",
        ),
        (
            "arn:aws:bedrock:eu-central-1:111122223333:inference-profile/eu.anthropic.claude-x-v9:0",
            "not in the reviewed snapshot",
        ),
        (
            "arn:aws:bedrock:eu-central-1:111122223333:inference-profile/eu.*",
            "wildcard",
        ),
        (
            "arn:aws:bedrock:eu-central-1:111122223333:application-inference-profile/abc123",
            "application inference profile",
        ),
    ],
)
def test_grants_that_may_process_outside_the_zone_fire(arn: str, expected: str) -> None:
    findings = [
        d for d in diagnostics(POLICIES, [role_policy(grant(invoke([arn])))]) if d.policy == IN_ZONE
    ]
    assert findings and expected in findings[0].message


def test_zone_settings_decide() -> None:
    zurich = f"arn:aws:bedrock:eu-central-2:111122223333:inference-profile/{EU_SONNET_45}"
    assert IN_ZONE not in fired(grant(invoke([zurich])), zone="eu", extraJurisdictions=["ch"])
    global_profile = (
        "arn:aws:bedrock:eu-central-1:111122223333:inference-profile/"
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert IN_ZONE in fired(grant(invoke([global_profile])))
    assert IN_ZONE not in fired(grant(invoke([global_profile])), allowGlobalProcessing=True)


def test_one_bad_destination_in_an_otherwise_good_grant_fires() -> None:
    document = copy.deepcopy(BASELINE)
    document["Statement"][-1]["Resource"].append(
        "arn:aws:bedrock:eu-west-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert fired(document) == {IN_ZONE}


@pytest.mark.parametrize("value", [UNKNOWN, "{not json", '["a list"]'])
def test_unreadable_documents_fail_closed_for_every_rule(value: str) -> None:
    assert fired(value) == {WILDCARD, REGION, IN_ZONE}


def test_role_inline_policies_and_endpoint_policies_are_read() -> None:
    bad = json.dumps(grant({"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}))
    role = resource(
        "aws:iam/role:Role",
        {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "x", "policy": bad}]},
    )
    endpoint = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {"serviceName": "com.amazonaws.eu-central-1.bedrock-runtime", "policy": bad},
    )
    managed = resource("aws:iam/policy:Policy", {"policy": bad})
    for subject in (role, endpoint, managed):
        assert WILDCARD in violated(POLICIES, [subject]), subject.type
    good = json.dumps(docs.bedrock_endpoint_policy([EU_SONNET_45], "eu-central-1", ACCOUNT))
    clean = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {"serviceName": "com.amazonaws.eu-central-1.bedrock-runtime", "policy": good},
    )
    assert not violated(POLICIES, [clean])


def test_policy_given_as_an_object_is_read_too() -> None:
    subject = resource(
        "aws:iam/policy:Policy",
        {"policy": grant({"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"})},
    )
    assert WILDCARD in violated(POLICIES, [subject])
