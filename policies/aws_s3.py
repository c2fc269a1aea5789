"""S3 buckets: public access blocked, SSE-KMS, TLS only; trail buckets locked (WORM).

In pulumi-aws v7 a bucket's settings are separate resources (BucketPublicAccessBlock,
BucketServerSideEncryptionConfiguration, BucketPolicy, BucketObjectLockConfiguration), so
these are stack policies: each bucket is matched with the settings that refer to it (by
dependency, or by the bucket name when it is literal). A setting that is unknown at preview
fails closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from policies.aws_common import (
    BUCKET_TYPES,
    Unchecked,
    as_list,
    linked,
    of_types,
    parse_document,
    statements,
)
from policies.base import MISSING, UNKNOWN, Control, Meta, read, stack_policy

PUBLIC_ACCESS_BLOCK: Final = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
ENCRYPTION: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
BUCKET_POLICY: Final = ("aws:s3/bucketPolicy:BucketPolicy",)
OBJECT_LOCK: Final = (
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
)
TRAIL: Final = "aws:cloudtrail/trail:Trail"
BLOCK_SETTINGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
KMS_ALGORITHMS: Final = frozenset({"aws:kms", "aws:kms:dsse"})

BucketCheck = Callable[[PolicyResource, list[PolicyResource]], str | None]


def settings_of(bucket: PolicyResource, resources: list[PolicyResource]) -> list[PolicyResource]:
    """Resources of ``resources`` whose ``bucket`` refers to ``bucket``."""
    return [r for r in resources if linked(r, "bucket", bucket, ("bucket",))]


def _name(bucket: PolicyResource) -> str:
    name = read(bucket.props, "bucket")
    return f"bucket {name!r}" if isinstance(name, str) else f"bucket {bucket.name!r}"


def public_access_problem(bucket: PolicyResource, blocks: list[PolicyResource]) -> str | None:
    if not blocks:
        return f"{_name(bucket)} has no public access block; add one with all four settings on"
    problems: list[str] = []
    for block in blocks:
        values = {key: read(block.props, key) for key in BLOCK_SETTINGS}
        if any(v is UNKNOWN for v in values.values()):
            problems.append(f"the public access block of {_name(bucket)} is unknown at preview")
            continue
        off = sorted(k for k, v in values.items() if v is not True)
        if not off:
            return None
        problems.append(f"the public access block of {_name(bucket)} leaves {', '.join(off)} off")
    return problems[0]


def _rules(container: Any) -> list[Any]:
    value = read(container, "rules")
    if value is MISSING:
        value = read(container, "rule")
    return as_list(value)


def _kms_rule(rule: Any) -> str | None:
    default = read(rule, "applyServerSideEncryptionByDefault")
    algorithm = read(default, "sseAlgorithm")
    key = read(default, "kmsMasterKeyId")
    if algorithm is UNKNOWN or key is UNKNOWN:
        return "is unknown at preview"
    if algorithm not in KMS_ALGORITHMS:
        return f"uses {algorithm!r}; expected 'aws:kms'"
    if not isinstance(key, str) or not key:
        return "uses the AWS-managed key; expected kmsMasterKeyId naming a customer-managed key"
    return None


def encryption_problem(bucket: PolicyResource, configs: list[PolicyResource]) -> str | None:
    inline = read(bucket.props, "serverSideEncryptionConfiguration")
    sources = [c.props for c in configs] + ([inline] if isinstance(inline, Mapping) else [])
    if not sources:
        return f"{_name(bucket)} has no default encryption configuration; expected SSE-KMS"
    for source in sources:
        for rule in _rules(source):
            why = _kms_rule(rule)
            if why:
                return f"the default encryption of {_name(bucket)} {why}"
    return None


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    anyone = principal == "*" or (
        isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))
    )
    actions = as_list(statement.get("Action"))
    condition = statement.get("Condition")
    if not anyone or not ({"s3:*", "*"} & set(actions)) or not isinstance(condition, Mapping):
        return False
    for operator in ("Bool", "BoolIfExists"):
        values = condition.get(operator)
        if isinstance(values, Mapping):
            secure = {str(k).lower(): v for k, v in values.items()}.get("aws:securetransport")
            if str(secure).lower() == "false" or as_list(secure) == ["false"]:
                return any(str(r).endswith("/*") for r in as_list(statement.get("Resource")))
    return False


def tls_problem(bucket: PolicyResource, policies: list[PolicyResource]) -> str | None:
    documents = [read(p.props, "policy") for p in policies]
    inline = read(bucket.props, "policy")
    if inline is not MISSING:
        documents.append(inline)
    if not documents:
        return f"{_name(bucket)} has no bucket policy; expected one that denies plain HTTP"
    for value in documents:
        try:
            document = parse_document(value)
        except Unchecked as exc:
            return f"the policy of {_name(bucket)} could not be checked: {exc}"
        if any(_denies_plain_http(s) for s in statements(document)):
            return None
    return (
        f"the policy of {_name(bucket)} does not deny requests without TLS; expected a Deny of "
        "s3:* on the bucket and its objects when aws:SecureTransport is false"
    )


def object_lock_problem(bucket: PolicyResource, locks: list[PolicyResource]) -> str | None:
    enabled = read(bucket.props, "objectLockEnabled")
    if enabled is UNKNOWN:
        return f"objectLockEnabled of {_name(bucket)} is unknown at preview"
    if enabled is not True:
        return f"{_name(bucket)} holds trail logs but Object Lock is not enabled"
    for lock in locks:
        retention = read(lock.props, "rule", "defaultRetention")
        if retention is UNKNOWN:
            return f"the Object Lock retention of {_name(bucket)} is unknown at preview"
        mode = read(retention, "mode")
        period = [read(retention, k) for k in ("days", "years")]
        if mode in ("COMPLIANCE", "GOVERNANCE") and any(
            isinstance(p, int | float) and p > 0 for p in period
        ):
            return None
    return (
        f"{_name(bucket)} holds trail logs but has no default Object Lock retention; add a "
        "BucketObjectLockConfiguration with a mode and a period"
    )


def _bucket_policy(
    related: tuple[str, ...], check: BucketCheck
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        candidates = of_types(args.resources, related)
        for bucket in of_types(args.resources, BUCKET_TYPES):
            problem = check(bucket, settings_of(bucket, candidates))
            if problem:
                report(problem, bucket.urn)

    return validate


def _check_trail_buckets(args: StackValidationArgs, report: ReportViolation) -> None:
    trails = of_types(args.resources, [TRAIL])
    locks = of_types(args.resources, OBJECT_LOCK)
    for bucket in of_types(args.resources, BUCKET_TYPES):
        if not any(linked(t, "s3BucketName", bucket, ("bucket",)) for t in trails):
            continue
        problem = object_lock_problem(bucket, settings_of(bucket, locks))
        if problem:
            report(problem, bucket.urn)


public_access_blocked = stack_policy(
    Meta(
        name="aws-s3-public-access-blocked",
        description="Every S3 bucket has a public access block with all four settings on.",
        severity=Severity.HIGH,
        remediation=(
            "Add an aws.s3.BucketPublicAccessBlock for the bucket with blockPublicAcls, "
            "blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets set to true."
        ),
        control=Control(
            "Prowler",
            "s3_bucket_level_public_access_block (AWS Config s3-bucket-level-public-access-"
            "prohibited; CIS AWS Foundations 3.0 2.1.4)",
        ),
    ),
    _bucket_policy(PUBLIC_ACCESS_BLOCK, public_access_problem),
)

sse_kms = stack_policy(
    Meta(
        name="aws-s3-sse-kms",
        description="Every S3 bucket encrypts by default with a customer-managed KMS key.",
        severity=Severity.HIGH,
        remediation=(
            "Add an aws.s3.BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' "
            "and kmsMasterKeyId set to a customer-managed key with rotation on."
        ),
        control=Control(
            "Prowler", "s3_bucket_kms_encryption (AWS Config s3-default-encryption-kms)"
        ),
    ),
    _bucket_policy(ENCRYPTION, encryption_problem),
)

tls_only = stack_policy(
    Meta(
        name="aws-s3-tls-only",
        description="Every S3 bucket policy denies requests that are not sent over TLS.",
        severity=Severity.HIGH,
        remediation=(
            "Add to the bucket policy a Deny of s3:* for Principal '*' on the bucket and "
            "'<bucket>/*' with the condition Bool aws:SecureTransport 'false'."
        ),
        control=Control(
            "Prowler",
            "s3_bucket_secure_transport_policy (AWS Config s3-bucket-ssl-requests-only; CIS AWS "
            "Foundations 3.0 2.1.1)",
        ),
    ),
    _bucket_policy(BUCKET_POLICY, tls_problem),
)

audit_object_lock = stack_policy(
    Meta(
        name="aws-s3-audit-object-lock",
        description="S3 buckets that receive CloudTrail logs have Object Lock with a default "
        "retention.",
        severity=Severity.HIGH,
        remediation=(
            "Create the trail bucket with objectLockEnabled: true, versioning on, and an "
            "aws.s3.BucketObjectLockConfiguration with a default retention (COMPLIANCE for "
            "audit evidence)."
        ),
        control=Control(
            "Prowler", "s3_bucket_object_lock (AWS Config s3-bucket-default-lock-enabled)"
        ),
    ),
    _check_trail_buckets,
)

POLICIES: Final[list[Any]] = [public_access_blocked, sse_kms, tls_only, audit_object_lock]

__all__ = [
    "POLICIES",
    "encryption_problem",
    "object_lock_problem",
    "public_access_problem",
    "tls_problem",
]
