"""Roles another account may assume: external id, boundary, and a boundary that pins Regions."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components import aws_iam_documents as docs
from policies.aws_byoc import POLICIES
from stacks.render import render
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated

EXTERNAL_ID = "aws-iam-cross-account-external-id"
BOUNDARY = "aws-iam-cross-account-boundary"
PINS = "aws-iam-boundary-pins-regions"
ACCOUNT = docs.Account("111122223333")
VENDOR = "arn:aws:iam::444455556666:root"
BOUNDARY_ARN = "arn:aws:iam::111122223333:policy/fences/vendor-boundary"
TRUST = docs.vendor_trust_policy(VENDOR, "ext-123456")
PIN = docs.document([docs.region_pin_statement(["eu-west-1", "eu-central-1"])])


def fenced_stack(
    trust: Any = TRUST,
    boundary: dict[str, Any] | None = PIN,
    boundary_arn: str | None = BOUNDARY_ARN,
    by_output: bool = False,
) -> set[str]:
    def program() -> None:
        policy = None
        if boundary is not None:
            policy = aws.iam.Policy(
                "boundary", name="vendor-boundary", path="/fences/", policy=json.dumps(boundary)
            )
        arn: Any = boundary_arn
        if by_output and policy is not None:
            arn = pulumi.Output.all(policy.name).apply(lambda _: BOUNDARY_ARN)
        aws.iam.Role(
            "vendor",
            assume_role_policy=trust if isinstance(trust, str) else json.dumps(trust),
            permissions_boundary=arn,
        )

    rendering = render(program, config={"aws:region": "eu-west-1"})
    return violated(POLICIES, rendering.resources)


def test_fenced_vendor_role_passes() -> None:
    assert fenced_stack() == set()
    assert fenced_stack(by_output=True) == set()


def _trust_with(condition: dict[str, Any] | None) -> dict[str, Any]:
    trust = copy.deepcopy(TRUST)
    statement = trust["Statement"][0]
    if condition is None:
        statement.pop("Condition")
    else:
        statement["Condition"] = condition
    return trust


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"StringEquals": {"sts:ExternalId": ""}},
        {"StringLike": {"sts:ExternalId": "*"}},
        {"StringEquals": {"aws:PrincipalAccount": "444455556666"}},
    ],
)
def test_trust_without_a_real_external_id_fires(condition: dict[str, Any] | None) -> None:
    assert fenced_stack(trust=_trust_with(condition)) == {EXTERNAL_ID}


def test_any_aws_principal_counts_even_star_and_lists() -> None:
    trust = _trust_with(None)
    trust["Statement"][0]["Principal"] = {"AWS": ["arn:aws:iam::444455556666:role/x", "*"]}
    trust["Statement"][0]["Action"] = "sts:*"
    [finding] = [d for d in diagnostics(POLICIES, [_role(trust)]) if d.policy == EXTERNAL_ID]
    assert "arn:aws:iam::444455556666:role/x, *" in finding.message


def _role(trust: Any, **props: Any) -> Any:
    return resource(
        "aws:iam/role:Role",
        {"assumeRolePolicy": trust if isinstance(trust, str) else json.dumps(trust), **props},
    )


def test_service_roles_are_not_vendor_roles() -> None:
    trust = docs.service_trust_policy("ecs-tasks.amazonaws.com", ACCOUNT, "arn:aws:ecs:*:1:*")
    assert violated(POLICIES, [_role(trust)]) == set()


def test_unknown_trust_fails_closed() -> None:
    assert EXTERNAL_ID in violated(POLICIES, [_role(UNKNOWN)])


def test_vendor_role_without_boundary_fires() -> None:
    assert fenced_stack(boundary=None, boundary_arn=None) == {BOUNDARY}
    assert BOUNDARY in violated(POLICIES, [_role(TRUST, permissionsBoundary=UNKNOWN)])


def test_boundary_outside_the_stack_cannot_be_checked() -> None:
    assert fenced_stack(boundary=None) == {PINS}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}, "does not deny every call"),
        (docs.region_pin_statement(["eu-west-1", "eu-west-2"]), "jurisdiction 'uk'"),
        (docs.region_pin_statement(["eu-west-1", "mars-1"]), "unknown aws region"),
        (
            {**docs.region_pin_statement(["eu-west-1"]), "NotAction": ["iam:*", "ec2:*"]},
            "exempts ec2:*",
        ),
        (
            {**docs.region_pin_statement(["eu-west-1"]), "NotAction": ["kms:*"]},
            "exempts kms:*",
        ),
        (
            {
                "Effect": "Deny",
                "Action": ["s3:*"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}},
            },
            "covers only some actions",
        ),
    ],
)
def test_boundaries_that_do_not_pin_to_the_zone_fire(statement: Any, expected: str) -> None:
    def program() -> None:
        aws.iam.Policy(
            "boundary",
            name="vendor-boundary",
            path="/fences/",
            policy=json.dumps(docs.document([statement])),
        )
        aws.iam.Role(
            "vendor", assume_role_policy=json.dumps(TRUST), permissions_boundary=BOUNDARY_ARN
        )

    rendering = render(program)
    found = [d for d in diagnostics(POLICIES, rendering.resources) if d.policy == PINS]
    assert found and expected in found[0].message


def test_a_deny_on_every_action_outside_the_regions_also_pins() -> None:
    statement = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-north-1"}},
    }
    assert fenced_stack(boundary=docs.document([statement])) == set()


def test_zone_settings_admit_more_pinned_regions() -> None:
    def program() -> None:
        pin = docs.document([docs.region_pin_statement(["eu-west-1", "eu-central-2"])])
        aws.iam.Policy("boundary", name="vendor-boundary", path="/fences/", policy=json.dumps(pin))
        aws.iam.Role(
            "vendor", assume_role_policy=json.dumps(TRUST), permissions_boundary=BOUNDARY_ARN
        )

    resources = render(program).resources
    assert PINS in violated(POLICIES, resources)
    assert PINS not in violated(
        POLICIES, resources, settings={"zone": "eu", "extraJurisdictions": ["ch"]}
    )
