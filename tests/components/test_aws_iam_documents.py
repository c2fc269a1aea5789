"""The AWS policy documents: their content, the parliament IAM linter and moto's IAM.

``unexplained_findings`` is also used by the shape tests to lint every document a
rendered shape attaches.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from typing import Any

import boto3
import parliament
import pytest
from moto import mock_aws

from components import aws_iam_documents as docs
from components.residency import UnknownInferenceProfileError, UnsupportedSourceRegionError

ACCOUNT = docs.Account("111122223333")
REGION = "eu-central-1"
EU_SONNET_45 = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
TRAIL = ACCOUNT.arn("cloudtrail", "eu-west-1", "trail/customer")
OIDC = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
PROTECTED = docs.ProtectedResources(
    vendor_role_arn="arn:aws:iam::111122223333:role/byoc/vendor",
    boundary_arn="arn:aws:iam::111122223333:policy/byoc/vendor-boundary",
    key_arn="arn:aws:kms:eu-west-1:111122223333:key/customer",
    trail_arn=TRAIL,
    trail_bucket="customer-trail",
)
BOUNDARY = docs.VendorBoundary(
    allowed_regions=("eu-west-1",),
    allowed_services=("ec2", "eks", "logs", "s3"),
    protected=PROTECTED,
    workload_role_path="/byoc-workloads/",
    pass_role_services=("ec2.amazonaws.com", "eks.amazonaws.com"),
    bedrock_targets=("eu.anthropic.claude-3-7-sonnet-20250219-v1:0",),
    bedrock_region="eu-west-1",
)

# --- parliament, with the findings that do not apply explained --------------------------

_MODEL_VERSION = re.compile(r"(foundation-model/|inference-profile/)([^\"]*?):(\d+)")


def _without_model_version_colons(text: str) -> str:
    return _MODEL_VERSION.sub(lambda m: f"{m[1]}{m[2]}-{m[3]}", text)


def _is_trust_policy(doc: dict[str, Any]) -> bool:
    return all(
        "Principal" in s and "Resource" not in s and "NotResource" not in s
        for s in doc["Statement"]
    )


def _resource_star_allowed(doc: dict[str, Any], actions: Iterable[str]) -> bool:
    """Resource "*" is how these documents must be written, not an oversight.

    - Key policies: "*" means "this key" (a key policy can name no other resource).
    - Endpoint and bucket-less resource policies granting a whole service through one
      interface endpoint: "*" means "through this endpoint".
    - A permissions boundary's service allow-list caps by service; the denies narrow it.
    Only those statements' actions are excused: each must be in a statement with a
    Principal (resource policy) or in the boundary's ``AllowedServices`` statement.
    """
    excused: set[str] = set()
    for statement in doc["Statement"]:
        if statement.get("Resource") != "*" or statement["Effect"] != "Allow":
            continue
        if "Principal" in statement or statement.get("Sid") == "AllowedServices":
            excused.update(a.split(":", 1)[0] for a in statement["Action"])
    return all(a.split(":", 1)[0] in excused for a in actions)


def unexplained_findings(doc: dict[str, Any]) -> list[str]:
    """Parliament's findings on ``doc`` minus those explained here; empty means clean."""
    text = docs.to_json(doc)
    left: list[str] = []
    for finding in parliament.analyze_policy_string(text).findings:
        issue, detail = finding.issue, finding.detail
        # Trust policies are resource policies of the role itself: IAM rejects a Resource
        # element in them, while parliament lints every document as an identity policy.
        if (
            issue == "MALFORMED"
            and detail == "Statement contains neither Resource nor NotResource"
            and _is_trust_policy(doc)
        ):
            continue
        # Parliament knows only the public web identity providers; an EKS cluster's OIDC
        # issuer (oidc.eks.<region>.amazonaws.com/id/<id>) is per cluster.
        if issue == "UNKNOWN_FEDERATION_SOURCE" and ":oidc-provider/oidc.eks." in str(detail):
            continue
        # Two parliament misreadings for Bedrock's inference actions, excused only when
        # _bedrock_resources_recognised shows parliament accepts each ARN for its own type:
        # it refuses a ':' in a resource id (is_arn_strictly_valid), but Bedrock model ids
        # carry one ("...-v1:0"); and the Service Authorization Reference marks every
        # resource type of InvokeModel as required, which parliament reads as "a statement
        # must name all of them" where IAM needs the one being invoked.
        if (
            issue == "RESOURCE_MISMATCH"
            and all(entry["action"].startswith("bedrock:") for entry in detail)
            and _bedrock_resources_recognised(doc)
        ):
            continue
        if issue == "RESOURCE_STAR" and _resource_star_allowed(doc, detail):
            continue
        left.append(f"{issue}: {detail}")
    return left


_BEDROCK_RESOURCE_TYPES = frozenset(
    resource["resource"]
    for service in parliament.iam_definition
    if service["prefix"] == "bedrock"
    for resource in service["resources"]
)


def _resource_type(arn: str) -> str:
    return arn.split(":", 5)[5].split("/", 1)[0]


def _bedrock_resources_recognised(doc: dict[str, Any]) -> bool:
    """Each Bedrock statement, with model-version colons removed, matches its own types."""
    for statement in doc["Statement"]:
        if not any(a.startswith("bedrock:") for a in statement.get("Action", [])):
            continue
        resources = statement.get("Resource", [])
        if not resources or any(arn.split(":")[2:3] != ["bedrock"] for arn in resources):
            return False
        named = {_resource_type(arn) for arn in resources}
        if not named <= _BEDROCK_RESOURCE_TYPES:
            return False
        alone = _without_model_version_colons(docs.to_json(docs.document([statement])))
        for finding in parliament.analyze_policy_string(alone).findings:
            if finding.issue != "RESOURCE_MISMATCH":
                continue
            missing = {_resource_type(e["required_format"]) for e in finding.detail}
            if named & missing:
                return False
    return True


# --- every document the shapes build ------------------------------------------------------

IDENTITY_POLICIES = {
    "gateway invoke policy": docs.bedrock_invoke_policy([EU_SONNET_45, TITAN], REGION, ACCOUNT),
    "bedrock log delivery": docs.bedrock_log_delivery_policy(ACCOUNT, REGION, "/gh/invocations"),
    "flow log delivery": docs.flow_log_delivery_policy(ACCOUNT, REGION, "/gh/flow"),
    "vendor permissions boundary": docs.permissions_boundary(BOUNDARY, ACCOUNT),
}
TRUST_POLICIES = {
    "irsa": docs.irsa_trust_policy(OIDC, "gatehouse", "gateway"),
    "ecs tasks": docs.ecs_task_trust_policy(ACCOUNT, REGION),
    "ec2": docs.ec2_trust_policy(),
    "vendor": docs.vendor_trust_policy("arn:aws:iam::444455556666:root", "ext-1234", None),
    "vendor with source identity": docs.vendor_trust_policy(
        "arn:aws:iam::444455556666:role/ops", "ext-1234", "vendor-operator"
    ),
    "bedrock logging role": docs.service_trust_policy(
        "bedrock.amazonaws.com", ACCOUNT, ACCOUNT.arn("bedrock", REGION, "*")
    ),
    "flow logs role": docs.service_trust_policy(
        "vpc-flow-logs.amazonaws.com", ACCOUNT, ACCOUNT.arn("ec2", REGION, "vpc-flow-log/*")
    ),
}
ENDPOINT_POLICIES = {
    "bedrock-runtime": docs.bedrock_endpoint_policy([EU_SONNET_45, TITAN], REGION, ACCOUNT),
    **{name: docs.service_endpoint_policy(name, ACCOUNT) for name in docs.ENDPOINT_ACTIONS},
}
KEY_POLICY = docs.key_policy(
    ACCOUNT,
    [
        docs.key_use_by_logs_statement(ACCOUNT, REGION),
        docs.key_use_by_bedrock_logging_statement(ACCOUNT, REGION),
        *docs.key_use_by_cloudtrail_statements(ACCOUNT, TRAIL),
        *docs.key_use_via_services_statements(PROTECTED.vendor_role_arn, ["ec2", "s3"], REGION),
    ],
)
BUCKET_POLICY = docs.bucket_policy(
    "customer-logs",
    ACCOUNT,
    [
        docs.bedrock_logging_bucket_statement("customer-logs", "invocations", ACCOUNT, REGION),
        *docs.cloudtrail_bucket_statements("customer-logs", ACCOUNT, TRAIL),
    ],
)
SCP = docs.recommended_scp(BOUNDARY, ACCOUNT)

ALL_DOCUMENTS = {
    **IDENTITY_POLICIES,
    **{f"trust: {k}": v for k, v in TRUST_POLICIES.items()},
    **{f"endpoint: {k}": v for k, v in ENDPOINT_POLICIES.items()},
    "key policy": KEY_POLICY,
    "bucket policy": BUCKET_POLICY,
    "service control policy": SCP,
}


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_parliament_reports_nothing_unexplained(name: str) -> None:
    assert unexplained_findings(ALL_DOCUMENTS[name]) == []


def test_the_lint_helper_still_catches_real_problems() -> None:
    broken = copy.deepcopy(IDENTITY_POLICIES["gateway invoke policy"])
    broken["Statement"][0]["Action"] = ["bedrock:InvokeModle"]  # typo
    broken["Statement"].append(
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}  # no Sid needed
    )
    found = " ".join(unexplained_findings(broken))
    assert "UNKNOWN_ACTION" in found
    assert "RESOURCE_STAR" in found


def test_resource_mismatch_is_only_excused_for_bedrock_arns_of_their_own_type() -> None:
    wrong_resource = docs.document(
        [
            {
                "Sid": "Wrong",
                "Effect": "Allow",
                "Action": list(docs.INVOKE_ACTIONS),
                "Resource": ["arn:aws:s3:::bucket/key"],
            }
        ]
    )
    assert any("RESOURCE_MISMATCH" in f for f in unexplained_findings(wrong_resource))
    wrong_type = copy.deepcopy(wrong_resource)
    wrong_type["Statement"][0]["Resource"] = [
        "arn:aws:bedrock:eu-central-1::foundation-models/amazon.titan-embed-text-v2:0"
    ]
    assert any("RESOURCE_MISMATCH" in f for f in unexplained_findings(wrong_type))


# --- moto accepts them ------------------------------------------------------------------


def test_moto_iam_accepts_every_identity_policy_and_trust_policy() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        arns = {}
        for name, doc in [*IDENTITY_POLICIES.items(), ("scp", SCP)]:
            created = iam.create_policy(
                PolicyName=name.replace(" ", "-"), PolicyDocument=docs.to_json(doc)
            )
            arns[name] = created["Policy"]["Arn"]
            version = iam.get_policy_version(PolicyArn=arns[name], VersionId="v1")
            assert version["PolicyVersion"]["Document"] == doc
        for index, doc in enumerate(TRUST_POLICIES.values()):
            role = iam.create_role(RoleName=f"r{index}", AssumeRolePolicyDocument=docs.to_json(doc))
            assert role["Role"]["AssumeRolePolicyDocument"] == doc
        boundary = arns["vendor permissions boundary"]
        iam.create_role(
            RoleName="vendor",
            AssumeRolePolicyDocument=docs.to_json(TRUST_POLICIES["vendor"]),
            PermissionsBoundary=boundary,
            MaxSessionDuration=3600,
        )
        assert (
            iam.get_role(RoleName="vendor")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
            == boundary
        )


def test_moto_rejects_a_malformed_document_so_acceptance_means_something() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get"}]}
        with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
            iam.create_policy(PolicyName="bad", PolicyDocument=json.dumps(bad))


def test_moto_accepts_the_key_bucket_and_organisation_policies() -> None:
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key(Policy=docs.to_json(KEY_POLICY))["KeyMetadata"]["KeyId"]
        stored = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
        assert json.loads(stored) == KEY_POLICY
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket="customer-logs", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        s3.put_bucket_policy(Bucket="customer-logs", Policy=docs.to_json(BUCKET_POLICY))
        assert json.loads(s3.get_bucket_policy(Bucket="customer-logs")["Policy"]) == BUCKET_POLICY
        org = boto3.client("organizations", region_name="us-east-1")
        org.create_organization(FeatureSet="ALL")
        scp = org.create_policy(
            Content=docs.to_json(SCP),
            Description="residency",
            Name="residency",
            Type="SERVICE_CONTROL_POLICY",
        )
        assert json.loads(scp["Policy"]["Content"]) == SCP
    # Each endpoint policy is also a valid policy document for IAM's parser.
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        for name, doc in ENDPOINT_POLICIES.items():
            stripped = {
                **doc,
                "Statement": [
                    {k: v for k, v in s.items() if k != "Principal"} for s in doc["Statement"]
                ],
            }
            iam.create_policy(PolicyName=f"endpoint-{name}", PolicyDocument=json.dumps(stripped))


# --- content -------------------------------------------------------------------------------


def _actions(doc: dict[str, Any]) -> set[str]:
    return {a for s in doc["Statement"] for a in s.get("Action", [])}


def test_invoke_policy_grants_only_the_two_inference_actions_on_explicit_arns() -> None:
    doc = IDENTITY_POLICIES["gateway invoke policy"]
    assert _actions(doc) == set(docs.INVOKE_ACTIONS)
    for statement in doc["Statement"]:
        for arn in statement["Resource"]:
            assert "*" not in arn and arn.split(":")[3] != ""
    direct = doc["Statement"][0]
    assert direct["Resource"] == [f"arn:aws:bedrock:{REGION}::foundation-model/{TITAN}"]
    assert "Condition" not in direct


def test_profile_grant_is_the_profile_plus_each_destination_behind_the_condition() -> None:
    doc = docs.bedrock_invoke_policy([EU_SONNET_45], REGION, ACCOUNT)
    profile, destinations = doc["Statement"]
    profile_arn = f"arn:aws:bedrock:{REGION}:111122223333:inference-profile/{EU_SONNET_45}"
    assert profile["Resource"] == [profile_arn]
    regions = sorted(arn.split(":")[3] for arn in destinations["Resource"])
    # From Frankfurt the EU Claude 4.5 profile routes to the six EU-member Regions only.
    assert regions == sorted(
        ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"]
    )
    assert all(
        arn.endswith("::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0")
        for arn in destinations["Resource"]
    )
    assert destinations["Condition"] == {"ArnEquals": {"bedrock:InferenceProfileArn": profile_arn}}


def test_profile_called_from_zurich_also_grants_zurich() -> None:
    doc = docs.bedrock_invoke_policy([EU_SONNET_45], "eu-central-2", ACCOUNT)
    regions = {arn.split(":")[3] for arn in doc["Statement"][1]["Resource"]}
    assert "eu-central-2" in regions


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", UnknownInferenceProfileError),
        ("eu.anthropic.claude-made-up-v1:0", UnknownInferenceProfileError),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", UnsupportedSourceRegionError),
    ],
)
def test_profiles_outside_the_snapshot_are_errors_not_guesses(target: str, error: type) -> None:
    with pytest.raises(error):
        docs.bedrock_invoke_policy([target], REGION, ACCOUNT)


def test_endpoint_policy_is_the_same_grants_for_this_account_only() -> None:
    doc = ENDPOINT_POLICIES["bedrock-runtime"]
    grants = docs.bedrock_invoke_policy([EU_SONNET_45, TITAN], REGION, ACCOUNT)["Statement"]
    assert len(doc["Statement"]) == len(grants)
    for statement, grant in zip(doc["Statement"], grants, strict=True):
        assert statement["Principal"] == {"AWS": "*"}
        assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == "111122223333"
        assert statement["Resource"] == grant["Resource"]
        assert statement["Action"] == grant["Action"]
    assert ENDPOINT_POLICIES["bedrock"]["Statement"][0]["Action"] == [
        "bedrock:Get*",
        "bedrock:List*",
    ]
    with pytest.raises(ValueError, match="no endpoint policy for 'ssm'"):
        docs.service_endpoint_policy("ssm", ACCOUNT)


def test_irsa_trust_pins_the_service_account_and_audience() -> None:
    statement = TRUST_POLICIES["irsa"]["Statement"][0]
    issuer = "oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
    assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:gatehouse:gateway",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    with pytest.raises(ValueError, match="not an IAM OIDC provider ARN"):
        docs.irsa_trust_policy("arn:aws:iam::111122223333:role/x", "ns", "sa")


def test_vendor_trust_requires_the_external_id_and_optionally_the_source_identity() -> None:
    plain = TRUST_POLICIES["vendor"]["Statement"][0]
    assert plain["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-1234"}}
    assert plain["Action"] == ["sts:AssumeRole"]
    with_identity = TRUST_POLICIES["vendor with source identity"]["Statement"][0]
    assert with_identity["Condition"]["StringEquals"]["sts:SourceIdentity"] == "vendor-operator"
    assert "sts:SetSourceIdentity" in with_identity["Action"]
    with pytest.raises(ValueError, match="external_id is empty"):
        docs.vendor_trust_policy("arn:aws:iam::444455556666:root", "  ")


def test_service_trust_is_bound_to_this_account_and_source() -> None:
    condition = TRUST_POLICIES["ecs tasks"]["Statement"][0]["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": "111122223333"}
    assert condition["ArnLike"] == {"aws:SourceArn": "arn:aws:ecs:eu-central-1:111122223333:*"}


def test_key_policy_limits_the_vendor_to_named_services() -> None:
    by_sid = {s["Sid"]: s for s in KEY_POLICY["Statement"]}
    assert by_sid["AccountAdministers"]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    use = by_sid["UseThroughServices"]
    assert use["Condition"] == {
        "StringEquals": {
            "kms:ViaService": ["ec2.eu-central-1.amazonaws.com", "s3.eu-central-1.amazonaws.com"]
        }
    }
    grants = by_sid["GrantsForServiceResources"]
    assert grants["Action"] == ["kms:CreateGrant"]
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    with pytest.raises(ValueError, match="services is empty"):
        docs.key_use_via_services_statements(PROTECTED.vendor_role_arn, [], REGION)


def test_bucket_policy_always_starts_by_refusing_plain_http() -> None:
    first = docs.bucket_policy("b-1", ACCOUNT)["Statement"][0]
    assert first["Effect"] == "Deny"
    assert first["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert first["Resource"] == ["arn:aws:s3:::b-1", "arn:aws:s3:::b-1/*"]
    bedrock = BUCKET_POLICY["Statement"][1]
    assert bedrock["Resource"] == [
        "arn:aws:s3:::customer-logs/invocations/AWSLogs/111122223333/BedrockModelInvocationLogs/*"
    ]


def test_region_exemptions_are_global_services_only() -> None:
    exempt = docs.region_exempt_actions()
    assert "iam:*" in exempt and "sts:*" in exempt and "ec2:DescribeRegions" in exempt
    for regional in ("kms:*", "acm:*", "waf-regional:*", "bedrock:*", "s3:*"):
        assert regional not in exempt


def test_boundary_pins_regions_protects_and_requires_itself() -> None:
    by_sid = {s["Sid"]: s for s in IDENTITY_POLICIES["vendor permissions boundary"]["Statement"]}
    pin = by_sid["DenyOutsideRegions"]
    assert pin["Effect"] == "Deny" and pin["NotAction"] == list(docs.region_exempt_actions())
    assert pin["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}
    assert by_sid["RequireThisBoundary"]["Condition"] == {
        "ArnNotEquals": {"iam:PermissionsBoundary": PROTECTED.boundary_arn}
    }
    assert set(by_sid["ProtectVendorRoleAndBoundary"]["Resource"]) == {
        PROTECTED.vendor_role_arn,
        PROTECTED.boundary_arn,
    }
    assert by_sid["ProtectCustomerKey"]["Resource"] == [PROTECTED.key_arn]
    assert by_sid["ProtectCustomerTrail"]["Resource"] == [TRAIL]
    assert by_sid["PassOnlyWorkloadRoles"]["NotResource"] == [
        "arn:aws:iam::111122223333:role/byoc-workloads/*"
    ]
    assert by_sid["AllowedServices"]["Action"] == ["ec2:*", "eks:*", "logs:*", "s3:*"]
    # Bedrock inference comes per model, never as bedrock:*.
    assert "bedrock:*" not in _actions(IDENTITY_POLICIES["vendor permissions boundary"])


@pytest.mark.parametrize("service", ["bedrock", "*"])
def test_boundary_refuses_blanket_services(service: str) -> None:
    wide = docs.VendorBoundary(
        allowed_regions=("eu-west-1",),
        allowed_services=("ec2", service),
        protected=PROTECTED,
        workload_role_path="/w/",
        pass_role_services=("ec2.amazonaws.com",),
    )
    with pytest.raises(ValueError, match="allowed_services may not contain"):
        docs.permissions_boundary(wide, ACCOUNT)


def test_scp_protects_from_the_vendor_principals_only() -> None:
    by_sid = {s["Sid"]: s for s in SCP["Statement"]}
    assert "ProtectVendorRoleAndBoundary" not in by_sid
    assert by_sid["ProtectCustomerKey"]["Condition"] == {
        "ArnLike": {
            "aws:PrincipalArn": [
                "arn:aws:iam::111122223333:role/byoc-workloads/*",
                PROTECTED.vendor_role_arn,
            ]
        }
    }
    assert by_sid["StayInOrganisation"]["Action"] == ["organizations:LeaveOrganization"]
    with pytest.raises(ValueError, match="allowed_regions is empty"):
        docs.region_pin_statement([])
