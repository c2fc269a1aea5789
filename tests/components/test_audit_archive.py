"""The audit archive: WORM storage for the audit trail, on AWS and Azure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from components.audit_archive import AuditArchive, AuditArchiveArgs, deny_policy
from components.common import ResidencyViolation, ShapeContext
from policies import ALL_POLICIES
from stacks.render import Rendering, render
from tests.policies.harness import violated

CTX = ShapeContext(
    environment="prod",
    business_unit="retail",
    cost_center="CC-1",
    data_classification="confidential",
    jurisdictions=frozenset({"eu"}),
)
SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
IDENTITY = f"{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/archive"
KEY = "https://vault1.vault.azure.net/keys/archive"
KMS = "arn:aws:kms:eu-central-1:111122223333:key/0b5c2f6e-1d2a-4c3b-9e8f-112233445566"


def aws_args(**overrides: Any) -> AuditArchiveArgs:
    return AuditArchiveArgs.model_validate({"cloud": "aws", "region": "eu-central-1", **overrides})


def azure_args(**overrides: Any) -> AuditArchiveArgs:
    data = {"cloud": "azure", "region": "Sweden Central", "azure": {"resource_group_name": "rg"}}
    return AuditArchiveArgs.model_validate({**data, **overrides})


def build(args: AuditArchiveArgs) -> Rendering:
    return render(lambda: AuditArchive("archive", args, CTX))


def one(rendering: Rendering, suffix: str) -> dict[str, Any]:
    found = [r for r in rendering.resources if r.type.endswith(suffix)]
    assert len(found) == 1, suffix
    return found[0].inputs


@pytest.fixture(scope="module")
def aws() -> Rendering:
    return build(aws_args())


def test_object_lock_compliance_with_default_retention(aws: Rendering) -> None:
    assert one(aws, ":Bucket")["objectLockEnabled"] is True
    rule = one(aws, ":BucketObjectLockConfiguration")["rule"]["defaultRetention"]
    assert rule == {"mode": "COMPLIANCE", "days": 400}
    custom = build(aws_args(retention_days=2555))
    assert one(custom, ":BucketObjectLockConfiguration")["rule"]["defaultRetention"]["days"] == 2555


def test_versioning_kms_and_public_access(aws: Rendering) -> None:
    status = one(aws, ":BucketVersioning")["versioningConfiguration"]["status"]
    assert status == "Enabled"
    sse = one(aws, ":BucketServerSideEncryptionConfiguration")["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert one(aws, "kms/key:Key")["enableKeyRotation"] is True
    block = one(aws, ":BucketPublicAccessBlock")
    assert all(
        block[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )


def test_existing_key_is_used_and_no_key_created() -> None:
    rendering = build(aws_args(kms_key_id=KMS))
    assert not [r for r in rendering.resources if r.type == "aws:kms/key:Key"]
    sse = one(rendering, ":BucketServerSideEncryptionConfiguration")["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == KMS


def test_bucket_policy_denies_plain_http_and_deletes(aws: Rendering) -> None:
    policy = json.loads(one(aws, ":BucketPolicy")["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    tls = by_sid["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    deletes = by_sid["DenyDeletes"]
    assert deletes["Effect"] == "Deny" and deletes["Principal"] == "*"
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket"} <= set(
        deletes["Action"]
    )
    assert json.loads(deny_policy("arn:aws:s3:::b"))["Statement"][1]["Resource"][1] == (
        "arn:aws:s3:::b/*"
    )


def test_lifecycle_moves_to_an_archive_tier(aws: Rendering) -> None:
    rule = one(aws, ":BucketLifecycleConfiguration")["rules"][0]
    assert rule["transitions"] == [{"days": 90, "storageClass": "GLACIER"}]
    assert "expiration" not in rule


def test_aws_archive_passes_the_pack(aws: Rendering) -> None:
    assert violated(ALL_POLICIES, aws.resources) == {"gatehouse-colocation-data-with-compute"}
    # ... which only asks for the compute the archive serves (the gateway).


def test_every_resource_is_tagged_data_in_its_region(aws: Rendering) -> None:
    for r in aws.resources:
        if r.custom and "tags" in r.inputs:
            assert r.inputs["tags"]["gatehouse:role"] == "data"
            assert r.inputs["tags"]["gatehouse:region"] == "eu-central-1"
        if r.custom:
            assert r.inputs["region"] == "eu-central-1", r.type


@pytest.fixture(scope="module")
def azure() -> Rendering:
    return build(azure_args())


def test_azure_account_defaults(azure: Rendering) -> None:
    account = one(azure, "storage:StorageAccount")
    assert account["location"] == "swedencentral"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    assert account["encryption"]["requireInfrastructureEncryption"] is True
    assert account["sku"]["name"] == "Standard_ZRS"
    assert account["networkRuleSet"]["defaultAction"] == "Deny"
    assert account["tags"]["gatehouse:role"] == "data"


def test_azure_container_is_immutable(azure: Rendering) -> None:
    container = one(azure, "storage:BlobContainer")
    assert container["publicAccess"] == "None"
    assert container["immutableStorageWithVersioning"] == {"enabled": True}
    policy = one(azure, "storage:BlobContainerImmutabilityPolicy")
    assert policy["immutabilityPeriodSinceCreationInDays"] == 400
    assert one(azure, "storage:BlobServiceProperties")["isVersioningEnabled"] is True


def test_azure_lock_command_and_sink() -> None:
    seen: dict[str, str] = {}

    def program() -> None:
        archive = AuditArchive("archive", azure_args(), CTX)
        archive.sink.apply(lambda v: seen.__setitem__("sink", v))
        archive.lock_command.apply(lambda v: seen.__setitem__("lock", v))

    render(program)
    assert seen["sink"] == "https://retailprodaudit.blob.core.windows.net/audit"
    assert seen["lock"].startswith("az storage container immutability-policy lock")
    assert "--if-match" in seen["lock"]


def test_azure_customer_managed_key() -> None:
    args = azure_args(kms_key_id=KEY, azure={"resource_group_name": "rg", "identity_id": IDENTITY})
    # Azure answers user-assigned identities as a map keyed by id (the input is a list).
    answer = {
        "azure-native:storage:StorageAccount": lambda name, inputs: {
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}
        }
    }
    rendering = render(lambda: AuditArchive("archive", args, CTX), computed=answer)
    account = one(rendering, "storage:StorageAccount")
    assert account["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert account["encryption"]["keyVaultProperties"]["keyName"] == "archive"
    assert account["identity"]["userAssignedIdentities"] == [IDENTITY]


def test_region_outside_the_zone_is_refused() -> None:
    with pytest.raises(ResidencyViolation) as caught:
        AuditArchive("archive", aws_args(region="us-east-1"), CTX)
    assert caught.value.policy == "aws-resource-region-in-zone"
    with pytest.raises(ResidencyViolation) as again:
        AuditArchive("archive", azure_args(region="eastus"), CTX)
    assert again.value.policy == "azure-resource-location-in-zone"


@pytest.mark.parametrize(
    ("make", "override"),
    [
        (aws_args, {"kms_key_id": KEY}),
        (aws_args, {"azure": {"resource_group_name": "rg"}}),
        (aws_args, {"retention_days": 0}),
        (azure_args, {"azure": None}),
        (azure_args, {"kms_key_id": KEY}),  # a CMK needs the identity that may use it
        (azure_args, {"azure": {"resource_group_name": "rg", "sku": "Standard_GRS"}}),
        (azure_args, {"name": "Not_Valid"}),
    ],
)
def test_invalid_args_are_refused(make: Any, override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make(**override)


def test_reserved_tag_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="gatehouse:role are reserved"):
        aws_args(tags={"gatehouse:role": "compute"})
