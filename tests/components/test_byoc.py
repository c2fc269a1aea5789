"""The BYOC shape: the vendor's fences, the customer's key and trail, residency checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from components import aws_iam_documents as docs
from components.byoc import POLICY_BOUNDARY_REGIONS, Byoc, ByocArgs, validate
from components.common import OFFLINE_SECRET, ResidencyViolation, ShapeContext
from stacks.render import RenderedResource, Rendering, render
from tests.components.test_aws_iam_documents import unexplained_findings

ACCOUNT = "111122223333"
VENDOR = "arn:aws:iam::444455556666:root"
EXTERNAL_ID = "vendor-7f3a9c"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/gatehouse/gatehouse-byoc-eu-byoc-vendor"
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/gatehouse/gatehouse-byoc-eu-byoc-vendor-boundary"
TRAIL_ARN = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/gatehouse-byoc-eu-byoc"
SECRET_SIG = "4dabf18193072939515e22adb298388d"

EU = ShapeContext(
    environment="byoc-eu",
    business_unit="retail",
    cost_center="CC-2002",
    data_classification="restricted",
    jurisdictions=frozenset({"eu"}),
)


def make_args(**overrides: Any) -> ByocArgs:
    base: dict[str, Any] = {
        "region": "eu-west-1",
        "vendor": {"principal_arn": VENDOR, "external_id": EXTERNAL_ID},
        "account_id": ACCOUNT,
    }
    return ByocArgs.model_validate({**base, **overrides})


def render_with_outputs(args: ByocArgs, ctx: ShapeContext = EU) -> tuple[Rendering, dict[str, Any]]:
    outputs: dict[str, Any] = {}

    def program() -> None:
        shape = Byoc("byoc", args, ctx)
        for key in ("vendor_role_arn", "boundary_arn", "key_arn", "trail_arn", "scp"):
            getattr(shape, key).apply(lambda value, k=key: outputs.__setitem__(k, value))

    return render(program, config={"aws:region": "us-east-1"}), outputs


def of_type(rendering: Rendering, suffix: str) -> list[RenderedResource]:
    return [r for r in rendering.resources if r.type.endswith(suffix)]


def one(rendering: Rendering, suffix: str) -> dict[str, Any]:
    found = of_type(rendering, suffix)
    assert len(found) == 1, [r.name for r in found]
    return found[0].inputs


def unwrap(value: Any) -> Any:
    """A secret input arrives wrapped with Pulumi's secret signature."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return value["value"]
    return value


@pytest.fixture(scope="module")
def default() -> tuple[Rendering, dict[str, Any]]:
    return render_with_outputs(make_args())


def vendor_role(rendering: Rendering) -> dict[str, Any]:
    return next(
        r.inputs for r in of_type(rendering, "iam/role:Role") if r.name == "byoc-vendor-role"
    )


def by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


# --- residency ----------------------------------------------------------------------------


def test_home_region_outside_the_zone_is_refused() -> None:
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(region="us-west-2"), EU)
    assert (err.value.policy, err.value.field_path) == ("aws-resource-region-in-zone", "region")


def test_allowed_region_outside_the_zone_is_refused_as_the_boundary_policy_would() -> None:
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(allowed_regions=["eu-west-1", "eu-west-2"]), EU)
    assert err.value.policy == POLICY_BOUNDARY_REGIONS
    assert err.value.field_path == "allowed_regions[1]"
    assert "'eu-west-2' (jurisdiction 'uk')" in err.value.message


def test_bedrock_models_for_the_vendor_are_placed_like_the_gateway_s() -> None:
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(bedrock_models=["global.anthropic.claude-sonnet-4-5-20250929-v1:0"]), EU)
    assert err.value.field_path == "bedrock_models[0]"
    assert err.value.policy == "aws-iam-bedrock-profile-in-zone"


# --- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vendor": {"principal_arn": VENDOR}}, "external_id"),
        ({"vendor": {"principal_arn": "444455556666", "external_id": "x1"}}, "root, or a role"),
        (
            {"vendor": {"principal_arn": VENDOR, "external_id": "x1", "max_session_seconds": 60}},
            "greater than or equal to 900",
        ),
        ({"allowed_services": ["ec2", "bedrock"]}, "'bedrock' \\(Bedrock inference"),
        ({"allowed_services": ["*"]}, "other than '\\*'"),
        ({"allowed_services": []}, "at least one service"),
        ({"allowed_regions": ["eu-central-1"]}, "leave out region 'eu-west-1'"),
        ({"pass_role_services": ["ec2"]}, "service principals"),
        ({"workload_role_path": "byoc"}, "IAM path"),
        ({"vendor_policy_arns": ["PowerUserAccess"]}, "managed policy ARNs"),
        ({"object_lock_days": 400, "log_retention_days": 365}, "exceeds log_retention_days"),
        ({"log_retention_days": 10}, "retention values"),
        ({"vpc": {"availability_zones": ["eu-central-1a"]}}, "not in 'eu-west-1'"),
        ({"tags": {"gatehouse:shape": "x"}}, "reserved"),
    ],
)
def test_bad_arguments_say_what_was_expected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_args(**overrides)


@pytest.mark.parametrize("external_id", ["", " ", "x", "bad id with spaces", "ä" * 5])
def test_a_malformed_external_id_is_refused_without_showing_it(external_id: str) -> None:
    args = make_args(vendor={"principal_arn": VENDOR, "external_id": external_id})
    with pytest.raises(ValueError, match=r"vendor\.external_id: expected 2-1224") as err:
        validate(args, EU)
    if len(external_id) > 3:
        assert external_id not in str(err.value)
    assert EXTERNAL_ID not in repr(make_args())


def test_a_secret_read_offline_stands_for_a_set_secret() -> None:
    """The offline gate hands shapes a placeholder for encrypted stack-file values."""
    args = make_args(vendor={"principal_arn": VENDOR, "external_id": OFFLINE_SECRET})
    assert args.vendor.external_id.get_secret_value() == OFFLINE_SECRET
    validate(args, EU)  # accepted: the engine will hand the program the real value
    with pytest.raises(ValidationError):
        make_args(vendor={"principal_arn": VENDOR, "external_id": {"secure": "v1:AAAA"}})


# --- the vendor role ----------------------------------------------------------------------


def test_vendor_role_trust_requires_the_external_id_and_stays_secret(
    default: tuple[Rendering, dict[str, Any]],
) -> None:
    rendering, _ = default
    role = next(
        r.inputs for r in of_type(rendering, "iam/role:Role") if r.name == "byoc-vendor-role"
    )
    wrapped = role["assumeRolePolicy"]
    assert isinstance(wrapped, dict) and SECRET_SIG in wrapped  # kept secret in the state
    statement = json.loads(unwrap(wrapped))["Statement"][0]
    assert statement["Principal"] == {"AWS": VENDOR}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
    assert role["maxSessionDuration"] == 3600
    assert role["permissionsBoundary"] == BOUNDARY_ARN
    assert role["name"] == "gatehouse-byoc-eu-byoc-vendor" and role["path"] == "/gatehouse/"
    # The vendor-operated stack is the shape's compute; its logs are co-located with it.
    assert role["tags"]["gatehouse:role"] == "compute"


def test_source_identity_and_session_length_are_honoured() -> None:
    rendering, _ = render_with_outputs(
        make_args(
            vendor={
                "principal_arn": VENDOR,
                "external_id": EXTERNAL_ID,
                "source_identity": "vendor-ops",
                "max_session_seconds": 1800,
            }
        )
    )
    role = next(
        r.inputs for r in of_type(rendering, "iam/role:Role") if r.name == "byoc-vendor-role"
    )
    statement = json.loads(unwrap(role["assumeRolePolicy"]))["Statement"][0]
    assert statement["Condition"]["StringEquals"]["sts:SourceIdentity"] == "vendor-ops"
    assert role["maxSessionDuration"] == 1800


def test_boundary_pins_regions_and_protects_the_customer(
    default: tuple[Rendering, dict[str, Any]],
) -> None:
    rendering, _ = default
    boundary = one(rendering, "iam/policy:Policy")
    assert boundary["name"] == "gatehouse-byoc-eu-byoc-vendor-boundary"
    statements = by_sid(json.loads(boundary["policy"]))
    assert statements["DenyOutsideRegions"]["Condition"] == {
        "StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}
    }
    assert set(statements["ProtectVendorRoleAndBoundary"]["Resource"]) == {ROLE_ARN, BOUNDARY_ARN}
    key_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/byoc-key"
    assert statements["ProtectCustomerKey"]["Resource"] == [key_arn]
    assert statements["ProtectCustomerTrail"]["Resource"] == [TRAIL_ARN]
    assert statements["ProtectCustomerTrailBucket"]["Resource"] == [
        "arn:aws:s3:::byoc-trail",
        "arn:aws:s3:::byoc-trail/*",
    ]
    assert statements["RequireThisBoundary"]["Condition"] == {
        "ArnNotEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}
    }
    assert statements["PassOnlyWorkloadRoles"]["NotResource"] == [
        f"arn:aws:iam::{ACCOUNT}:role/gatehouse-byoc/*"
    ]
    assert "bedrock:*" not in statements["AllowedServices"]["Action"]


def test_more_allowed_regions_and_vendor_models_reach_the_boundary() -> None:
    rendering, _ = render_with_outputs(
        make_args(
            allowed_regions=["eu-west-1", "eu-central-1"],
            bedrock_models=["eu.anthropic.claude-3-7-sonnet-20250219-v1:0"],
        )
    )
    statements = by_sid(json.loads(one(rendering, "iam/policy:Policy")["policy"]))
    assert statements["DenyOutsideRegions"]["Condition"]["StringNotEquals"][
        "aws:RequestedRegion"
    ] == ["eu-central-1", "eu-west-1"]
    assert statements["InvokeProfile0"]["Resource"] == [
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/"
        "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
    ]


def test_managed_policies_are_attached_to_the_vendor_role() -> None:
    arn = "arn:aws:iam::aws:policy/PowerUserAccess"
    rendering, _ = render_with_outputs(make_args(vendor_policy_arns=[arn]))
    attachment = one(rendering, "rolePolicyAttachment:RolePolicyAttachment")
    assert attachment == {"role": "gatehouse-byoc-eu-byoc-vendor", "policyArn": arn}


# --- the customer's key and trail --------------------------------------------------------


def test_key_rotates_and_serves_the_vendor_only_through_named_services(
    default: tuple[Rendering, dict[str, Any]],
) -> None:
    rendering, _ = default
    key = one(rendering, "kms/key:Key")
    assert key["enableKeyRotation"] is True and key["region"] == "eu-west-1"
    statements = by_sid(json.loads(key["policy"]))
    use = statements["UseThroughServices"]
    assert use["Principal"] == {"AWS": ROLE_ARN}
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"{s}.eu-west-1.amazonaws.com" for s in ("ec2", "eks", "s3", "secretsmanager")
    ]
    assert statements["CloudTrailEncrypts"]["Condition"]["StringEquals"] == {
        "aws:SourceArn": TRAIL_ARN
    }


def test_trail_validates_log_files_into_a_locked_encrypted_bucket(
    default: tuple[Rendering, dict[str, Any]],
) -> None:
    rendering, _ = default
    trail = one(rendering, "cloudtrail/trail:Trail")
    assert trail["enableLogFileValidation"] is True
    assert trail["isMultiRegionTrail"] is True and trail["includeGlobalServiceEvents"] is True
    assert trail["s3BucketName"] == "byoc-trail" and trail["region"] == "eu-west-1"
    assert trail["kmsKeyId"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/byoc-key"
    assert one(rendering, "s3/bucket:Bucket")["objectLockEnabled"] is True
    lock = one(rendering, "BucketObjectLockConfiguration")["rule"]["defaultRetention"]
    assert lock == {"mode": "COMPLIANCE", "days": 365}
    assert (
        one(rendering, "BucketServerSideEncryptionConfiguration")["rules"][0][
            "applyServerSideEncryptionByDefault"
        ]["sseAlgorithm"]
        == "aws:kms"
    )
    block = one(rendering, "BucketPublicAccessBlock")
    assert block["blockPublicPolicy"] is True and block["restrictPublicBuckets"] is True
    policy = by_sid(json.loads(one(rendering, "s3/bucketPolicy:BucketPolicy")["policy"]))
    assert policy["DenyInsecureTransport"]["Effect"] == "Deny"
    assert policy["CloudTrailWrite"]["Condition"]["StringEquals"]["aws:SourceArn"] == TRAIL_ARN


def test_no_vpc_unless_asked(default: tuple[Rendering, dict[str, Any]]) -> None:
    rendering, _ = default
    assert not of_type(rendering, "ec2/vpc:Vpc") and not of_type(rendering, "flowLog:FlowLog")
    with_vpc, _ = render_with_outputs(make_args(vpc={"cidr": "10.80.0.0/16"}))
    assert one(with_vpc, "ec2/vpc:Vpc")["cidrBlock"] == "10.80.0.0/16"
    assert one(with_vpc, "flowLog:FlowLog")["vpcId"] == "byoc-vpc-id"
    assert {s.inputs["mapPublicIpOnLaunch"] for s in of_type(with_vpc, "ec2/subnet:Subnet")} == {
        False
    }


def test_every_regional_resource_is_in_the_home_region_and_tagged() -> None:
    rendering, _ = render_with_outputs(make_args(vpc={}))
    for resource in rendering.resources:
        if not resource.type.startswith("aws:"):
            continue
        assert resource.parent, resource.name
        if ":iam/" not in resource.type:
            assert resource.inputs.get("region") == "eu-west-1", resource.name
        if "tags" in resource.inputs:
            assert resource.inputs["tags"]["gatehouse:shape"] == "byoc"
            assert resource.inputs["tags"]["gatehouse:jurisdiction"] == "eu"
    taggable = (
        "iam/role:Role",
        "iam/policy:Policy",
        "kms/key:Key",
        "trail:Trail",
        "s3/bucket:Bucket",
    )
    for suffix in taggable:
        assert all("tags" in r.inputs for r in of_type(rendering, suffix)), suffix


def test_every_generated_policy_document_lints_clean() -> None:
    rendering, outputs = render_with_outputs(
        make_args(vpc={}, bedrock_models=["eu.anthropic.claude-3-7-sonnet-20250219-v1:0"])
    )
    documents = [
        json.loads(unwrap(value))
        for r in rendering.resources
        for field, value in r.inputs.items()
        if field in ("policy", "assumeRolePolicy")
    ]
    documents.append(json.loads(outputs["scp"]))
    assert len(documents) >= 7
    for document in documents:
        assert unexplained_findings(document) == [], document


def test_outputs(default: tuple[Rendering, dict[str, Any]]) -> None:
    _, outputs = default
    assert outputs["vendor_role_arn"] == ROLE_ARN
    assert outputs["boundary_arn"] == BOUNDARY_ARN
    assert outputs["trail_arn"] == TRAIL_ARN
    scp = by_sid(json.loads(outputs["scp"]))
    assert scp["DenyOutsideRegions"]["NotAction"] == list(docs.region_exempt_actions())
    assert scp["StayInOrganisation"]["Effect"] == "Deny"
