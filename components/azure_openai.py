"""EU-regional Azure OpenAI: a private, keyless Cognitive Services account and its deployments.

The shape creates (or reuses) a resource group and places in it, all in one region:

- a Cognitive Services account of kind ``OpenAI`` with a custom subdomain, public network
  access disabled, local (key) auth disabled, outbound access restricted, network ACLs
  denying by default, a system-assigned identity and an optional customer-managed key;
- a private endpoint (group ``account``) in the given subnet, the private DNS zones
  ``privatelink.openai.azure.com`` and ``privatelink.cognitiveservices.azure.com`` linked to
  the given VNets, and a DNS zone group on the endpoint;
- the model deployments, created one after the other (the service rejects parallel
  deployment writes on one account);
- the role "Cognitive Services OpenAI User" for the gateway's principal;
- diagnostic settings sending every log category (``allLogs``, which includes ``Audit``)
  and all metrics to a Log Analytics workspace in the same region.

Residency is checked before anything is created (:func:`validate`): the region must be in
the environment's zone and every deployment SKU must keep processing inside it.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

import pulumi
from pulumi_azure_native import (
    authorization,
    cognitiveservices,
    monitor,
    network,
    operationalinsights,
    privatedns,
    resources,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.common import (
    TAG_PREFIX,
    Placement,
    ResidencyViolation,
    Role,
    RouteDescriptor,
    ShapeArgs,
    ShapeContext,
    check_own_tags,
)
from components.residency import (
    AZURE_OPENAI_SKU_SCOPE,
    AzureDataZoneError,
    UnknownRegionError,
    azure_sku_jurisdictions,
    jurisdiction_of,
    normalize_azure_location,
)

SHAPE: Final = "azure_openai"
PROVIDER: Final = "azure_openai"

# Names of the pack's policies that refuse the same resources (see policies/azure_residency.py).
POLICY_LOCATION: Final = "azure-resource-location-in-zone"
POLICY_DEPLOYMENT_SKU: Final = "azure-cognitiveservices-deployment-sku-in-zone"

# "Cognitive Services OpenAI User": inference and read access to deployments, no key access.
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning#cognitive-services-openai-user
OPENAI_USER_ROLE_ID: Final = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"

# Latest GA data-plane inference api-version ("API specs" table):
# https://learn.microsoft.com/azure/ai-services/openai/reference#api-specs
DEFAULT_API_VERSION: Final = "2024-10-21"

# Private DNS zones for the ``account`` sub-resource of Microsoft.CognitiveServices/accounts
# (kind OpenAI resolves through the first, the shared AI services name through the second):
# https://learn.microsoft.com/azure/private-link/private-endpoint-dns#ai--machine-learning
PRIVATE_DNS_ZONES: Final = (
    "privatelink.openai.azure.com",
    "privatelink.cognitiveservices.azure.com",
)
PRIVATE_LINK_GROUP: Final = "account"

# Private DNS zones and their VNet links are global resources; their location must be "global".
# https://learn.microsoft.com/azure/dns/private-dns-privatednszone
GLOBAL_LOCATION: Final = "global"

# Category groups for diagnostic settings: ``allLogs`` covers every category, ``audit`` included.
# https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings#category-groups
LOG_CATEGORY_GROUP: Final = "allLogs"
METRIC_CATEGORY: Final = "AllMetrics"

# Account names: 2-64 characters, ``^[a-zA-Z0-9][a-zA-Z0-9_.-]*$``:
# https://learn.microsoft.com/rest/api/aiservices/accountmanagement/accounts/create
_ACCOUNT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$")
# The custom subdomain becomes the DNS label ``<subdomain>.openai.azure.com``.
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])$")
# Deployment names: letters, digits, '-', '_' and '.', up to 64 characters.
_DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$")
_RESOURCE_GROUP_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/(?P<name>[-\w._()]{1,90})$", re.IGNORECASE
)
_ARM_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/.+$", re.I)
_KEY_ID = re.compile(
    r"^(?P<vault>https://[a-z0-9-]+\.vault\.azure\.net)/keys/(?P<name>[a-zA-Z0-9-]{1,127})"
    r"(?:/(?P<version>[a-zA-Z0-9]{32}))?/?$"
)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _arm_id(field: str, value: str, provider_type: str | None = None) -> str:
    if not _ARM_ID.match(value):
        raise ValueError(
            f"{field} must be an Azure resource id (/subscriptions/<sub>/resourceGroups/<rg>/"
            f"providers/...), got {value!r}"
        )
    if provider_type and f"/providers/{provider_type.lower()}/" not in value.lower():
        raise ValueError(f"{field} must be the id of a {provider_type}, got {value!r}")
    return value


class ModelDeployment(BaseModel):
    """One model deployment on the account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="deployment name; clients call it as the 'model' parameter")
    model: str = Field(min_length=1, description="model name, e.g. 'gpt-4o'")
    model_version: str = Field(min_length=1, description="model version, e.g. '2024-11-20'")
    sku: str = Field(
        "Standard",
        description="deployment type; default: 'Standard' (regional processing). Data-zone "
        "SKUs need every jurisdiction of the data zone inside the environment's zone; Global "
        "SKUs and 'Developer' need the environment's explicit allow_global_processing",
    )
    capacity: int = Field(
        10,
        ge=1,
        description="capacity units (thousands of tokens per minute for Standard); default: 10",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _DEPLOYMENT_NAME.match(value):
            raise ValueError(
                f"deployment name {value!r} must be 1-64 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        if value not in AZURE_OPENAI_SKU_SCOPE:
            raise ValueError(
                f"unknown deployment SKU {value!r}; expected one of "
                f"{', '.join(sorted(AZURE_OPENAI_SKU_SCOPE))}"
            )
        return value


class CustomerManagedKey(BaseModel):
    """A Key Vault key that encrypts the account's data at rest, used through a user identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kms_key_id: str = Field(
        description="Key Vault key identifier, https://<vault>.vault.azure.net/keys/<name>"
        "[/<version>]; without a version the key's current version is used and rotations "
        "are picked up automatically"
    )
    identity_id: str = Field(
        description="resource id of the user-assigned identity that may wrap and unwrap the key"
    )
    identity_client_id: str = Field(description="client id (GUID) of that identity")

    @field_validator("kms_key_id")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY_ID.match(value):
            raise ValueError(
                "kms_key_id must be a Key Vault key identifier "
                f"(https://<vault>.vault.azure.net/keys/<name>[/<version>]), got {value!r}"
            )
        return value

    @field_validator("identity_id")
    @classmethod
    def _identity(cls, value: str) -> str:
        return _arm_id("identity_id", value, "Microsoft.ManagedIdentity")

    @field_validator("identity_client_id")
    @classmethod
    def _client(cls, value: str) -> str:
        if not _GUID.match(value):
            raise ValueError(f"identity_client_id must be a GUID, got {value!r}")
        return value

    def key_vault_properties(self) -> dict[str, str]:
        match = _KEY_ID.match(self.kms_key_id)
        assert match is not None  # validated above
        props = {
            "key_vault_uri": match["vault"] + "/",
            "key_name": match["name"],
            "identity_client_id": self.identity_client_id,
        }
        if match["version"]:
            props["key_version"] = match["version"]
        return props


class AzureOpenAIArgs(ShapeArgs):
    """Settings of the EU-regional Azure OpenAI shape (``gatehouse:azure_openai``)."""

    region: str = Field(
        description="Azure location of every regional resource, e.g. 'swedencentral'; it must "
        "be inside the environment's residency zone (and its allowed_regions, if any)"
    )
    resource_group_id: str | None = Field(
        None,
        description="id of an existing resource group to deploy into; default: a new resource "
        "group is created in `region`",
    )
    resource_group_name: str | None = Field(
        None,
        description="name of the new resource group; default: the component name plus a "
        "random suffix. Not allowed together with resource_group_id",
    )
    account_name: str | None = Field(
        None,
        description="name of the Cognitive Services account; default: "
        "'<business_unit>-<environment>-<component name>'",
    )
    custom_subdomain: str | None = Field(
        None,
        description="globally unique DNS label of the endpoint (<label>.openai.azure.com); "
        "default: the account name in lower case",
    )
    private_endpoint_subnet_id: str = Field(
        description="id of the subnet that receives the private endpoint (required: the "
        "account has no public network access)"
    )
    vnet_ids: list[str] = Field(
        min_length=1,
        description="ids of the VNets linked to the private DNS zones, so their clients "
        "resolve the endpoint to its private address (at least one)",
    )
    customer_managed_key: CustomerManagedKey | None = Field(
        None,
        description="customer-managed key for data at rest; default: Microsoft-managed keys",
    )
    log_analytics_workspace_id: str | None = Field(
        None,
        description="id of an existing Log Analytics workspace, which must be in `region`; "
        "default: a new workspace is created in `region`",
    )
    log_retention_days: int = Field(
        90,
        ge=30,
        le=730,
        description="retention of the new workspace, in days; default: 90",
    )
    gateway_principal_id: str | None = Field(
        None,
        description="object id of the gateway's identity, granted 'Cognitive Services OpenAI "
        "User' on the account; default: nobody is granted data-plane access",
    )
    gateway_principal_type: Literal["ServicePrincipal", "Group", "User"] = Field(
        "ServicePrincipal",
        description="kind of principal gateway_principal_id is; default: 'ServicePrincipal' "
        "(a managed identity or app registration)",
    )
    deployments: list[ModelDeployment] = Field(
        min_length=1, description="the model deployments (at least one)"
    )
    api_version: str = Field(
        DEFAULT_API_VERSION,
        pattern=r"^\d{4}-\d{2}-\d{2}(-preview)?$",
        description=f"data-plane api-version the gateway uses; default: '{DEFAULT_API_VERSION}'",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="extra tags on every taggable resource, over the environment's tags; "
        f"keys starting with '{TAG_PREFIX}' are reserved for the facts Gatehouse sets",
    )

    @field_validator("tags")
    @classmethod
    def _own_tags(cls, value: dict[str, str]) -> dict[str, str]:
        return check_own_tags(value)

    @field_validator("resource_group_id")
    @classmethod
    def _rg_id(cls, value: str | None) -> str | None:
        if value is not None and not _RESOURCE_GROUP_ID.match(value):
            raise ValueError(
                "resource_group_id must be /subscriptions/<sub>/resourceGroups/<name>, "
                f"got {value!r}"
            )
        return value

    @field_validator("account_name")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT_NAME.match(value):
            raise ValueError(
                f"account_name {value!r} must be 2-64 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("custom_subdomain")
    @classmethod
    def _subdomain(cls, value: str | None) -> str | None:
        if value is not None and not _SUBDOMAIN.match(value):
            raise ValueError(
                f"custom_subdomain {value!r} must be a DNS label: 2-64 lower-case letters, "
                "digits or '-', not starting or ending with '-'"
            )
        return value

    @field_validator("private_endpoint_subnet_id")
    @classmethod
    def _subnet(cls, value: str) -> str:
        _arm_id("private_endpoint_subnet_id", value, "Microsoft.Network")
        if "/subnets/" not in value.lower():
            raise ValueError(f"private_endpoint_subnet_id must be a subnet id, got {value!r}")
        return value

    @field_validator("vnet_ids")
    @classmethod
    def _vnets(cls, value: list[str]) -> list[str]:
        for index, vnet in enumerate(value):
            _arm_id(f"vnet_ids[{index}]", vnet, "Microsoft.Network")
            if "/virtualnetworks/" not in vnet.lower() or "/subnets/" in vnet.lower():
                raise ValueError(f"vnet_ids[{index}] must be a virtual network id, got {vnet!r}")
        if len({v.lower() for v in value}) != len(value):
            raise ValueError("vnet_ids must not repeat a virtual network")
        return value

    @field_validator("log_analytics_workspace_id")
    @classmethod
    def _workspace(cls, value: str | None) -> str | None:
        if value is not None:
            _arm_id("log_analytics_workspace_id", value, "Microsoft.OperationalInsights")
        return value

    @field_validator("gateway_principal_id")
    @classmethod
    def _principal(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.match(value):
            raise ValueError(f"gateway_principal_id must be an object id (GUID), got {value!r}")
        return value

    @field_validator("deployments")
    @classmethod
    def _unique_deployments(cls, value: list[ModelDeployment]) -> list[ModelDeployment]:
        names = [d.name for d in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"deployment names must be unique, repeated: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _one_resource_group(self) -> AzureOpenAIArgs:
        if self.resource_group_id is not None and self.resource_group_name is not None:
            raise ValueError(
                "give either resource_group_id (existing group) or resource_group_name "
                "(new group), not both"
            )
        return self


def validate(args: AzureOpenAIArgs, ctx: ShapeContext) -> Placement:
    """Check residency before anything is created; raise :class:`ResidencyViolation`.

    The region must be a known Azure location inside ``ctx.jurisdictions`` (and in
    ``ctx.allowed_regions`` when that is set). Every deployment SKU must keep processing
    inside the zone: regional SKUs follow the region, data-zone SKUs need all of the data
    zone's jurisdictions in the zone, and Global or Developer SKUs need
    ``ctx.allow_global_processing``.
    """
    region = normalize_azure_location(args.region)
    try:
        jurisdiction = jurisdiction_of("azure", region)
    except UnknownRegionError:
        raise ResidencyViolation(
            POLICY_LOCATION,
            "region",
            f"got {args.region!r}; expected a known Azure location name such as 'swedencentral'",
        ) from None
    allowed = sorted(ctx.jurisdictions)
    if jurisdiction not in ctx.jurisdictions:
        raise ResidencyViolation(
            POLICY_LOCATION,
            "region",
            f"got {args.region!r} (jurisdiction {jurisdiction!r}); expected a region in "
            f"jurisdictions {', '.join(allowed)}",
        )
    allowed_regions = {normalize_azure_location(r) for r in ctx.allowed_regions}
    if allowed_regions and region not in allowed_regions:
        raise ResidencyViolation(
            POLICY_LOCATION,
            "region",
            f"got {args.region!r}; expected one of the environment's allowed_regions "
            f"{', '.join(sorted(allowed_regions))}",
        )
    for index, deployment in enumerate(args.deployments):
        _check_sku(deployment, index, region, ctx)
    return Placement(region=region, jurisdiction=jurisdiction)


def _check_sku(deployment: ModelDeployment, index: int, region: str, ctx: ShapeContext) -> None:
    field_path = f"deployments[{index}].sku"
    scope = AZURE_OPENAI_SKU_SCOPE[deployment.sku]
    try:
        processed_in = azure_sku_jurisdictions(deployment.sku, region)
    except AzureDataZoneError as exc:  # no data zone to deploy into: Azure would refuse too
        raise ResidencyViolation(POLICY_DEPLOYMENT_SKU, field_path, str(exc)) from None
    if ctx.allow_global_processing:
        return
    if processed_in is None:
        raise ResidencyViolation(
            POLICY_DEPLOYMENT_SKU,
            field_path,
            f"got {deployment.sku!r} ({scope} processing, may leave the zone); expected a "
            "regional or in-zone data-zone SKU such as 'Standard', or set the environment's "
            "allow_global_processing",
        )
    outside = sorted(processed_in - ctx.jurisdictions)
    if outside:
        raise ResidencyViolation(
            POLICY_DEPLOYMENT_SKU,
            field_path,
            f"got {deployment.sku!r} ({scope} processing in {region!r} may happen in "
            f"{', '.join(outside)}); expected processing inside jurisdictions "
            f"{', '.join(sorted(ctx.jurisdictions))}, e.g. sku 'Standard'",
        )


class AzureOpenAI(pulumi.ComponentResource):
    """The EU-regional Azure OpenAI shape; see the module docstring for what it creates.

    Outputs: ``endpoint`` (the account's endpoint URL) and ``routes`` (one route descriptor
    per deployment, as dictionaries the gateway config accepts). ``route_descriptors``
    holds the same as :class:`RouteDescriptor` objects for in-program use.
    """

    endpoint: pulumi.Output[str]
    routes: pulumi.Output[list[dict[str, Any]]]
    route_descriptors: pulumi.Output[list[RouteDescriptor]]

    def __init__(
        self,
        name: str,
        args: AzureOpenAIArgs,
        ctx: ShapeContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        placement = validate(args, ctx)
        account_name = args.account_name or f"{ctx.business_unit}-{ctx.environment}-{name}"
        if not _ACCOUNT_NAME.match(account_name):
            raise ValueError(
                f"account_name: the default ({account_name!r}) is not a valid account name; "
                "set account_name to 2-64 letters, digits, '_', '.' or '-'"
            )
        subdomain = args.custom_subdomain or account_name.lower()
        if not _SUBDOMAIN.match(subdomain):
            raise ValueError(
                f"custom_subdomain: the default ({subdomain!r}, from the account name) is not a "
                "DNS label; set custom_subdomain to lower-case letters, digits and '-'"
            )
        super().__init__("gatehouse:components:AzureOpenAI", name, None, opts)
        self._name = name
        self._args = args
        self._ctx = ctx
        self._placement = placement
        child = pulumi.ResourceOptions(parent=self)

        rg_name = self._resource_group(child)
        account = cognitiveservices.Account(
            f"{name}-account",
            account_name=account_name,
            resource_group_name=rg_name,
            location=placement.region,
            kind="OpenAI",
            sku=cognitiveservices.SkuArgs(name="S0"),
            identity=self._identity(),
            properties=self._account_properties(subdomain),
            tags=self._tags(Role.MODEL_ENDPOINT),
            opts=child,
        )
        self._private_network(rg_name, account, child)
        deployments = self._deployments(rg_name, account, child)
        self._role_assignment(account, child)
        self._diagnostics(rg_name, account, child)

        self.endpoint = account.properties.apply(lambda p: p.endpoint)
        self.route_descriptors = self.endpoint.apply(self._describe_routes)
        self.routes = self.route_descriptors.apply(lambda rs: [r.as_dict() for r in rs])
        self.account = account
        self.deployments = deployments
        self.register_outputs({"endpoint": self.endpoint, "routes": self.routes})

    # --- helpers -----------------------------------------------------------------------

    def _tags(self, role: Role, region: str | None = None) -> dict[str, str]:
        return self._ctx.tags_for(
            region=region or self._placement.region,
            jurisdiction=self._placement.jurisdiction,
            role=role,
            shape=SHAPE,
            own=self._args.tags,
        )

    def _resource_group(self, child: pulumi.ResourceOptions) -> pulumi.Input[str]:
        if self._args.resource_group_id is not None:
            match = _RESOURCE_GROUP_ID.match(self._args.resource_group_id)
            assert match is not None  # validated by AzureOpenAIArgs
            return match["name"]
        group = resources.ResourceGroup(
            f"{self._name}-rg",
            resource_group_name=self._args.resource_group_name,
            location=self._placement.region,
            tags=self._tags(Role.MODEL_ENDPOINT),
            opts=child,
        )
        name: pulumi.Output[str] = group.name
        return name

    def _identity(self) -> cognitiveservices.IdentityArgs:
        cmk = self._args.customer_managed_key
        if cmk is None:
            return cognitiveservices.IdentityArgs(
                type=cognitiveservices.ResourceIdentityType.SYSTEM_ASSIGNED
            )
        return cognitiveservices.IdentityArgs(
            type=cognitiveservices.ResourceIdentityType.SYSTEM_ASSIGNED_USER_ASSIGNED,
            user_assigned_identities=[cmk.identity_id],
        )

    def _account_properties(self, subdomain: str) -> cognitiveservices.AccountPropertiesArgs:
        cmk = self._args.customer_managed_key
        encryption = None
        if cmk is not None:
            encryption = cognitiveservices.EncryptionArgs(
                key_source=cognitiveservices.KeySource.MICROSOFT_KEY_VAULT,
                key_vault_properties=cognitiveservices.KeyVaultPropertiesArgs(
                    **cmk.key_vault_properties()
                ),
            )
        return cognitiveservices.AccountPropertiesArgs(
            custom_sub_domain_name=subdomain,
            public_network_access=cognitiveservices.PublicNetworkAccess.DISABLED,
            disable_local_auth=True,
            restrict_outbound_network_access=True,
            allowed_fqdn_list=[],
            network_acls=cognitiveservices.NetworkRuleSetArgs(
                default_action=cognitiveservices.NetworkRuleAction.DENY,
                ip_rules=[],
                virtual_network_rules=[],
            ),
            encryption=encryption,
        )

    def _private_network(
        self,
        rg_name: pulumi.Input[str],
        account: cognitiveservices.Account,
        child: pulumi.ResourceOptions,
    ) -> None:
        name = self._name
        endpoint = network.PrivateEndpoint(
            f"{name}-pe",
            resource_group_name=rg_name,
            location=self._placement.region,
            subnet={"id": self._args.private_endpoint_subnet_id},
            private_link_service_connections=[
                {
                    "name": f"{name}-account",
                    "private_link_service_id": account.id,
                    "group_ids": [PRIVATE_LINK_GROUP],
                }
            ],
            tags=self._tags(Role.NETWORK),
            opts=child,
        )
        zone_configs: list[network.PrivateDnsZoneConfigArgs] = []
        for zone_name in PRIVATE_DNS_ZONES:
            label = zone_name.split(".")[1]  # "openai" / "cognitiveservices"
            zone = privatedns.PrivateZone(
                f"{name}-dns-{label}",
                private_zone_name=zone_name,
                resource_group_name=rg_name,
                location=GLOBAL_LOCATION,
                tags=self._tags(Role.NETWORK, region=GLOBAL_LOCATION),
                opts=child,
            )
            for index, vnet_id in enumerate(self._args.vnet_ids):
                privatedns.VirtualNetworkLink(
                    f"{name}-dns-{label}-link{index}",
                    private_zone_name=zone.name,
                    resource_group_name=rg_name,
                    location=GLOBAL_LOCATION,
                    virtual_network={"id": vnet_id},
                    registration_enabled=False,
                    tags=self._tags(Role.NETWORK, region=GLOBAL_LOCATION),
                    opts=child,
                )
            zone_configs.append(
                network.PrivateDnsZoneConfigArgs(name=label, private_dns_zone_id=zone.id)
            )
        network.PrivateDnsZoneGroup(
            f"{name}-dns-group",
            private_dns_zone_group_name="default",
            private_endpoint_name=endpoint.name,
            resource_group_name=rg_name,
            private_dns_zone_configs=zone_configs,
            opts=child,
        )

    def _deployments(
        self,
        rg_name: pulumi.Input[str],
        account: cognitiveservices.Account,
        child: pulumi.ResourceOptions,
    ) -> list[cognitiveservices.Deployment]:
        created: list[cognitiveservices.Deployment] = []
        for spec in self._args.deployments:
            # One write at a time per account: chain each deployment on the previous one.
            after = pulumi.ResourceOptions(parent=self, depends_on=created[-1:])
            created.append(
                cognitiveservices.Deployment(
                    f"{self._name}-deployment-{spec.name}",
                    account_name=account.name,
                    resource_group_name=rg_name,
                    deployment_name=spec.name,
                    sku=cognitiveservices.SkuArgs(name=spec.sku, capacity=spec.capacity),
                    properties={
                        "model": {
                            "format": "OpenAI",
                            "name": spec.model,
                            "version": spec.model_version,
                        },
                    },
                    tags=self._tags(Role.MODEL_ENDPOINT),
                    opts=after,
                )
            )
        return created

    def _role_assignment(
        self, account: cognitiveservices.Account, child: pulumi.ResourceOptions
    ) -> None:
        principal = self._args.gateway_principal_id
        if principal is None:
            return
        authorization.RoleAssignment(
            f"{self._name}-gateway-openai-user",
            principal_id=principal,
            principal_type=self._args.gateway_principal_type,
            role_definition_id=account.id.apply(_role_definition_id),
            scope=account.id,
            opts=child,
        )

    def _diagnostics(
        self,
        rg_name: pulumi.Input[str],
        account: cognitiveservices.Account,
        child: pulumi.ResourceOptions,
    ) -> None:
        workspace_id: pulumi.Input[str]
        if self._args.log_analytics_workspace_id is not None:
            workspace_id = self._args.log_analytics_workspace_id
        else:
            workspace = operationalinsights.Workspace(
                f"{self._name}-logs",
                resource_group_name=rg_name,
                location=self._placement.region,
                retention_in_days=self._args.log_retention_days,
                sku={"name": operationalinsights.WorkspaceSkuNameEnum.PER_GB2018},
                tags=self._tags(Role.LOGS),
                opts=child,
            )
            workspace_id = workspace.id
        monitor.DiagnosticSetting(
            f"{self._name}-diagnostics",
            resource_uri=account.id,
            workspace_id=workspace_id,
            logs=[{"category_group": LOG_CATEGORY_GROUP, "enabled": True}],
            metrics=[{"category": METRIC_CATEGORY, "enabled": True}],
            opts=child,
        )

    def _describe_routes(self, endpoint: str) -> list[RouteDescriptor]:
        return [
            RouteDescriptor(
                provider=PROVIDER,
                model=d.model,
                region=self._placement.region,
                jurisdiction=self._placement.jurisdiction,
                settings={
                    "endpoint": endpoint,
                    "deployment": d.name,
                    "api_version": self._args.api_version,
                },
            )
            for d in self._args.deployments
        ]


def _role_definition_id(account_id: str) -> str:
    """The subscription-scoped id of the OpenAI User role, from the account's own id."""
    subscription = account_id.split("/")[2]
    return (
        f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{OPENAI_USER_ROLE_ID}"
    )
