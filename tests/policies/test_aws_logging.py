"""Log groups: customer key and retention; trails: log-file validation and customer key."""

from __future__ import annotations

from typing import Any

import pytest

from policies.aws_logging import POLICIES
from tests.policies.harness import UNKNOWN, resource, violated

KEY = "arn:aws:kms:eu-central-1:111122223333:key/" + "0" * 36
GROUP = {"name": "/g", "region": "eu-central-1", "kmsKeyId": KEY, "retentionInDays": 365}
TRAIL = {"name": "t", "region": "eu-central-1", "kmsKeyId": KEY, "enableLogFileValidation": True}


def fired(type_: str, props: dict[str, Any]) -> set[str]:
    return violated(POLICIES, [resource(type_, props)])


def test_baselines_pass() -> None:
    assert fired("aws:cloudwatch/logGroup:LogGroup", GROUP) == set()
    assert fired("aws:cloudtrail/trail:Trail", TRAIL) == set()


@pytest.mark.parametrize(
    ("prop", "value", "policy"),
    [
        ("kmsKeyId", None, "aws-cloudwatch-log-group-kms"),
        ("kmsKeyId", UNKNOWN, "aws-cloudwatch-log-group-kms"),
        ("retentionInDays", None, "aws-cloudwatch-log-group-retention"),
        ("retentionInDays", 0, "aws-cloudwatch-log-group-retention"),
    ],
)
def test_log_group_settings(prop: str, value: Any, policy: str) -> None:
    props = {k: v for k, v in GROUP.items() if k != prop}
    if value is not None:
        props[prop] = value
    assert fired("aws:cloudwatch/logGroup:LogGroup", props) == {policy}


@pytest.mark.parametrize(
    ("prop", "value", "policy"),
    [
        ("enableLogFileValidation", False, "aws-cloudtrail-log-file-validation"),
        ("enableLogFileValidation", None, "aws-cloudtrail-log-file-validation"),
        ("kmsKeyId", None, "aws-cloudtrail-kms"),
    ],
)
def test_trail_settings(prop: str, value: Any, policy: str) -> None:
    props = {k: v for k, v in TRAIL.items() if k != prop}
    if value is not None:
        props[prop] = value
    assert fired("aws:cloudtrail/trail:Trail", props) == {policy}
