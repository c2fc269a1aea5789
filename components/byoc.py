"""BYOC: a vendor operates the LLM stack inside the customer's account, within fences.

The customer keeps the keys, the logs and the boundaries. The shape creates:

- the vendor's IAM role, whose trust names the vendor's principal and requires the
  ``sts:ExternalId`` (a secret input; never empty) and, optionally, a source identity;
  sessions last one hour by default;
- a permissions boundary on that role: calls outside the allowed Regions are denied except
  to AWS's global services; the vendor role, the boundary, the customer's key, trail and
  trail bucket cannot be changed; every role the vendor creates must carry the same
  boundary and live on the workload path; only those roles may be passed, and only to the
  named services; users and long-term credentials cannot be created;
- a customer-managed KMS key with rotation, which the vendor may use only through the named
  AWS services (``kms:ViaService``);
- a multi-Region CloudTrail trail with log-file validation, writing to a customer-owned
  bucket with Object Lock, SSE-KMS, public access blocked and TLS-only access;
- optionally, a dedicated private VPC with flow logs;
- a recommended service control policy (output ``scp``) for the organisation's management
  account to attach.

Residency is checked before anything is created: the home Region and every allowed Region
must be in the zone, and so must every Bedrock model the boundary lets the vendor invoke.
"""

from __future__ import annotations

import re
from typing import Final, Literal

import pulumi
import pulumi_aws as aws
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from components import aws_blocks as blocks
from components import aws_iam_documents as docs
from components.common import OFFLINE_SECRET, Placement, Role, ShapeContext

SHAPE: Final = "byoc"

# The pack's policy that refuses a vendor boundary pinning Regions outside the zone.
POLICY_BOUNDARY_REGIONS: Final = "aws-iam-boundary-pins-regions"

# Services the vendor may use by default: what an LLM stack on EKS or EC2 needs. Bedrock is
# never granted as a whole service; models are granted one by one (bedrock_models).
DEFAULT_SERVICES: Final = (
    "autoscaling",
    "cloudwatch",
    "ec2",
    "ecr",
    "eks",
    "elasticloadbalancing",
    "iam",
    "logs",
    "s3",
    "secretsmanager",
    "ssm",
    "sts",
)
# Services through which the vendor may use the customer's key (kms:ViaService).
DEFAULT_KEY_SERVICES: Final = ("ec2", "eks", "s3", "secretsmanager")
# Services the vendor may pass workload roles to (iam:PassedToService).
DEFAULT_PASS_ROLE_SERVICES: Final = (
    "ec2.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "eks.amazonaws.com",
)

# The external id: 2-1224 characters of [\w+=,.@:/-]. Source (AssumeRole "ExternalId"):
# https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (checked 2026-11-27).
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")
_PATH = re.compile(r"^/([\w+=,.@-]+/)+$")
_IAM_NAME_MAX = 64


class Vendor(BaseModel):
    """Who the vendor is and how it proves it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    principal_arn: str = Field(
        description="the vendor's AWS principal: arn:aws:iam::<vendor account>:root, or a "
        "role or user ARN in the vendor's account"
    )
    external_id: SecretStr = Field(
        description="the secret the vendor presents as sts:ExternalId; set it with "
        "`pulumi config set --secret --path gatehouse:byoc.vendor.external_id`"
    )
    source_identity: str | None = Field(
        None,
        pattern=r"^[\w+=,.@-]{2,64}$",
        description="require the vendor to set this source identity (kept on the session "
        "and in CloudTrail); default: not required",
    )
    max_session_seconds: int = Field(
        3600, ge=900, le=43200, description="maximum session of the vendor role; default: 3600"
    )

    @field_validator("principal_arn")
    @classmethod
    def _principal(cls, value: str) -> str:
        if not _PRINCIPAL.match(value):
            raise ValueError(
                f"got {value!r}; expected arn:aws:iam::<12-digit account>:root, or a role or "
                "user ARN"
            )
        return value


class DedicatedVpc(BaseModel):
    """A private VPC for the vendor's workloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cidr: str = Field("10.70.0.0/16", description="default: '10.70.0.0/16'")
    availability_zones: list[str] = Field(
        default_factory=list,
        description="one private subnet per zone; default: '<region>a' and '<region>b'",
    )


class ByocArgs(blocks.AwsShapeArgs):
    """Settings of the BYOC shape (``gatehouse:byoc``)."""

    region: str = Field(
        description="home Region of the key, the trail, its bucket and the VPC, e.g. "
        "'eu-west-1'; it must be inside the environment's zone"
    )
    allowed_regions: list[str] = Field(
        default_factory=list,
        description="Regions the vendor may call (the boundary denies all others except "
        "global services); each must be in the zone; default: only `region`",
    )
    vendor: Vendor
    allowed_services: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SERVICES),
        description="IAM service prefixes the boundary allows; default: "
        f"{', '.join(DEFAULT_SERVICES)}. 'bedrock' and '*' are refused (use bedrock_models)",
    )
    bedrock_models: list[str] = Field(
        default_factory=list,
        description="Bedrock models or geographic inference profiles the vendor may invoke "
        "from `region` (each must process inside the zone); default: none",
    )
    key_services: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEY_SERVICES),
        description="services through which the vendor may use the customer's key; default: "
        f"{', '.join(DEFAULT_KEY_SERVICES)}",
    )
    pass_role_services: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PASS_ROLE_SERVICES),
        description="service principals the vendor may pass workload roles to; default: "
        f"{', '.join(DEFAULT_PASS_ROLE_SERVICES)}",
    )
    workload_role_path: str = Field(
        "/gatehouse-byoc/",
        description="IAM path the vendor's own roles must live on; default: '/gatehouse-byoc/'",
    )
    vendor_policy_arns: list[str] = Field(
        default_factory=list,
        description="managed policies attached to the vendor role (the boundary caps them); "
        "default: none",
    )
    account_id: str | None = Field(
        None,
        description="12-digit id of the customer's account; pins every policy document to "
        "it; default: the account of the deployment's credentials",
    )
    log_retention_days: int = Field(
        365, description="retention of trail objects and flow logs, in days; default: 365"
    )
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        "COMPLIANCE",
        description="Object Lock mode of the trail bucket; default: 'COMPLIANCE' (nobody, root "
        "included, can delete or shorten the retention)",
    )
    object_lock_days: int = Field(
        365, ge=1, description="default retention of trail objects, in days; default: 365"
    )
    vpc: DedicatedVpc | None = Field(None, description="default: no VPC is created")
    tags: dict[str, str] = Field(default_factory=dict, description="extra tags")

    @field_validator("allowed_regions", "bedrock_models", "key_services", "pass_role_services")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return blocks.check_unique(value)

    @field_validator("allowed_services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        blocks.check_unique(value)
        refused = sorted(s for s in value if s in ("*", "bedrock"))
        if refused:
            raise ValueError(
                f"got {', '.join(refused)}; expected IAM service prefixes other than '*' and "
                "'bedrock' (Bedrock inference is granted per model through bedrock_models)"
            )
        bad = [s for s in value if not _SERVICE.match(s)]
        if bad:
            raise ValueError(f"got {bad!r}; expected IAM service prefixes such as 'ec2'")
        if not value:
            raise ValueError("is empty; expected at least one service prefix")
        return value

    @field_validator("key_services")
    @classmethod
    def _key_services(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not _SERVICE.match(s)]
        if bad or not value:
            raise ValueError(f"got {value!r}; expected service names such as 'ec2' or 's3'")
        return value

    @field_validator("pass_role_services")
    @classmethod
    def _pass_role(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not _SERVICE_PRINCIPAL.match(s)]
        if bad or not value:
            raise ValueError(
                f"got {value!r}; expected service principals such as 'ec2.amazonaws.com'"
            )
        return value

    @field_validator("workload_role_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PATH.match(value):
            raise ValueError(f"got {value!r}; expected an IAM path such as '/gatehouse-byoc/'")
        return value

    @field_validator("vendor_policy_arns")
    @classmethod
    def _policies(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _POLICY_ARN.match(v)]
        if bad:
            raise ValueError(f"got {bad!r}; expected managed policy ARNs")
        return blocks.check_unique(value)

    @model_validator(mode="after")
    def _consistent(self) -> ByocArgs:
        if self.allowed_regions and self.region not in self.allowed_regions:
            raise ValueError(
                f"allowed_regions {self.allowed_regions!r} leave out region {self.region!r}; "
                "expected the home Region among them"
            )
        if self.object_lock_days > self.log_retention_days:
            raise ValueError(
                f"object_lock_days ({self.object_lock_days}) exceeds log_retention_days "
                f"({self.log_retention_days}); expected objects to expire after their lock"
            )
        if self.vpc is not None:
            wrong = [z for z in self.vpc.availability_zones if not z.startswith(self.region)]
            if wrong:
                raise ValueError(f"vpc.availability_zones {wrong!r} are not in {self.region!r}")
        return self

    def regions(self) -> list[str]:
        return self.allowed_regions or [self.region]


def check_external_id(external_id: SecretStr) -> None:
    """The external id's format, checked here and not by pydantic, whose errors would echo it."""
    secret = external_id.get_secret_value()
    if secret != OFFLINE_SECRET and not _EXTERNAL_ID.match(secret):
        raise ValueError(
            "vendor.external_id: expected 2-1224 characters of letters, digits and +=,.@:/-_ "
            f"(got {len(secret)} characters; the value is secret and not shown)"
        )


def validate(args: ByocArgs, ctx: ShapeContext) -> Placement:
    """Check the external id and residency before anything is created.

    Raises ``ValueError`` for a malformed external id and ``ResidencyViolation`` for a
    Region or model outside the zone.
    """
    check_external_id(args.vendor.external_id)
    placement = blocks.place(args.region, ctx)
    for index, region in enumerate(args.allowed_regions):
        blocks.place(region, ctx, f"allowed_regions[{index}]", POLICY_BOUNDARY_REGIONS)
    for index, model in enumerate(args.bedrock_models):
        blocks.place_model(model, args.region, ctx, f"bedrock_models[{index}]")
    return placement


class Byoc(pulumi.ComponentResource):
    """The BYOC shape; see the module docstring for what it creates.

    Outputs: ``vendor_role_arn``, ``boundary_arn``, ``key_arn``, ``trail_arn``,
    ``trail_bucket`` and ``scp`` (the recommended service control policy, JSON).
    """

    vendor_role_arn: pulumi.Output[str]
    boundary_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    trail_arn: pulumi.Output[str]
    trail_bucket: pulumi.Output[str]
    scp: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: ByocArgs,
        ctx: ShapeContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        placement = validate(args, ctx)
        prefix = f"gatehouse-{ctx.environment}-{name}"
        self._names = {
            "role": f"{prefix}-vendor",
            "boundary": f"{prefix}-vendor-boundary",
            "trail": prefix,
        }
        too_long = {k: v for k, v in self._names.items() if len(v) > _IAM_NAME_MAX}
        if too_long:
            raise ValueError(
                f"names {too_long} exceed {_IAM_NAME_MAX} characters; expected a shorter "
                "environment or component name"
            )
        super().__init__("gatehouse:components:Byoc", name, None, opts)
        self._name = name
        self._args = args
        self._ctx = ctx
        self._placement = placement
        self._child = pulumi.ResourceOptions(parent=self)
        self._account = blocks.account_identity(args.account_id)
        self._path = "/gatehouse/"

        self.vendor_role_arn = self._account.apply(
            lambda a: a.arn("iam", "", f"role{self._path}{self._names['role']}")
        )
        self.boundary_arn = self._account.apply(
            lambda a: a.arn("iam", "", f"policy{self._path}{self._names['boundary']}")
        )
        self.trail_arn = self._account.apply(
            lambda a: a.arn("cloudtrail", placement.region, f"trail/{self._names['trail']}")
        )

        key = self._key()
        self.key_arn = key.arn
        trail_bucket = self._trail(key)
        self.trail_bucket = trail_bucket.bucket.bucket
        boundary = self._boundary(key)
        self._vendor_role(boundary)
        if args.vpc is not None:
            self._network(args.vpc, key)
        self.scp = pulumi.Output.all(self._account, key.arn, trail_bucket.bucket.bucket).apply(
            lambda v: docs.to_json(
                docs.recommended_scp(self._vendor_boundary(v[0], v[1], v[2]), v[0])
            )
        )
        self.register_outputs(
            {
                "vendor_role_arn": self.vendor_role_arn,
                "boundary_arn": self.boundary_arn,
                "key_arn": self.key_arn,
                "trail_arn": self.trail_arn,
                "trail_bucket": self.trail_bucket,
                "scp": self.scp,
            }
        )

    # --- helpers -------------------------------------------------------------------------

    def _tags(self, role: Role) -> dict[str, str]:
        return self._ctx.tags_for(
            region=self._placement.region,
            jurisdiction=self._placement.jurisdiction,
            role=role,
            shape=SHAPE,
            own=self._args.tags,
        )

    def _key(self) -> aws.kms.Key:
        region = self._placement.region
        services = list(self._args.key_services)
        statements = pulumi.Output.all(self._account, self.trail_arn, self.vendor_role_arn)
        return blocks.kms_key(
            f"{self._name}-key",
            region=region,
            description=f"Gatehouse {self._ctx.environment} {self._name}: customer key of the "
            "vendor-operated stack and its audit trail",
            policy=statements.apply(
                lambda v: docs.to_json(
                    docs.key_policy(
                        v[0],
                        [
                            docs.key_use_by_logs_statement(v[0], region),
                            *docs.key_use_by_cloudtrail_statements(v[0], v[1]),
                            *docs.key_use_via_services_statements(v[2], services, region),
                        ],
                    )
                )
            ),
            tags=self._tags(Role.KEYS),
            opts=self._child,
        )

    def _trail(self, key: aws.kms.Key) -> blocks.SecureBucket:
        args, region = self._args, self._placement.region
        trail_name = self._names["trail"]
        bucket = blocks.secure_bucket(
            f"{self._name}-trail",
            region=region,
            key_arn=key.arn,
            account=self._account,
            statements=lambda bucket_name, a: docs.cloudtrail_bucket_statements(
                bucket_name, a, a.arn("cloudtrail", region, f"trail/{trail_name}")
            ),
            retention_days=args.log_retention_days,
            object_lock=blocks.ObjectLock(mode=args.object_lock_mode, days=args.object_lock_days),
            tags=self._tags(Role.LOGS),
            opts=self._child,
        )
        aws.cloudtrail.Trail(
            f"{self._name}-trail",
            name=trail_name,
            s3_bucket_name=bucket.bucket.bucket,
            kms_key_id=key.arn,
            enable_log_file_validation=True,
            enable_logging=True,
            is_multi_region_trail=True,
            include_global_service_events=True,
            region=region,
            tags=self._tags(Role.LOGS),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket.policy, key]),
        )
        return bucket

    def _vendor_boundary(
        self, account: docs.Account, key_arn: str, trail_bucket: str
    ) -> docs.VendorBoundary:
        args = self._args
        return docs.VendorBoundary(
            allowed_regions=tuple(args.regions()),
            allowed_services=tuple(args.allowed_services),
            protected=docs.ProtectedResources(
                vendor_role_arn=account.arn("iam", "", f"role{self._path}{self._names['role']}"),
                boundary_arn=account.arn("iam", "", f"policy{self._path}{self._names['boundary']}"),
                key_arn=key_arn,
                trail_arn=account.arn(
                    "cloudtrail", self._placement.region, f"trail/{self._names['trail']}"
                ),
                trail_bucket=trail_bucket,
            ),
            workload_role_path=args.workload_role_path,
            pass_role_services=tuple(args.pass_role_services),
            bedrock_targets=tuple(args.bedrock_models),
            bedrock_region=self._placement.region,
        )

    def _boundary(self, key: aws.kms.Key) -> aws.iam.Policy:
        values = pulumi.Output.all(self._account, key.arn, self.trail_bucket)
        return aws.iam.Policy(
            f"{self._name}-vendor-boundary",
            name=self._names["boundary"],
            path=self._path,
            description="Gatehouse BYOC: the most the vendor may ever do in this account",
            policy=values.apply(
                lambda v: docs.to_json(
                    docs.permissions_boundary(self._vendor_boundary(v[0], v[1], v[2]), v[0])
                )
            ),
            tags=self._tags(Role.IDENTITY),
            opts=self._child,
        )

    def _vendor_role(self, boundary: aws.iam.Policy) -> aws.iam.Role:
        vendor = self._args.vendor
        trust = pulumi.Output.secret(vendor.external_id.get_secret_value()).apply(
            lambda external_id: docs.to_json(
                docs.vendor_trust_policy(vendor.principal_arn, external_id, vendor.source_identity)
            )
        )
        role = aws.iam.Role(
            f"{self._name}-vendor-role",
            name=self._names["role"],
            path=self._path,
            description="Gatehouse BYOC: the vendor's operator role",
            assume_role_policy=trust,
            max_session_duration=vendor.max_session_seconds,
            # The ARN is built from the policy's name so the role and the boundary (which
            # names the role) need not wait on each other's outputs.
            permissions_boundary=self.boundary_arn,
            # The vendor-operated stack runs under this role in the home Region: it is the
            # shape's compute, which the co-location policy pairs the trail and logs with.
            tags=self._tags(Role.COMPUTE),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[boundary]),
        )
        for index, policy_arn in enumerate(self._args.vendor_policy_arns):
            aws.iam.RolePolicyAttachment(
                f"{self._name}-vendor-policy-{index}",
                role=role.name,
                policy_arn=policy_arn,
                opts=self._child,
            )
        return role

    def _network(self, vpc: DedicatedVpc, key: aws.kms.Key) -> None:
        region = self._placement.region
        network = blocks.private_network(
            self._name,
            region=region,
            vpc_cidr=vpc.cidr,
            availability_zones=vpc.availability_zones or [f"{region}a", f"{region}b"],
            tags=self._tags,
            opts=self._child,
        )
        blocks.flow_logs(
            self._name,
            vpc_id=network.vpc_id,
            region=region,
            account=self._account,
            key_arn=key.arn,
            group_name=f"/gatehouse/{self._ctx.environment}/{self._name}/vpc-flow-logs",
            retention_days=self._args.log_retention_days,
            tags=self._tags,
            opts=self._child,
        )
