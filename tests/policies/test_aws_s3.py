"""S3 bucket policies: a compliant bucket, then one setting changed per case."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, cast

import pulumi_aws as aws
import pytest

from components import aws_iam_documents as docs
from policies.aws_s3 import POLICIES
from stacks.render import render
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated

PUBLIC = "aws-s3-public-access-blocked"
SSE = "aws-s3-sse-kms"
TLS = "aws-s3-tls-only"
LOCK = "aws-s3-audit-object-lock"
KEY = "arn:aws:kms:eu-central-1:111122223333:key/" + "0" * 36
ACCOUNT = docs.Account("111122223333")


@dataclass(frozen=True)
class Bucket:
    """One bucket and its settings; each field switches one setting."""

    public_access: dict[str, bool] | None = None
    algorithm: str | None = "aws:kms"
    key: str | None = KEY
    policy: str | None = docs.to_json(docs.bucket_policy("logs-bucket", ACCOUNT))
    trail: bool = False
    object_lock: bool = True
    retention: dict[str, Any] | None = None
    by_name: bool = False  # settings name the bucket literally instead of by output

    def program(self) -> None:
        bucket = aws.s3.Bucket(
            "logs",
            bucket="logs-bucket",
            region="eu-central-1",
            object_lock_enabled=self.object_lock,
        )
        ref: Any = "logs-bucket" if self.by_name else bucket.bucket
        blocks: dict[str, Any] = {
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
            **(self.public_access or {}),
        }
        aws.s3.BucketPublicAccessBlock("pab", bucket=ref, region="eu-central-1", **blocks)
        if self.algorithm is not None:
            default: dict[str, Any] = {"sse_algorithm": self.algorithm}
            if self.key:
                default["kms_master_key_id"] = self.key
            aws.s3.BucketServerSideEncryptionConfiguration(
                "sse",
                bucket=ref,
                region="eu-central-1",
                rules=[cast(Any, {"apply_server_side_encryption_by_default": default})],
            )
        if self.policy is not None:
            aws.s3.BucketPolicy("policy", bucket=ref, region="eu-central-1", policy=self.policy)
        if self.trail:
            aws.cloudtrail.Trail("trail", s3_bucket_name=ref, region="eu-central-1")
            aws.s3.BucketObjectLockConfiguration(
                "lock",
                bucket=ref,
                region="eu-central-1",
                rule=cast(
                    Any,
                    {"default_retention": self.retention or {"mode": "COMPLIANCE", "days": 365}},
                ),
            )

    def fired(self) -> set[str]:
        rendering = render(self.program, config={"aws:region": "eu-central-1"})
        return violated(POLICIES, rendering.resources)


BASELINE = Bucket()


@pytest.mark.parametrize("by_name", [False, True])
def test_baseline_bucket_passes(by_name: bool) -> None:
    assert replace(BASELINE, by_name=by_name, trail=True).fired() == set()


@pytest.mark.parametrize(
    "setting",
    ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"],
)
def test_each_public_access_setting_is_required(setting: str) -> None:
    assert replace(BASELINE, public_access={setting: False}).fired() == {PUBLIC}


def test_missing_public_access_block_fires() -> None:
    bucket = resource("aws:s3/bucket:Bucket", {"bucket": "b", "region": "eu-central-1"})
    assert PUBLIC in violated(POLICIES, [bucket])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"algorithm": "AES256", "key": None}, "uses 'AES256'"),
        ({"key": None}, "uses the AWS-managed key"),
        ({"algorithm": None}, "no default encryption configuration"),
    ],
)
def test_encryption_must_be_a_customer_key(change: dict[str, Any], expected: str) -> None:
    rendering = render(replace(BASELINE, **change).program, config={"aws:region": "eu-central-1"})
    found = [d for d in diagnostics(POLICIES, rendering.resources) if d.policy == SSE]
    assert found and expected in found[0].message


def test_inline_bucket_encryption_is_accepted() -> None:
    inline = {
        "rules": [
            {
                "applyServerSideEncryptionByDefault": {
                    "sseAlgorithm": "aws:kms",
                    "kmsMasterKeyId": KEY,
                }
            }
        ]
    }
    bucket = resource(
        "aws:s3/bucket:Bucket", {"bucket": "b", "serverSideEncryptionConfiguration": inline}
    )
    assert SSE not in violated(POLICIES, [bucket])


@pytest.mark.parametrize(
    "policy",
    [
        None,
        json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}
        ),
        # A TLS deny that forgets the objects protects nothing that matters.
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::logs-bucket",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ]
            }
        ),
        UNKNOWN,
    ],
)
def test_tls_only_policy_is_required(policy: str | None) -> None:
    assert TLS in replace(BASELINE, policy=policy).fired()


def test_bool_if_exists_and_string_statements_are_understood() -> None:
    policy = json.dumps(
        {
            "Statement": {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "*",
                "Resource": ["arn:aws:s3:::logs-bucket", "arn:aws:s3:::logs-bucket/*"],
                "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}},
            }
        }
    )
    assert TLS not in replace(BASELINE, policy=policy).fired()


def test_trail_buckets_need_object_lock_with_retention() -> None:
    assert replace(BASELINE, trail=True, object_lock=False).fired() == {LOCK}
    assert replace(BASELINE, trail=True, retention={"mode": "GOVERNANCE"}).fired() == {LOCK}
    assert (
        replace(BASELINE, trail=True, retention={"mode": "GOVERNANCE", "years": 1}).fired() == set()
    )
    # Buckets that hold no trail logs are not required to lock.
    assert replace(BASELINE, object_lock=False).fired() == set()
