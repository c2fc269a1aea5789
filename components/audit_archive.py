"""WORM storage for the gateway's hash-chained audit log, in one region next to the gateway.

**AWS**: an S3 bucket with Object Lock in COMPLIANCE mode (default retention 400 days),
versioning, SSE-KMS with a customer-managed key (a new rotating key unless ``kms_key_id`` is
given), every public-access block, a bucket policy that denies requests without TLS and
every delete, and a lifecycle rule that moves objects to an archive storage class.

**Azure**: a StorageV2 account (zone- or locally-redundant, so the data stays in the region)
with no public blob access, minimum TLS 1.2, HTTPS only, infrastructure encryption, an
optional customer-managed key and shared-key access disabled, blob versioning, and a
private container with version-level immutability and a time-based retention policy. Azure
creates such a policy unlocked; locking is irreversible and done with an ETag, outside
Pulumi: the ``lock_command`` output is the exact command. The gateway also places a locked
time-based policy on every blob it archives (``audit.azure_immutability: blob``).

Every resource is tagged with role ``data``: the co-location policy checks that the
archive is in the gateway's region.

Sources, checked 2026-11-27:
- S3 Object Lock (needs versioning; COMPLIANCE mode: no user, root included, can shorten
  or remove a retention): https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
- Denying non-TLS requests with ``aws:SecureTransport``:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html
- Lifecycle transitions to GLACIER / DEEP_ARCHIVE / GLACIER_IR:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
- Azure version-level immutability (account versioning, container support, time-based
  policies; a policy is created unlocked and locked by a separate call):
  https://learn.microsoft.com/azure/storage/blobs/immutable-version-level-worm-policies and
  https://learn.microsoft.com/azure/storage/blobs/immutable-policy-configure-version-scope
- Infrastructure encryption:
  https://learn.microsoft.com/azure/storage/common/infrastructure-encryption-enable
- Disallowing shared-key authorization:
  https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, Literal

import pulumi
import pulumi_aws as aws
from pulumi_azure_native import storage
from pydantic import Field, field_validator, model_validator

from components.common import (
    ResidencyViolation,
    Role,
    ShapeArgs,
    ShapeContext,
    check_own_tags,
)
from components.k8s_security import FrozenModel
from components.residency import UnknownRegionError, jurisdiction_of, normalize_azure_location

SHAPE: Final = "audit_archive"
# Names of the pack's policies that refuse the same placement.
POLICY_LOCATION: Final = {
    "aws": "aws-resource-region-in-zone",
    "azure": "azure-resource-location-in-zone",
}

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_KMS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")
_VAULT_KEY = re.compile(
    r"^(?P<vault>https://[a-z0-9-]+\.vault\.azure\.net)/keys/(?P<name>[a-zA-Z0-9-]{1,127})/?$"
)
_ARM_IDENTITY = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/"
    r"userAssignedIdentities/[^/]+$",
    re.IGNORECASE,
)
_SUBNET = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)


class AzureArchive(FrozenModel):
    resource_group_name: str = Field(
        min_length=1, max_length=90, description="existing resource group of the account"
    )
    sku: Literal["Standard_ZRS", "Standard_LRS"] = Field(
        "Standard_ZRS",
        description="redundancy inside the region; default: Standard_ZRS. Geo-redundant SKUs "
        "are not offered: they copy the trail to the paired region",
    )
    identity_id: str | None = Field(
        None,
        description="user-assigned identity that may use kms_key_id (needed with kms_key_id)",
    )
    allowed_subnet_ids: list[str] = Field(
        default_factory=list,
        description="subnets (e.g. the gateway's cluster) admitted by the account firewall; "
        "default: none (private endpoints only)",
    )

    @field_validator("identity_id")
    @classmethod
    def _identity(cls, value: str | None) -> str | None:
        if value is not None and not _ARM_IDENTITY.match(value):
            raise ValueError(f"got {value!r}; expected a user-assigned identity resource id")
        return value

    @field_validator("allowed_subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        for subnet in value:
            if not _SUBNET.match(subnet):
                raise ValueError(f"got {subnet!r}; expected a subnet resource id")
        return value


class AuditArchiveArgs(ShapeArgs):
    """Settings of the audit archive shape (``gatehouse:audit_archive``)."""

    cloud: Literal["aws", "azure"] = Field(description="where the archive lives")
    region: str = Field(description="region; it must be the gateway's region")
    name: str | None = Field(
        None,
        description="bucket name (AWS) or storage account name (Azure); default: derived from "
        "the business unit and environment",
    )
    prefix: str = Field("audit", pattern=r"^[a-z0-9][a-z0-9/_-]*$", description="key prefix")
    retention_days: int = Field(
        400, ge=1, le=36500, description="WORM retention in days; default: 400"
    )
    kms_key_id: str | None = Field(
        None,
        description="customer-managed key: a KMS key ARN (AWS) or a Key Vault key URI without "
        "version (Azure). Default: AWS, a new KMS key with rotation; Azure, Microsoft-managed "
        "keys with infrastructure encryption",
    )
    archive_after_days: int = Field(
        90, ge=1, description="AWS: days before objects move to archive_storage_class"
    )
    archive_storage_class: Literal["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"] = Field(
        "GLACIER", description="AWS archive tier; default: GLACIER (Flexible Retrieval)"
    )
    azure: AzureArchive | None = Field(None, description="required when cloud is azure")
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _own_tags(cls, value: dict[str, str]) -> dict[str, str]:
        return check_own_tags(value)

    @model_validator(mode="after")
    def _per_cloud(self) -> AuditArchiveArgs:
        if self.cloud == "azure":
            if self.azure is None:
                raise ValueError("azure: missing; expected {resource_group_name: ...}")
            if self.name is not None and not _ACCOUNT.match(self.name):
                raise ValueError(
                    f"name: got {self.name!r}; expected 3-24 lower-case letters "
                    "or digits (a storage account name)"
                )
            if self.kms_key_id is not None:
                if not _VAULT_KEY.match(self.kms_key_id):
                    raise ValueError(
                        f"kms_key_id: got {self.kms_key_id!r}; expected a Key Vault key URI "
                        "https://<vault>.vault.azure.net/keys/<name>"
                    )
                if self.azure.identity_id is None:
                    raise ValueError(
                        "azure.identity_id: missing; a CMK needs the identity that may use the key"
                    )
        else:
            if self.azure is not None:
                raise ValueError("azure: given, but cloud is aws")
            if self.name is not None and not _BUCKET.match(self.name):
                raise ValueError(f"name: got {self.name!r}; expected an S3 bucket name")
            if self.kms_key_id is not None and not _KMS_ARN.match(self.kms_key_id):
                raise ValueError(
                    f"kms_key_id: got {self.kms_key_id!r}; expected a KMS key ARN "
                    "arn:aws:kms:<region>:<account>:key/<id>"
                )
        return self


def deny_policy(bucket_arn: str) -> str:
    """Bucket policy: no request without TLS, no delete of objects, versions or the bucket."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "DenyDeletes",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket"],
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                },
            ],
        }
    )


class AuditArchive(pulumi.ComponentResource):
    """The audit archive shape; see the module docstring for what it creates.

    Outputs: ``sink`` (the URL the gateway's ``audit.sink`` takes) and, on Azure,
    ``lock_command`` (the command that locks the container's retention policy).
    """

    sink: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: AuditArchiveArgs,
        ctx: ShapeContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        region = args.region if args.cloud == "aws" else normalize_azure_location(args.region)
        try:
            jurisdiction = jurisdiction_of(args.cloud, region)
        except UnknownRegionError as exc:
            raise ResidencyViolation(POLICY_LOCATION[args.cloud], "region", str(exc)) from None
        if jurisdiction not in ctx.jurisdictions:
            raise ResidencyViolation(
                POLICY_LOCATION[args.cloud],
                "region",
                f"got {args.region!r} (jurisdiction {jurisdiction!r}); expected a region in "
                f"jurisdictions {', '.join(sorted(ctx.jurisdictions))}",
            )
        super().__init__("gatehouse:components:AuditArchive", name, None, opts)
        self._name = name
        self._args = args
        self._tags = {
            **ctx.tags_for(region=region, jurisdiction=jurisdiction, role=Role.DATA, shape=SHAPE),
            **args.tags,
        }
        self._region = region
        default_name = f"{ctx.business_unit}-{ctx.environment}-audit"
        child = pulumi.ResourceOptions(parent=self, protect=True)
        if args.cloud == "aws":
            self.sink = self._aws(args.name or default_name, child)
            self.lock_command = pulumi.Output.from_input("")
        else:
            account = args.name or re.sub(r"[^a-z0-9]", "", default_name)[:24]
            self.sink, self.lock_command = self._azure(account, child)
        self.register_outputs({"sink": self.sink, "lock_command": self.lock_command})

    def _aws(self, bucket_name: str, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
        args, region, tags = self._args, self._region, self._tags
        key_arn: pulumi.Input[str]
        if args.kms_key_id is not None:
            key_arn = args.kms_key_id
        else:
            key = aws.kms.Key(
                f"{self._name}-key",
                description=f"Gatehouse audit archive {bucket_name}",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                region=region,
                tags=tags,
                opts=opts,
            )
            key_arn = key.arn
        bucket = aws.s3.Bucket(
            f"{self._name}-bucket",
            bucket=bucket_name,
            object_lock_enabled=True,
            force_destroy=False,
            region=region,
            tags=tags,
            opts=opts,
        )
        versioning = aws.s3.BucketVersioning(
            f"{self._name}-versioning",
            bucket=bucket.bucket,
            region=region,
            versioning_configuration={"status": "Enabled"},
            opts=opts,
        )
        after_versioning = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[versioning])
        )
        aws.s3.BucketObjectLockConfiguration(
            f"{self._name}-object-lock",
            bucket=bucket.bucket,
            region=region,
            object_lock_enabled="Enabled",
            rule={"default_retention": {"mode": "COMPLIANCE", "days": args.retention_days}},
            opts=after_versioning,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{self._name}-encryption",
            bucket=bucket.bucket,
            region=region,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=opts,
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{self._name}-public-access-block",
            bucket=bucket.bucket,
            region=region,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        aws.s3.BucketPolicy(
            f"{self._name}-policy",
            bucket=bucket.bucket,
            region=region,
            policy=bucket.arn.apply(deny_policy),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[block])),
        )
        tier = {"storage_class": args.archive_storage_class}
        rule: Any = {
            "id": "archive",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "transitions": [{"days": args.archive_after_days, **tier}],
            "noncurrent_version_transitions": [
                {"noncurrent_days": args.archive_after_days, **tier}
            ],
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-lifecycle",
            bucket=bucket.bucket,
            region=region,
            rules=[rule],
            opts=after_versioning,
        )
        self.bucket = bucket
        sink: pulumi.Output[str] = bucket.bucket.apply(lambda b: f"s3://{b}/{args.prefix}")
        return sink

    def _azure(
        self, account_name: str, opts: pulumi.ResourceOptions
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        args, tags = self._args, self._tags
        azure = args.azure
        assert azure is not None  # validated by AuditArchiveArgs
        encryption: Any = {
            "require_infrastructure_encryption": True,
            "key_source": "Microsoft.Storage",
            "services": {"blob": {"enabled": True, "key_type": "Account"}},
        }
        identity: Any = None
        if args.kms_key_id is not None:
            match = _VAULT_KEY.match(args.kms_key_id)
            assert match is not None and azure.identity_id is not None
            encryption["key_source"] = "Microsoft.Keyvault"
            encryption["key_vault_properties"] = {
                "key_vault_uri": match["vault"] + "/",
                "key_name": match["name"],
            }
            encryption["encryption_identity"] = {
                "encryption_user_assigned_identity": azure.identity_id
            }
            identity = {"type": "UserAssigned", "user_assigned_identities": [azure.identity_id]}
        network_rules: Any = {
            "default_action": "Deny",
            "bypass": "None",
            "virtual_network_rules": [
                {"virtual_network_resource_id": s, "action": "Allow"}
                for s in azure.allowed_subnet_ids
            ],
        }
        account = storage.StorageAccount(
            f"{self._name}-account",
            account_name=account_name,
            resource_group_name=azure.resource_group_name,
            location=self._region,
            kind="StorageV2",
            sku={"name": azure.sku},
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            allow_cross_tenant_replication=False,
            default_to_o_auth_authentication=True,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            public_network_access="Disabled" if not azure.allowed_subnet_ids else "Enabled",
            network_rule_set=network_rules,
            encryption=encryption,
            identity=identity,
            tags=tags,
            opts=opts,
        )
        # Children name the account literally (known at preview); they wait for it.
        after_account = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[account])
        )
        service = storage.BlobServiceProperties(
            f"{self._name}-blob-service",
            account_name=account_name,
            resource_group_name=azure.resource_group_name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": 30},
            container_delete_retention_policy={"enabled": True, "days": 30},
            opts=after_account,
        )
        container_name = args.prefix.split("/", 1)[0]
        container = storage.BlobContainer(
            f"{self._name}-container",
            account_name=account_name,
            resource_group_name=azure.resource_group_name,
            container_name=container_name,
            public_access=storage.PublicAccess.NONE,
            immutable_storage_with_versioning={"enabled": True},
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[service])),
        )
        storage.BlobContainerImmutabilityPolicy(
            f"{self._name}-retention",
            account_name=account_name,
            resource_group_name=azure.resource_group_name,
            container_name=container_name,
            immutability_policy_name="default",
            immutability_period_since_creation_in_days=args.retention_days,
            allow_protected_append_writes_all=False,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[container])),
        )
        self.account = account
        where = (
            f"--account-name {account_name} --resource-group {azure.resource_group_name} "
            f"--container-name {container_name}"
        )
        sink = f"https://{account_name}.blob.core.windows.net/{container_name}"
        lock = (
            f"az storage container immutability-policy lock {where} --if-match "
            f'"$(az storage container immutability-policy show {where} --query etag -o tsv)"'
        )
        return pulumi.Output.from_input(sink), pulumi.Output.from_input(lock)
