"""Amazon Bedrock over PrivateLink: regulated workloads reach Bedrock without the internet.

The shape creates, all in one Region:

- a VPC with private subnets only (no internet gateway, no NAT, no public IPs) and flow
  logs, unless an existing VPC and subnets are given (they get flow logs too);
- interface endpoints for ``bedrock-runtime`` and optionally ``bedrock``, ``sts``,
  ``logs``, ``kms`` and ``secretsmanager``, each with private DNS, behind a security group
  that admits HTTPS only from the gateway's security groups or CIDRs, and each with an
  endpoint policy in place of the default full-access one (``bedrock-runtime``'s admits
  only the configured models and inference profiles, for principals of this account);
- the gateway's IAM role (IRSA for an EKS OIDC provider, or ECS tasks, or EC2) allowed
  ``bedrock:InvokeModel`` and ``bedrock:InvokeModelWithResponseStream`` on explicit ARNs:
  a model in the Region, or an inference profile in the Region plus the model in each of
  the profile's destination Regions, reached only through that profile;
- model invocation logging to a CloudWatch log group and an S3 bucket in the Region, both
  encrypted with a customer-managed key with rotation, both with retention, the bucket
  blocking public access and refusing plain HTTP.

Residency is checked before anything is created (:func:`validate`): the Region must be in
the zone, and each model or profile must process only in the zone, judged from the
profile's destination Regions (an ``eu.`` profile called from Zurich may run in Zurich).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components import aws_blocks as blocks
from components import aws_iam_documents as docs
from components.common import (
    TAG_PREFIX,
    Placement,
    Price,
    Role,
    RouteDescriptor,
    ShapeContext,
)

SHAPE: Final = "bedrock_privatelink"
PROVIDER: Final = "bedrock"

# The pack's policy that refuses the same grants (policies/aws_iam.py).
POLICY_PROFILE: Final = blocks.POLICY_PROFILE

# Interface endpoint services ("Endpoint suffix" table) and their names,
# com.amazonaws.<region>.<suffix>. Sources, checked 2026-11-27:
# https://docs.aws.amazon.com/bedrock/latest/userguide/vpc-interface-endpoints.html and
# https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html
RUNTIME_ENDPOINT: Final = "bedrock-runtime"
OptionalEndpoint = Literal["bedrock", "sts", "logs", "kms", "secretsmanager"]

_SG_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_OIDC_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/.+$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class IrsaTrust(BaseModel):
    """The gateway runs on EKS as a Kubernetes service account (IAM roles for service accounts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["irsa"]
    oidc_provider_arn: str = Field(
        description="ARN of the cluster's IAM OIDC provider, "
        "arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>"
    )
    namespace: str = Field("gatehouse", description="default: 'gatehouse'")
    service_account: str = Field("gateway", description="default: 'gateway'")

    @field_validator("oidc_provider_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not _OIDC_ARN.match(value):
            raise ValueError(
                f"got {value!r}; expected arn:aws:iam::<account>:oidc-provider/<issuer>"
            )
        return value

    @field_validator("namespace", "service_account")
    @classmethod
    def _k8s_name(cls, value: str) -> str:
        if not _K8S_NAME.match(value):
            raise ValueError(f"got {value!r}; expected a Kubernetes name (RFC 1123 label)")
        return value


class EcsTrust(BaseModel):
    """The gateway runs as ECS tasks of this account, in the shape's Region."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["ecs"]


class Ec2Trust(BaseModel):
    """The gateway runs on EC2 instances (through an instance profile)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["ec2"]


GatewayTrust = Annotated[IrsaTrust | EcsTrust | Ec2Trust, Field(discriminator="kind")]


class BedrockPrivateLinkArgs(blocks.AwsShapeArgs):
    """Settings of the Bedrock-over-PrivateLink shape (``gatehouse:bedrock_privatelink``)."""

    region: str = Field(
        description="AWS Region of every regional resource and of the Bedrock calls, e.g. "
        "'eu-central-1'; it must be inside the environment's zone (and allowed_regions)"
    )
    models: list[str] = Field(
        min_length=1,
        description="model ids ('amazon.nova-pro-v1:0') or geographic inference profile ids "
        "('eu.anthropic.claude-sonnet-4-5-20250929-v1:0') the gateway may invoke; a profile "
        "must be in the reviewed snapshot and every destination Region of it, for calls from "
        "`region`, must be in the zone. 'global.' profiles are refused",
    )
    gateway_trust: GatewayTrust = Field(
        description="who assumes the gateway role: {kind: irsa, oidc_provider_arn, namespace, "
        "service_account}, {kind: ecs} or {kind: ec2}"
    )
    client_security_group_ids: list[str] = Field(
        default_factory=list,
        description="security groups of the gateway, admitted on 443 to the endpoints",
    )
    client_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDR blocks admitted on 443 to the endpoints (never 0.0.0.0/0 or ::/0); "
        "at least one of client_security_group_ids and client_cidrs is required",
    )
    vpc_id: str | None = Field(
        None,
        description="existing VPC for the endpoints; default: a new VPC with private "
        "subnets only is created",
    )
    subnet_ids: list[str] = Field(
        default_factory=list,
        description="existing subnets (in vpc_id) for the endpoints; required with vpc_id",
    )
    vpc_cidr: str = Field(
        "10.60.0.0/16", description="CIDR of the new VPC; default: '10.60.0.0/16'"
    )
    availability_zones: list[str] = Field(
        default_factory=list,
        description="zones of the new VPC's subnets (one subnet each); default: "
        "'<region>a' and '<region>b'",
    )
    extra_endpoints: list[OptionalEndpoint] = Field(
        default_factory=list,
        description="further interface endpoints: bedrock, sts, logs, kms, secretsmanager; "
        "default: none (bedrock-runtime is always created)",
    )
    account_id: str | None = Field(
        None,
        description="12-digit id of the AWS account the environment deploys into; pins every "
        "policy document to it; default: the account of the deployment's credentials",
    )
    kms_key_id: str | None = Field(
        None,
        description="ARN of an existing customer-managed key in `region` for the logs (its "
        "policy must let CloudWatch Logs and Bedrock use it); default: a new key with "
        "yearly rotation is created",
    )
    log_retention_days: int = Field(
        365,
        description="retention of invocation logs and flow logs (log groups and bucket "
        "objects), in days; default: 365",
    )
    log_text_data: bool = Field(True, description="log prompts and completions; default: on")
    log_image_data: bool = Field(False, description="log image inputs/outputs; default: off")
    log_embedding_data: bool = Field(False, description="log embeddings; default: off")
    invocation_log_prefix: str = Field(
        "bedrock", pattern=r"^[a-zA-Z0-9!_.*'()/-]{1,64}$", description="default: 'bedrock'"
    )
    gateway_max_session_seconds: int = Field(
        3600, ge=900, le=43200, description="maximum session of the gateway role; default: 3600"
    )
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description="per-model prices for the route descriptors (keys are entries of models)",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="extra tags on every taggable resource, over the environment's tags; "
        f"keys starting with '{TAG_PREFIX}' are reserved",
    )

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[str]) -> list[str]:
        return blocks.check_unique(value)

    @field_validator("client_security_group_ids")
    @classmethod
    def _sgs(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _SG_ID.match(v)]
        if bad:
            raise ValueError(f"got {bad!r}; expected security group ids such as 'sg-0a1b2c3d'")
        return value

    @field_validator("client_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(
                    f"got {cidr!r}; expected a CIDR block such as '10.0.0.0/16'"
                ) from None
            if network.prefixlen == 0:
                raise ValueError(
                    f"got {cidr!r}, which admits the whole internet; expected the gateway's "
                    "own CIDR blocks"
                )
        return value

    @field_validator("vpc_id")
    @classmethod
    def _vpc(cls, value: str | None) -> str | None:
        if value is not None and not _VPC_ID.match(value):
            raise ValueError(f"got {value!r}; expected a VPC id such as 'vpc-0a1b2c3d'")
        return value

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _SUBNET_ID.match(v)]
        if bad:
            raise ValueError(f"got {bad!r}; expected subnet ids such as 'subnet-0a1b2c3d'")
        return value

    @field_validator("extra_endpoints")
    @classmethod
    def _unique_endpoints(cls, value: list[str]) -> list[str]:
        return blocks.check_unique(value)

    @field_validator("kms_key_id")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return blocks.check_key_arn(value)

    @model_validator(mode="after")
    def _consistent(self) -> BedrockPrivateLinkArgs:
        if not self.client_security_group_ids and not self.client_cidrs:
            raise ValueError(
                "no client is admitted to the endpoints; expected client_security_group_ids "
                "or client_cidrs (the gateway's security groups or CIDR blocks)"
            )
        if (self.vpc_id is None) != (not self.subnet_ids):
            raise ValueError(
                "vpc_id and subnet_ids go together: give both to use an existing VPC, or "
                "neither to create a private one"
            )
        if self.vpc_id is not None and self.availability_zones:
            raise ValueError("availability_zones applies to a new VPC only, not with vpc_id")
        wrong = [z for z in self.availability_zones if not z.startswith(self.region)]
        if wrong:
            raise ValueError(
                f"availability_zones {wrong!r} are not in region {self.region!r}; expected "
                f"zones such as '{self.region}a'"
            )
        unknown = sorted(set(self.prices) - set(self.models))
        if unknown:
            raise ValueError(f"prices names models not in models: {', '.join(unknown)}")
        if self.kms_key_id is not None and blocks.key_region(self.kms_key_id) != self.region:
            raise ValueError(
                f"kms_key_id is in {blocks.key_region(self.kms_key_id)!r}; expected a key in "
                f"region {self.region!r} (logs must be encrypted in their own Region)"
            )
        return self

    def zones(self) -> list[str]:
        return self.availability_zones or [f"{self.region}a", f"{self.region}b"]


@dataclass(frozen=True)
class ModelPlacement(Placement):
    """Where the shape lands, and where each model or profile may process requests."""

    model_jurisdictions: dict[str, frozenset[str]]


def validate(args: BedrockPrivateLinkArgs, ctx: ShapeContext) -> ModelPlacement:
    """Check residency before anything is created; raise :class:`ResidencyViolation`."""
    where = blocks.place(args.region, ctx)
    found: dict[str, frozenset[str]] = {}
    for index, model in enumerate(args.models):
        found[model] = blocks.place_model(model, args.region, ctx, f"models[{index}]")
    return ModelPlacement(where.region, where.jurisdiction, found)


def _service_endpoint_policy(endpoint: str, account: docs.Account) -> docs.Document:
    return docs.service_endpoint_policy(endpoint, account)


def route_jurisdiction(jurisdictions: frozenset[str]) -> str:
    """One label for the gateway: the jurisdiction, or all of them joined with '+'."""
    return "+".join(sorted(jurisdictions))


class BedrockPrivateLink(pulumi.ComponentResource):
    """The Bedrock-over-PrivateLink shape; see the module docstring for what it creates.

    Outputs: ``routes`` (one route descriptor per model, as dictionaries the gateway config
    accepts), ``role_arn`` (the gateway role), ``endpoint`` (the Bedrock runtime URL, which
    private DNS resolves to the interface endpoint) and ``endpoint_dns`` (the endpoint's
    own DNS names).
    """

    routes: pulumi.Output[list[dict[str, Any]]]
    role_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    endpoint_dns: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: BedrockPrivateLinkArgs,
        ctx: ShapeContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        placement = validate(args, ctx)
        super().__init__("gatehouse:components:BedrockPrivateLink", name, None, opts)
        self._name = name
        self._args = args
        self._ctx = ctx
        self._placement = placement
        self._child = pulumi.ResourceOptions(parent=self)
        self._account = blocks.account_identity(args.account_id)
        region = placement.region

        key_arn = self._key()
        vpc_id, subnet_ids = self._network(key_arn)
        runtime = self._endpoints(vpc_id, subnet_ids)
        role = self._gateway_role()
        self._invocation_logging(key_arn)

        self.role_arn = role.arn
        self.endpoint = pulumi.Output.from_input(
            f"https://{RUNTIME_ENDPOINT}.{region}.amazonaws.com"
        )
        self.endpoint_dns = runtime.dns_entries.apply(
            lambda entries: [e.dns_name for e in entries or [] if e.dns_name]
        )
        self.route_descriptors = self._describe_routes()
        self.routes = pulumi.Output.from_input([r.as_dict() for r in self.route_descriptors])
        self.register_outputs(
            {
                "routes": self.routes,
                "role_arn": self.role_arn,
                "endpoint": self.endpoint,
                "endpoint_dns": self.endpoint_dns,
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

    def _log_group_name(self, what: str) -> str:
        return f"/gatehouse/{self._ctx.environment}/{self._name}/{what}"

    def _key(self) -> pulumi.Input[str]:
        if self._args.kms_key_id is not None:
            return self._args.kms_key_id
        region = self._placement.region
        key = blocks.kms_key(
            f"{self._name}-logs-key",
            region=region,
            description=f"Gatehouse {self._ctx.environment} {self._name}: Bedrock invocation "
            "logs and VPC flow logs",
            policy=blocks.json_document(
                self._account,
                lambda a: docs.key_policy(
                    a,
                    [
                        docs.key_use_by_logs_statement(a, region),
                        docs.key_use_by_bedrock_logging_statement(a, region),
                    ],
                ),
            ),
            tags=self._tags(Role.KEYS),
            opts=self._child,
        )
        arn: pulumi.Output[str] = key.arn
        return arn

    def _network(
        self, key_arn: pulumi.Input[str]
    ) -> tuple[pulumi.Input[str], list[pulumi.Input[str]]]:
        args = self._args
        vpc_id: pulumi.Input[str]
        subnet_ids: list[pulumi.Input[str]]
        if args.vpc_id is not None:
            vpc_id, subnet_ids = args.vpc_id, list(args.subnet_ids)
        else:
            network = blocks.private_network(
                self._name,
                region=self._placement.region,
                vpc_cidr=args.vpc_cidr,
                availability_zones=args.zones(),
                tags=self._tags,
                opts=self._child,
            )
            vpc_id, subnet_ids = network.vpc_id, list(network.subnet_ids)
        blocks.flow_logs(
            self._name,
            vpc_id=vpc_id,
            region=self._placement.region,
            account=self._account,
            key_arn=key_arn,
            group_name=self._log_group_name("vpc-flow-logs"),
            retention_days=args.log_retention_days,
            tags=self._tags,
            opts=self._child,
        )
        return vpc_id, subnet_ids

    def _endpoints(
        self, vpc_id: pulumi.Input[str], subnet_ids: list[pulumi.Input[str]]
    ) -> aws.ec2.VpcEndpoint:
        args, region = self._args, self._placement.region
        ingress: list[aws.ec2.SecurityGroupIngressArgs] = []
        if args.client_security_group_ids:
            ingress.append(
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the gateway's security groups",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    security_groups=list(args.client_security_group_ids),
                )
            )
        v4 = [c for c in args.client_cidrs if ":" not in c]
        v6 = [c for c in args.client_cidrs if ":" in c]
        if v4 or v6:
            ingress.append(
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the gateway's networks",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=v4,
                    ipv6_cidr_blocks=v6,
                )
            )
        group = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg",
            description="Gatehouse: HTTPS to the interface endpoints from the gateway only",
            vpc_id=vpc_id,
            ingress=ingress,
            egress=[],
            region=region,
            tags=self._tags(Role.NETWORK),
            opts=self._child,
        )
        models = list(args.models)
        policies: dict[str, pulumi.Output[str]] = {
            RUNTIME_ENDPOINT: blocks.json_document(
                self._account, lambda a: docs.bedrock_endpoint_policy(models, region, a)
            ),
        }
        for extra in args.extra_endpoints:
            policies[extra] = blocks.json_document(
                self._account, functools.partial(_service_endpoint_policy, extra)
            )
        created = {
            service: aws.ec2.VpcEndpoint(
                f"{self._name}-endpoint-{service}",
                vpc_id=vpc_id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=subnet_ids,
                security_group_ids=[group.id],
                policy=policy,
                region=region,
                tags=self._tags(
                    Role.MODEL_ENDPOINT if service == RUNTIME_ENDPOINT else Role.NETWORK
                ),
                opts=self._child,
            )
            for service, policy in policies.items()
        }
        return created[RUNTIME_ENDPOINT]

    def _gateway_role(self) -> aws.iam.Role:
        args, region = self._args, self._placement.region
        trust = args.gateway_trust

        def trust_policy(account: docs.Account) -> docs.Document:
            if isinstance(trust, IrsaTrust):
                return docs.irsa_trust_policy(
                    trust.oidc_provider_arn, trust.namespace, trust.service_account
                )
            if isinstance(trust, EcsTrust):
                return docs.ecs_task_trust_policy(account, region)
            return docs.ec2_trust_policy()

        role = aws.iam.Role(
            f"{self._name}-gateway-role",
            description=f"Gatehouse gateway: Bedrock inference in {region}",
            assume_role_policy=blocks.json_document(self._account, trust_policy),
            max_session_duration=args.gateway_max_session_seconds,
            tags=self._tags(Role.IDENTITY),
            opts=self._child,
        )
        models = list(args.models)
        aws.iam.RolePolicy(
            f"{self._name}-gateway-invoke",
            role=role.name,
            policy=blocks.json_document(
                self._account, lambda a: docs.bedrock_invoke_policy(models, region, a)
            ),
            opts=self._child,
        )
        return role

    def _invocation_logging(self, key_arn: pulumi.Input[str]) -> None:
        args, region = self._args, self._placement.region
        group_name = self._log_group_name("bedrock-invocations")
        group = blocks.log_group(
            f"{self._name}-invocation-logs",
            group_name=group_name,
            region=region,
            retention_days=args.log_retention_days,
            key_arn=key_arn,
            tags=self._tags(Role.LOGS),
            opts=self._child,
        )
        prefix = args.invocation_log_prefix
        logs = blocks.secure_bucket(
            f"{self._name}-invocations",
            region=region,
            key_arn=key_arn,
            account=self._account,
            statements=lambda bucket_name, a: [
                docs.bedrock_logging_bucket_statement(bucket_name, prefix, a, region)
            ],
            retention_days=args.log_retention_days,
            tags=self._tags(Role.LOGS),
            opts=self._child,
        )
        role = aws.iam.Role(
            f"{self._name}-logging-role",
            description="Bedrock model invocation logging to CloudWatch Logs",
            assume_role_policy=blocks.json_document(
                self._account,
                lambda a: docs.service_trust_policy(
                    "bedrock.amazonaws.com", a, a.arn("bedrock", region, "*"), sid="Bedrock"
                ),
            ),
            max_session_duration=3600,
            tags=self._tags(Role.IDENTITY),
            opts=self._child,
        )
        delivery = aws.iam.RolePolicy(
            f"{self._name}-logging-delivery",
            role=role.name,
            policy=blocks.json_document(
                self._account, lambda a: docs.bedrock_log_delivery_policy(a, region, group_name)
            ),
            opts=self._child,
        )
        aws.bedrockmodel.InvocationLoggingConfiguration(
            f"{self._name}-invocation-logging",
            logging_config={
                "cloudwatch_config": {"log_group_name": group_name, "role_arn": role.arn},
                "s3_config": {"bucket_name": logs.bucket.bucket, "key_prefix": prefix},
                "text_data_delivery_enabled": args.log_text_data,
                "image_data_delivery_enabled": args.log_image_data,
                "embedding_data_delivery_enabled": args.log_embedding_data,
                "video_data_delivery_enabled": False,
            },
            region=region,
            # Bedrock checks at configuration time that it can write to both destinations.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[group, delivery, logs.policy]),
        )

    def _describe_routes(self) -> list[RouteDescriptor]:
        placement = self._placement
        return [
            RouteDescriptor(
                provider=PROVIDER,
                model=model,
                region=placement.region,
                jurisdiction=route_jurisdiction(placement.model_jurisdictions[model]),
                # The gateway calls the public runtime hostname, which private DNS resolves
                # to the interface endpoint; it needs only the model (or profile) id.
                settings={"model": model},
                price=self._args.prices.get(model),
            )
            for model in self._args.models
        ]
