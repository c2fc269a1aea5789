"""Pure builders of the IAM, key and bucket policy documents the AWS shapes attach.

Nothing here touches Pulumi: every function takes plain strings and returns a policy
document (a ``dict`` ready for :func:`to_json`). The shapes call them inside ``.apply``;
the tests lint every document with parliament and load it into moto's IAM, S3, KMS and
Organizations, without any Pulumi machinery.

Conventions: ``Sid`` values are alphanumeric (IAM's rule for identity policies); every
statement that a service principal may use carries ``aws:SourceAccount`` / ``aws:SourceArn``
conditions against the confused-deputy problem
(https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from components.residency import (
    AWS_GLOBAL_SERVICES,
    AWS_REGION_DENY_SCP_NOT_ACTIONS,
    bedrock_destinations,
    split_profile_id,
)

Document = dict[str, Any]
Statement = dict[str, Any]

POLICY_VERSION: Final = "2012-10-17"

# --- Amazon Bedrock ----------------------------------------------------------------------
# The two IAM actions that authorise model inference. InvokeModel also authorises the
# Converse API and InvokeModelWithResponseStream also authorises ConverseStream; there is no
# "bedrock:Converse" action. Source ("Actions defined by Amazon Bedrock"):
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html
# and https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html
# (checked 2026-11-27).
INVOKE_ACTIONS: Final[tuple[str, ...]] = (
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
)

# Condition key that carries the inference profile a foundation model is reached through;
# its type is ARN, so it is compared with ArnEquals. Source: the "Condition keys for Amazon
# Bedrock" table of the Service Authorization Reference page above ("bedrock:InferenceProfileArn
# - Filters access by the specified inference profile - ARN"), and
# https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html ("When
# you specify an inference profile in the Resource field ... you must also specify the
# foundation model in each Region associated with it"), checked 2026-11-27.
INFERENCE_PROFILE_ARN_KEY: Final = "bedrock:InferenceProfileArn"

# Bedrock's model invocation logging writes S3 objects under this path and CloudWatch events to
# this log stream. Source: https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html
# (checked 2026-11-27): "Only destinations from the same account and Region are supported."
BEDROCK_LOG_OBJECT_PATH: Final = "AWSLogs/{account}/BedrockModelInvocationLogs/*"
BEDROCK_LOG_STREAM: Final = "aws/bedrock/modelinvocations"

# Which actions each optional interface endpoint's policy admits (for this account's
# principals only). The Bedrock control-plane endpoint admits read calls only.
ENDPOINT_ACTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "bedrock": ("bedrock:Get*", "bedrock:List*"),
    "sts": ("sts:*",),
    "logs": ("logs:*",),
    "kms": ("kms:*",),
    "secretsmanager": ("secretsmanager:*",),
}


@dataclass(frozen=True)
class Account:
    """The AWS account and partition the documents are written for."""

    account_id: str
    partition: str = "aws"

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def arn(self, service: str, region: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"


def document(statements: Iterable[Statement]) -> Document:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def to_json(doc: Document) -> str:
    return json.dumps(doc, indent=2)


def _statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str] | str | None,
    *,
    effect: str = "Allow",
    principal: Any = None,
    condition: Mapping[str, Mapping[str, Any]] | None = None,
    not_action: bool = False,
    not_resource: bool = False,
) -> Statement:
    out: Statement = {"Sid": sid, "Effect": effect}
    if principal is not None:
        out["Principal"] = principal
    out["NotAction" if not_action else "Action"] = list(actions)
    if resources is not None:  # trust policies name no resource
        out["NotResource" if not_resource else "Resource"] = (
            resources if isinstance(resources, str) else list(resources)
        )
    if condition:
        out["Condition"] = {op: dict(values) for op, values in condition.items()}
    return out


def _sid(*parts: str) -> str:
    return "".join(ch for part in parts for ch in part.title() if ch.isalnum())


def foundation_model_arn(account: Account, region: str, model_id: str) -> str:
    # Foundation models are AWS-owned: their ARN has no account part.
    return f"arn:{account.partition}:bedrock:{region}::foundation-model/{model_id}"


def inference_profile_arn(account: Account, region: str, profile_id: str) -> str:
    return account.arn("bedrock", region, f"inference-profile/{profile_id}")


def bedrock_invoke_statements(
    targets: Sequence[str], region: str, account: Account
) -> list[Statement]:
    """Least-privilege inference grants for ``targets`` called from ``region``.

    A plain model id is granted on its foundation-model ARN in ``region``. A geographic
    inference profile is granted on its profile ARN in ``region`` plus the foundation model
    in each destination Region of the reviewed snapshot, only when reached through that
    profile (``bedrock:InferenceProfileArn``). A profile missing from the snapshot (every
    ``global.`` profile included) raises ``UnknownInferenceProfileError``.
    """
    direct = sorted({t for t in targets if split_profile_id(t)[0] is None})
    statements: list[Statement] = []
    if direct:
        statements.append(
            _statement(
                "InvokeFoundationModels",
                INVOKE_ACTIONS,
                [foundation_model_arn(account, region, m) for m in direct],
            )
        )
    profiles = sorted({t for t in targets if split_profile_id(t)[0] is not None})
    for index, profile in enumerate(profiles):
        _, model_id = split_profile_id(profile)
        destinations = bedrock_destinations(profile, region)
        profile_arn = inference_profile_arn(account, region, profile)
        statements.append(_statement(f"InvokeProfile{index}", INVOKE_ACTIONS, [profile_arn]))
        statements.append(
            _statement(
                f"InvokeProfile{index}Destinations",
                INVOKE_ACTIONS,
                [foundation_model_arn(account, dest, model_id) for dest in destinations],
                condition={"ArnEquals": {INFERENCE_PROFILE_ARN_KEY: profile_arn}},
            )
        )
    return statements


def bedrock_invoke_policy(targets: Sequence[str], region: str, account: Account) -> Document:
    """The gateway role's inference policy (see :func:`bedrock_invoke_statements`)."""
    return document(bedrock_invoke_statements(targets, region, account))


def _account_principals(statement: Statement, account: Account) -> Statement:
    """The statement as a resource-policy statement for principals of ``account`` only."""
    condition = {op: dict(values) for op, values in statement.get("Condition", {}).items()}
    condition.setdefault("StringEquals", {})["aws:PrincipalAccount"] = account.account_id
    ordered: Statement = {"Sid": statement["Sid"], "Effect": statement["Effect"]}
    ordered["Principal"] = {"AWS": "*"}
    ordered.update({k: v for k, v in statement.items() if k not in ("Sid", "Effect", "Condition")})
    ordered["Condition"] = condition
    return ordered


def bedrock_endpoint_policy(targets: Sequence[str], region: str, account: Account) -> Document:
    """The ``bedrock-runtime`` endpoint policy: the same grants, for this account only.

    It replaces the default endpoint policy, which allows every action by every principal.
    """
    return document(
        _account_principals(s, account) for s in bedrock_invoke_statements(targets, region, account)
    )


def service_endpoint_policy(endpoint: str, account: Account) -> Document:
    """Policy of an optional interface endpoint: its service's actions, this account only."""
    actions = ENDPOINT_ACTIONS.get(endpoint)
    if actions is None:
        raise ValueError(
            f"no endpoint policy for {endpoint!r}; expected one of {', '.join(ENDPOINT_ACTIONS)}"
        )
    statement = _statement(_sid("Account", endpoint), actions, "*")
    return document([_account_principals(statement, account)])


# --- trust policies ----------------------------------------------------------------------


def _trust(
    sid: str, principal: Mapping[str, str], action: str | Sequence[str], **kw: Any
) -> Document:
    actions = [action] if isinstance(action, str) else list(action)
    return document([_statement(sid, actions, None, principal=dict(principal), **kw)])


def irsa_trust_policy(oidc_provider_arn: str, namespace: str, service_account: str) -> Document:
    """Trust for one Kubernetes service account through an EKS OIDC provider (IRSA).

    Source: https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
    (the ``:sub`` and ``:aud`` conditions on the provider's issuer), checked 2026-11-27.
    """
    marker = ":oidc-provider/"
    if marker not in oidc_provider_arn:
        raise ValueError(
            f"not an IAM OIDC provider ARN: {oidc_provider_arn!r}; expected "
            "arn:aws:iam::<account>:oidc-provider/<issuer host and path>"
        )
    issuer = oidc_provider_arn.split(marker, 1)[1]
    return _trust(
        "GatewayServiceAccount",
        {"Federated": oidc_provider_arn},
        "sts:AssumeRoleWithWebIdentity",
        condition={
            "StringEquals": {
                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{issuer}:aud": "sts.amazonaws.com",
            }
        },
    )


def service_trust_policy(
    service: str, account: Account, source_arn: str, *, sid: str = "Service"
) -> Document:
    """Trust for an AWS service principal, bound to this account and ``source_arn``."""
    return _trust(
        sid,
        {"Service": service},
        "sts:AssumeRole",
        condition={
            "StringEquals": {"aws:SourceAccount": account.account_id},
            "ArnLike": {"aws:SourceArn": source_arn},
        },
    )


def ecs_task_trust_policy(account: Account, region: str) -> Document:
    """Trust for ECS tasks of this account and Region.

    Source: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
    (``aws:SourceAccount`` and ``aws:SourceArn`` against the confused deputy), checked 2026-11-27.
    """
    return service_trust_policy(
        "ecs-tasks.amazonaws.com", account, account.arn("ecs", region, "*"), sid="EcsTasks"
    )


def ec2_trust_policy() -> Document:
    """Trust for EC2 instances (used through an instance profile)."""
    return _trust("Ec2Instances", {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole")


def vendor_trust_policy(
    vendor_principal_arn: str, external_id: str, source_identity: str | None = None
) -> Document:
    """Trust for a vendor's AWS principal, which must present ``external_id``.

    With ``source_identity`` the vendor must also set that source identity, which then
    stays on the session and in CloudTrail (``sts:SetSourceIdentity`` permission plus the
    ``sts:SourceIdentity`` condition). Sources, checked 2026-11-27:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html
    and https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html
    """
    if not external_id.strip():
        raise ValueError("external_id is empty; expected the secret the vendor presents")
    condition: dict[str, dict[str, str]] = {"StringEquals": {"sts:ExternalId": external_id}}
    actions: list[str] = ["sts:AssumeRole"]
    if source_identity is not None:
        condition["StringEquals"]["sts:SourceIdentity"] = source_identity
        actions.append("sts:SetSourceIdentity")
    return _trust("Vendor", {"AWS": vendor_principal_arn}, actions, condition=condition)


# --- logging -----------------------------------------------------------------------------


def log_group_arn(account: Account, region: str, name: str) -> str:
    return account.arn("logs", region, f"log-group:{name}")


def bedrock_log_delivery_policy(account: Account, region: str, log_group: str) -> Document:
    """What Bedrock's logging role may do: write invocation events to one log stream."""
    stream = f"{log_group_arn(account, region, log_group)}:log-stream:{BEDROCK_LOG_STREAM}"
    return document(
        [_statement("WriteInvocationLogs", ("logs:CreateLogStream", "logs:PutLogEvents"), [stream])]
    )


def flow_log_delivery_policy(account: Account, region: str, log_group: str) -> Document:
    """What the VPC flow-logs role may do: write streams of one log group.

    Source: https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
    (checked 2026-11-27); scoped here to the one log group instead of ``*``.
    """
    group = log_group_arn(account, region, log_group)
    return document(
        [
            _statement(
                "WriteFlowLogs",
                ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"),
                [group, f"{group}:log-stream:*"],
            )
        ]
    )


# --- KMS key policies --------------------------------------------------------------------
# Sources, checked 2026-11-27:
# - account root statement: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
# - CloudWatch Logs: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
# - CloudTrail: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
# - Bedrock invocation logs to an SSE-KMS bucket: the model-invocation-logging page above
# - kms:ViaService: https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service

_KEY_USE: Final = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


def key_admin_statement(account: Account) -> Statement:
    """The account (through IAM policies) administers the key: without it, nobody can."""
    return _statement("AccountAdministers", ("kms:*",), "*", principal={"AWS": account.root})


def key_use_by_logs_statement(account: Account, region: str) -> Statement:
    # The encryption-context key is a string key, so it is matched with StringLike; AWS's
    # example also lists kms:Describe*, which can never match this condition (DescribeKey
    # carries no encryption context) and is therefore left out.
    return _statement(
        "CloudWatchLogsUse",
        tuple(a for a in _KEY_USE if a != "kms:DescribeKey"),
        "*",
        principal={"Service": f"logs.{region}.amazonaws.com"},
        condition={
            "StringLike": {
                "kms:EncryptionContext:aws:logs:arn": account.arn("logs", region, "log-group:*")
            }
        },
    )


def key_use_by_bedrock_logging_statement(account: Account, region: str) -> Statement:
    return _statement(
        "BedrockLoggingUse",
        ("kms:GenerateDataKey",),
        "*",
        principal={"Service": "bedrock.amazonaws.com"},
        condition={
            "StringEquals": {"aws:SourceAccount": account.account_id},
            "ArnLike": {"aws:SourceArn": account.arn("bedrock", region, "*")},
        },
    )


def key_use_by_cloudtrail_statements(account: Account, trail_arn: str) -> list[Statement]:
    source = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return [
        _statement(
            "CloudTrailEncrypts",
            ("kms:GenerateDataKey*",),
            "*",
            principal={"Service": "cloudtrail.amazonaws.com"},
            condition={
                **source,
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": account.arn(
                        "cloudtrail", "*", "trail/*"
                    )
                },
            },
        ),
        _statement(
            "CloudTrailDescribes",
            ("kms:DescribeKey",),
            "*",
            principal={"Service": "cloudtrail.amazonaws.com"},
            condition=source,
        ),
    ]


def key_use_via_services_statements(
    principal_arn: str, services: Sequence[str], region: str
) -> list[Statement]:
    """``principal_arn`` may use the key only through the named AWS services in ``region``.

    Grants (which services such as EBS create for the resources they encrypt) are allowed
    only for AWS resources (``kms:GrantIsForAWSResource``), which applies to grant
    operations alone, hence its own statement.
    """
    if not services:
        raise ValueError(
            "services is empty; expected the services the principal may use the key through"
        )
    via = {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in sorted(services)]}
    return [
        _statement(
            "UseThroughServices",
            _KEY_USE,
            "*",
            principal={"AWS": principal_arn},
            condition={"StringEquals": via},
        ),
        _statement(
            "GrantsForServiceResources",
            ("kms:CreateGrant",),
            "*",
            principal={"AWS": principal_arn},
            condition={"StringEquals": via, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
    ]


def key_policy(account: Account, statements: Iterable[Statement]) -> Document:
    return document([key_admin_statement(account), *statements])


# --- S3 bucket policies ------------------------------------------------------------------


def bucket_arn(account: Account, bucket: str) -> str:
    return f"arn:{account.partition}:s3:::{bucket}"


def tls_only_statement(bucket: str, account: Account) -> Statement:
    """Refuse every request that is not sent over TLS.

    Source: https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html
    (``aws:SecureTransport`` false denied), checked 2026-11-27.
    """
    arn = bucket_arn(account, bucket)
    return _statement(
        "DenyInsecureTransport",
        ("s3:*",),
        [arn, f"{arn}/*"],
        effect="Deny",
        principal={"AWS": "*"},
        condition={"Bool": {"aws:SecureTransport": "false"}},
    )


def bedrock_logging_bucket_statement(
    bucket: str, prefix: str, account: Account, region: str
) -> Statement:
    path = BEDROCK_LOG_OBJECT_PATH.format(account=account.account_id)
    key = f"{prefix.strip('/')}/{path}" if prefix.strip("/") else path
    return _statement(
        "BedrockWritesInvocationLogs",
        ("s3:PutObject",),
        [f"{bucket_arn(account, bucket)}/{key}"],
        principal={"Service": "bedrock.amazonaws.com"},
        condition={
            "StringEquals": {"aws:SourceAccount": account.account_id},
            "ArnLike": {"aws:SourceArn": account.arn("bedrock", region, "*")},
        },
    )


def cloudtrail_bucket_statements(bucket: str, account: Account, trail_arn: str) -> list[Statement]:
    """CloudTrail's ACL check and log delivery, bound to one trail.

    Source: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
    (checked 2026-11-27).
    """
    arn = bucket_arn(account, bucket)
    source = {"aws:SourceArn": trail_arn}
    return [
        _statement(
            "CloudTrailAclCheck",
            ("s3:GetBucketAcl",),
            [arn],
            principal={"Service": "cloudtrail.amazonaws.com"},
            condition={"StringEquals": source},
        ),
        _statement(
            "CloudTrailWrite",
            ("s3:PutObject",),
            [f"{arn}/AWSLogs/{account.account_id}/*"],
            principal={"Service": "cloudtrail.amazonaws.com"},
            condition={"StringEquals": {**source, "s3:x-amz-acl": "bucket-owner-full-control"}},
        ),
    ]


def bucket_policy(bucket: str, account: Account, statements: Iterable[Statement] = ()) -> Document:
    """A bucket policy that always starts by refusing non-TLS requests."""
    return document([tls_only_statement(bucket, account), *statements])


# --- BYOC: the vendor's permissions boundary and the recommended SCP ---------------------


def region_exempt_actions() -> tuple[str, ...]:
    """Actions a Region pin must leave alone: AWS's documented global services.

    The whole-service entries of AWS's Region-deny SCP example whose service is a global
    service (so kms, acm and waf-regional stay pinned), plus its single global actions.
    """
    kept = [
        action
        for action in AWS_REGION_DENY_SCP_NOT_ACTIONS
        if not action.endswith(":*") or action.split(":", 1)[0] in AWS_GLOBAL_SERVICES
    ]
    return tuple(sorted(kept))


def region_pin_statement(
    allowed_regions: Sequence[str], *, sid: str = "DenyOutsideRegions"
) -> Statement:
    if not allowed_regions:
        raise ValueError("allowed_regions is empty; expected at least one Region")
    return _statement(
        sid,
        region_exempt_actions(),
        "*",
        effect="Deny",
        not_action=True,
        condition={"StringNotEquals": {"aws:RequestedRegion": sorted(allowed_regions)}},
    )


@dataclass(frozen=True)
class ProtectedResources:
    """What the vendor must never change: its own role and boundary, the key, the trail."""

    vendor_role_arn: str
    boundary_arn: str
    key_arn: str
    trail_arn: str
    trail_bucket: str


@dataclass(frozen=True)
class VendorBoundary:
    """Inputs of the vendor role's permissions boundary."""

    allowed_regions: tuple[str, ...]
    allowed_services: tuple[str, ...]
    protected: ProtectedResources
    workload_role_path: str
    pass_role_services: tuple[str, ...]
    bedrock_targets: tuple[str, ...] = field(default=())
    bedrock_region: str = ""


def _protect_statements(protected: ProtectedResources, account: Account) -> list[Statement]:
    trail_bucket = bucket_arn(account, protected.trail_bucket)
    return [
        _statement(
            "ProtectVendorRoleAndBoundary",
            (
                "iam:Attach*",
                "iam:CreatePolicyVersion",
                "iam:Delete*",
                "iam:Detach*",
                "iam:Put*",
                "iam:SetDefaultPolicyVersion",
                "iam:Tag*",
                "iam:Untag*",
                "iam:Update*",
            ),
            [protected.vendor_role_arn, protected.boundary_arn],
            effect="Deny",
        ),
        _statement(
            "ProtectCustomerKey",
            (
                "kms:Delete*",
                "kms:Disable*",
                "kms:PutKeyPolicy",
                "kms:ScheduleKeyDeletion",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:Update*",
            ),
            [protected.key_arn],
            effect="Deny",
        ),
        _statement(
            "ProtectCustomerTrail",
            (
                "cloudtrail:AddTags",
                "cloudtrail:Delete*",
                "cloudtrail:Put*",
                "cloudtrail:RemoveTags",
                "cloudtrail:StopLogging",
                "cloudtrail:Update*",
            ),
            [protected.trail_arn],
            effect="Deny",
        ),
        _statement(
            "ProtectCustomerTrailBucket",
            ("s3:*",),
            [trail_bucket, f"{trail_bucket}/*"],
            effect="Deny",
        ),
    ]


def permissions_boundary(boundary: VendorBoundary, account: Account) -> Document:
    """The vendor role's permissions boundary.

    It allows the listed services (and, optionally, inference on the listed Bedrock
    models), and denies: any call outside the allowed Regions except to global services;
    changes to the vendor role, this boundary, the customer's key, trail and trail bucket;
    creating or changing roles without this same boundary, or outside the workload path;
    creating users or long-term credentials; and passing any role outside that path or to
    other services.
    Sources, checked 2026-11-27: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
    and https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    (``iam:PermissionsBoundary``, ``iam:PassedToService``).
    """
    forbidden = sorted(s for s in boundary.allowed_services if s in ("*", "bedrock"))
    if forbidden:
        raise ValueError(
            f"allowed_services may not contain {', '.join(forbidden)}; expected service "
            "prefixes such as 'ec2' (Bedrock inference is granted per model through "
            "bedrock_models)"
        )
    protected = boundary.protected
    workload_roles = account.arn("iam", "", f"role{boundary.workload_role_path}*")
    statements: list[Statement] = [
        _statement(
            "AllowedServices", tuple(f"{s}:*" for s in sorted(set(boundary.allowed_services))), "*"
        ),
    ]
    if boundary.bedrock_targets:
        statements += bedrock_invoke_statements(
            boundary.bedrock_targets, boundary.bedrock_region, account
        )
    statements += [
        region_pin_statement(boundary.allowed_regions),
        *_protect_statements(protected, account),
        _statement(
            "RequireThisBoundary",
            ("iam:CreateRole", "iam:PutRolePermissionsBoundary"),
            "*",
            effect="Deny",
            condition={"ArnNotEquals": {"iam:PermissionsBoundary": protected.boundary_arn}},
        ),
        _statement(
            "KeepBoundaries",
            ("iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"),
            "*",
            effect="Deny",
        ),
        _statement(
            "NoLongTermCredentials",
            ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreateUser"),
            "*",
            effect="Deny",
        ),
        _statement(
            "RolesOnlyOnWorkloadPath",
            ("iam:CreateRole",),
            [workload_roles],
            effect="Deny",
            not_resource=True,
        ),
        _statement(
            "PassOnlyWorkloadRoles",
            ("iam:PassRole",),
            [workload_roles],
            effect="Deny",
            not_resource=True,
        ),
        _statement(
            "PassOnlyToNamedServices",
            ("iam:PassRole",),
            "*",
            effect="Deny",
            condition={
                "StringNotEquals": {"iam:PassedToService": sorted(boundary.pass_role_services)}
            },
        ),
    ]
    return document(statements)


def recommended_scp(boundary: VendorBoundary, account: Account) -> Document:
    """A service control policy for the organisation's management account to attach.

    Defence in depth for the boundary, which the vendor cannot remove from its own role but
    an SCP also covers principals the boundary does not reach: Regions are pinned for the
    whole member account; the key, trail and trail bucket are protected from the vendor role
    and every role on the workload path (the customer's own administrators keep control);
    and the account cannot leave the organisation. Source: the Region-deny example of
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_examples_general.html
    and ``aws:PrincipalArn`` in
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    (checked 2026-11-27).
    """
    vendor_principals = sorted(
        {
            boundary.protected.vendor_role_arn,
            account.arn("iam", "", f"role{boundary.workload_role_path}*"),
        }
    )
    protect = [
        {**s, "Condition": {"ArnLike": {"aws:PrincipalArn": vendor_principals}}}
        for s in _protect_statements(boundary.protected, account)
        if s["Sid"] != "ProtectVendorRoleAndBoundary"
    ]
    return document(
        [
            region_pin_statement(boundary.allowed_regions),
            *protect,
            _statement(
                "StayInOrganisation", ("organizations:LeaveOrganization",), "*", effect="Deny"
            ),
        ]
    )
