"""Building blocks the AWS shapes share: placement, identity, keys, logs, buckets, networks.

Every function creates children of the calling component (through ``opts``), puts each
regional resource explicitly in ``region`` (pulumi-aws v7's per-resource ``region``, so a
policy can decide residency without knowing the provider) and tags what AWS lets us tag.
No provider is built here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pulumi
import pulumi_aws as aws
from pydantic import field_validator

from components import aws_iam_documents as docs
from components.common import (
    Placement,
    ResidencyViolation,
    Role,
    ShapeArgs,
    ShapeContext,
    check_own_tags,
)
from components.residency import (
    GLOBAL_JURISDICTION,
    UnknownInferenceProfileError,
    UnknownRegionError,
    UnsupportedSourceRegionError,
    bedrock_jurisdictions,
    jurisdiction_of,
    split_profile_id,
)

# Name of the pack's policy that refuses an AWS resource outside the zone
# (policies/aws_residency.py); shapes raise ResidencyViolation with it.
POLICY_REGION: Final = "aws-resource-region-in-zone"
# ... and the one that refuses Bedrock grants processing outside it (policies/aws_iam.py).
POLICY_PROFILE: Final = "aws-iam-bedrock-profile-in-zone"

# The retention values CloudWatch Logs accepts (PutRetentionPolicy, "retentionInDays"):
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
# (checked 2026-11-27).
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
    | {2922, 3288, 3653}
)

ACCOUNT_ID: Final = re.compile(r"^\d{12}$")
_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[0-9a-f-]{36}$")

Tags = Callable[[Role], dict[str, str]]


def check_log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"got {value}; expected one of CloudWatch Logs' retention values "
            f"{', '.join(map(str, sorted(LOG_RETENTION_DAYS)))}"
        )
    return value


def check_key_arn(value: str | None) -> str | None:
    if value is not None and not _KEY_ARN.match(value):
        raise ValueError(
            f"got {value!r}; expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key id>"
        )
    return value


def key_region(key_arn: str) -> str:
    match = _KEY_ARN.match(key_arn)
    if match is None:
        raise ValueError(f"not a KMS key ARN: {key_arn!r}")
    return match["region"]


def place(
    region: str, ctx: ShapeContext, field: str = "region", policy: str = POLICY_REGION
) -> Placement:
    """Check that ``region`` is a known AWS Region inside the environment's zone.

    ``policy`` names the pack's policy that would refuse the same choice.
    """
    try:
        jurisdiction = jurisdiction_of("aws", region)
    except UnknownRegionError:
        raise ResidencyViolation(
            policy,
            field,
            f"got {region!r}; expected a known AWS Region code such as 'eu-central-1'",
        ) from None
    if jurisdiction not in ctx.jurisdictions:
        raise ResidencyViolation(
            policy,
            field,
            f"got {region!r} (jurisdiction {jurisdiction!r}); expected a Region in "
            f"jurisdictions {', '.join(sorted(ctx.jurisdictions))}",
        )
    if ctx.allowed_regions and region not in ctx.allowed_regions:
        raise ResidencyViolation(
            policy,
            field,
            f"got {region!r}; expected one of the environment's allowed_regions "
            f"{', '.join(ctx.allowed_regions)}",
        )
    return Placement(region=region, jurisdiction=jurisdiction)


def check_account_id(value: str | None) -> str | None:
    if value is not None and not ACCOUNT_ID.match(value):
        raise ValueError(f"got {value!r}; expected a 12-digit AWS account id")
    return value


def place_model(model: str, region: str, ctx: ShapeContext, field: str) -> frozenset[str]:
    """Where a call to ``model`` from ``region`` may process; refused if outside the zone.

    A model id processes in ``region``; a geographic inference profile in its destination
    Regions for that source (from the reviewed snapshot; an unknown profile is refused, not
    guessed); a ``global.`` profile anywhere, so it is always refused.
    """
    prefix, _ = split_profile_id(model)
    if prefix == GLOBAL_JURISDICTION:
        raise ResidencyViolation(
            POLICY_PROFILE,
            field,
            f"got {model!r}: a global inference profile may route to any commercial Region "
            "and has no fixed destinations to grant; expected a model id or a geographic "
            "profile whose destinations are in the zone",
        )
    try:
        jurisdictions = bedrock_jurisdictions(model, region)
    except (UnknownInferenceProfileError, UnsupportedSourceRegionError) as exc:
        raise ResidencyViolation(POLICY_PROFILE, field, str(exc)) from None
    outside = sorted(jurisdictions - ctx.jurisdictions)
    if outside:
        raise ResidencyViolation(
            POLICY_PROFILE,
            field,
            f"got {model!r}: called from {region!r} it may process in jurisdictions "
            f"{', '.join(outside)}; expected processing inside "
            f"{', '.join(sorted(ctx.jurisdictions))} (choose another source Region or a "
            "model id, which processes in the Region itself)",
        )
    return jurisdictions


def check_unique(value: list[str]) -> list[str]:
    repeated = sorted({v for v in value if value.count(v) > 1})
    if repeated:
        raise ValueError(f"must not repeat, repeated: {', '.join(repeated)}")
    return value


class AwsShapeArgs(ShapeArgs):
    """Checks every AWS shape's args share: ``account_id``, ``log_retention_days``, ``tags``."""

    @field_validator("account_id", check_fields=False)
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        return check_account_id(value)

    @field_validator("log_retention_days", check_fields=False)
    @classmethod
    def _retention(cls, value: int) -> int:
        return check_log_retention(value)

    @field_validator("tags", check_fields=False)
    @classmethod
    def _own_tags(cls, value: dict[str, str]) -> dict[str, str]:
        return check_own_tags(value)


def account_identity(account_id: str | None) -> pulumi.Output[docs.Account]:
    """The account the documents are written for.

    A given ``account_id`` pins the documents to that account (commercial partition);
    otherwise the account and partition of the deployment's credentials are asked of AWS
    (an invoke, answered during preview too; no provider is built).
    """
    if account_id is not None:
        return pulumi.Output.from_input(docs.Account(account_id=account_id))
    caller = aws.get_caller_identity_output()
    partition = aws.get_partition_output()
    return pulumi.Output.all(caller.account_id, partition.partition).apply(
        lambda values: docs.Account(account_id=values[0], partition=values[1])
    )


def json_document(
    account: pulumi.Output[docs.Account], build: Callable[[docs.Account], docs.Document]
) -> pulumi.Output[str]:
    return account.apply(lambda acct: docs.to_json(build(acct)))


def kms_key(
    name: str,
    *,
    region: str,
    description: str,
    policy: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.kms.Key:
    """A symmetric customer-managed key with yearly automatic rotation."""
    return aws.kms.Key(
        name,
        description=description,
        key_usage="ENCRYPT_DECRYPT",
        customer_master_key_spec="SYMMETRIC_DEFAULT",
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30,
        policy=policy,
        region=region,
        tags=tags,
        opts=opts,
    )


def log_group(
    name: str,
    *,
    group_name: str,
    region: str,
    retention_days: int,
    key_arn: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(
        name,
        name=group_name,
        retention_in_days=retention_days,
        kms_key_id=key_arn,
        region=region,
        tags=tags,
        opts=opts,
    )


@dataclass(frozen=True)
class ObjectLock:
    """Default Object Lock retention of a bucket (WORM for audit logs)."""

    mode: Literal["GOVERNANCE", "COMPLIANCE"]
    days: int


BucketStatements = Callable[[str, docs.Account], list[docs.Statement]]


@dataclass(frozen=True)
class SecureBucket:
    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy


def secure_bucket(
    name: str,
    *,
    region: str,
    key_arn: pulumi.Input[str],
    account: pulumi.Output[docs.Account],
    statements: BucketStatements,
    retention_days: int,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    object_lock: ObjectLock | None = None,
) -> SecureBucket:
    """A private, SSE-KMS, versioned bucket that refuses plain HTTP and expires its objects.

    Public access is blocked at the bucket, ACLs are disabled (bucket owner enforced), the
    default encryption is ``aws:kms`` with ``key_arn`` and an S3 Bucket Key, the policy
    starts with the TLS-only deny, and objects expire after ``retention_days``. With
    ``object_lock`` the bucket is created with Object Lock and a default retention.
    """
    child = opts
    bucket = aws.s3.Bucket(
        name,
        object_lock_enabled=True if object_lock else None,
        force_destroy=False,
        region=region,
        tags=tags,
        opts=child,
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.bucket,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        region=region,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.bucket,
        rule={"object_ownership": "BucketOwnerEnforced"},
        region=region,
        opts=child,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.bucket,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key_arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        region=region,
        opts=child,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.bucket,
        versioning_configuration={"status": "Enabled"},
        region=region,
        opts=child,
    )
    if object_lock is not None:
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.bucket,
            rule={"default_retention": {"mode": object_lock.mode, "days": object_lock.days}},
            region=region,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[versioning])
            ),
        )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.bucket,
        rules=[
            {
                "id": "expire-logs",
                "status": "Enabled",
                "filter": {},
                "expiration": {"days": retention_days},
                "noncurrent_version_expiration": {"noncurrent_days": 30},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ],
        region=region,
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[versioning])),
    )
    policy = pulumi.Output.all(bucket.bucket, account).apply(
        lambda values: docs.to_json(
            docs.bucket_policy(values[0], values[1], statements(values[0], values[1]))
        )
    )
    bucket_policy = aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.bucket,
        policy=policy,
        region=region,
        opts=pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[public_access])
        ),
    )
    return SecureBucket(bucket=bucket, policy=bucket_policy)


def subnet_cidrs(vpc_cidr: str, count: int) -> list[str]:
    """``count`` equal subnets carved from the start of ``vpc_cidr`` (4 more prefix bits)."""
    network = ipaddress.ip_network(vpc_cidr)
    if network.version != 4 or not 16 <= network.prefixlen <= 24:
        raise ValueError(f"got {vpc_cidr!r}; expected an IPv4 network from /16 to /24")
    subnets = list(network.subnets(prefixlen_diff=4))
    if count > len(subnets):
        raise ValueError(f"{vpc_cidr} cannot hold {count} subnets")
    return [str(s) for s in subnets[:count]]


@dataclass(frozen=True)
class PrivateNetwork:
    vpc_id: pulumi.Output[str]
    subnet_ids: list[pulumi.Output[str]]


def flow_logs(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    region: str,
    account: pulumi.Output[docs.Account],
    key_arn: pulumi.Input[str],
    group_name: str,
    retention_days: int,
    tags: Tags,
    opts: pulumi.ResourceOptions,
) -> aws.ec2.FlowLog:
    """VPC flow logs (all traffic) into a KMS-encrypted log group, through a scoped role."""
    group = log_group(
        f"{name}-flow-logs",
        group_name=group_name,
        region=region,
        retention_days=retention_days,
        key_arn=key_arn,
        tags=tags(Role.LOGS),
        opts=opts,
    )
    role = aws.iam.Role(
        f"{name}-flow-logs-role",
        assume_role_policy=json_document(
            account,
            lambda a: docs.service_trust_policy(
                "vpc-flow-logs.amazonaws.com",
                a,
                a.arn("ec2", region, "vpc-flow-log/*"),
                sid="VpcFlowLogs",
            ),
        ),
        max_session_duration=3600,
        tags=tags(Role.IDENTITY),
        opts=opts,
    )
    aws.iam.RolePolicy(
        f"{name}-flow-logs-delivery",
        role=role.name,
        policy=json_document(
            account, lambda a: docs.flow_log_delivery_policy(a, region, group_name)
        ),
        opts=opts,
    )
    return aws.ec2.FlowLog(
        f"{name}-flow-log",
        vpc_id=vpc_id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=account.apply(lambda a: docs.log_group_arn(a, region, group_name)),
        iam_role_arn=role.arn,
        max_aggregation_interval=60,
        region=region,
        tags=tags(Role.LOGS),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[group])),
    )


def private_network(
    name: str,
    *,
    region: str,
    vpc_cidr: str,
    availability_zones: Sequence[str],
    tags: Tags,
    opts: pulumi.ResourceOptions,
) -> PrivateNetwork:
    """A VPC with private subnets only: no internet gateway, no NAT, no public IPs.

    The VPC's default security group is emptied (it admits nothing), as CIS AWS
    Foundations recommends; DNS hostnames are on so interface endpoints' private DNS works.
    """
    vpc = aws.ec2.Vpc(
        f"{name}-vpc",
        cidr_block=vpc_cidr,
        enable_dns_support=True,
        enable_dns_hostnames=True,
        region=region,
        tags=tags(Role.NETWORK),
        opts=opts,
    )
    aws.ec2.DefaultSecurityGroup(
        f"{name}-default-sg",
        vpc_id=vpc.id,
        ingress=[],
        egress=[],
        region=region,
        tags=tags(Role.NETWORK),
        opts=opts,
    )
    cidrs = subnet_cidrs(vpc_cidr, len(availability_zones))
    subnets = [
        aws.ec2.Subnet(
            f"{name}-subnet-{zone}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=False,
            region=region,
            tags=tags(Role.NETWORK),
            opts=opts,
        )
        for zone, cidr in zip(availability_zones, cidrs, strict=True)
    ]
    return PrivateNetwork(vpc_id=vpc.id, subnet_ids=[s.id for s in subnets])
