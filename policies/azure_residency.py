"""Azure data residency: every location, workspace and deployment SKU stays inside the zone.

All three policies read the residency zone from their configuration (``RESIDENCY_SCHEMA``;
default zone ``eu``) and fail closed: a location or SKU that is unknown at preview, missing
where Azure would fill it in silently, or not in the reviewed tables is a violation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components.residency import (
    AzureDataZoneError,
    UnknownRegionError,
    azure_sku_jurisdictions,
    jurisdiction_of,
    normalize_azure_location,
)
from policies.base import (
    MISSING,
    RESIDENCY_SCHEMA,
    UNKNOWN,
    Control,
    Meta,
    Residency,
    read,
    residency_of,
    resource_policy,
    stack_policy,
)

AZURE_NATIVE: Final = "azure-native:"
WORKSPACE: Final = "azure-native:operationalinsights:Workspace"
ACCOUNT: Final = "azure-native:cognitiveservices:Account"
DEPLOYMENT: Final = "azure-native:cognitiveservices:Deployment"

# Azure Policy built-ins these policies mirror (id = the definition's GUID):
# "Allowed locations" e56962a6-4747-49cd-b67b-bf8b01975c4c and, for resource groups,
# "Allowed locations for resource groups" e765b5de-1225-4ba3-bd56-1ac6695af988.
# https://github.com/Azure/azure-policy/blob/master/built-in-policies/policyDefinitions/General/AllowedLocations_Deny.json
# https://github.com/Azure/azure-policy/blob/master/built-in-policies/policyDefinitions/General/ResourceGroupAllowedLocations_Deny.json
ALLOWED_LOCATIONS: Final = Control("Azure Policy", "e56962a6-4747-49cd-b67b-bf8b01975c4c")

# Tracked (ARM "location"-bearing) resource types. When their ``location`` input is left
# out, the azure-native provider fills in the provider's or the resource group's location,
# which this pack cannot see; so a missing location on these types is a violation.
# https://www.pulumi.com/registry/packages/azure-native/installation-configuration/#set-configuration-using-pulumi-config
LOCATION_BEARING: Final[frozenset[str]] = frozenset(
    AZURE_NATIVE + t
    for t in (
        "resources:ResourceGroup",
        "cognitiveservices:Account",
        "operationalinsights:Workspace",
        "insights:Component",
        "network:PrivateEndpoint",
        "network:VirtualNetwork",
        "network:NetworkSecurityGroup",
        "network:NetworkInterface",
        "network:PublicIPAddress",
        "network:ApplicationGateway",
        "network:AzureFirewall",
        "network:NatGateway",
        "network:RouteTable",
        "privatedns:PrivateZone",
        "privatedns:VirtualNetworkLink",
        "storage:StorageAccount",
        "keyvault:Vault",
        "managedidentity:UserAssignedIdentity",
        "containerservice:ManagedCluster",
        "containerregistry:Registry",
        "compute:VirtualMachine",
        "compute:VirtualMachineScaleSet",
        "compute:Disk",
        "web:WebApp",
        "web:AppServicePlan",
        "app:ContainerApp",
        "app:ManagedEnvironment",
        "search:Service",
        "documentdb:DatabaseAccount",
        "sql:Server",
        "dbforpostgresql:Server",
        "cache:Redis",
        "eventhub:Namespace",
        "servicebus:Namespace",
        "machinelearningservices:Workspace",
        "apimanagement:ApiManagementService",
    )
)

# Types Azure only accepts in the non-regional location "global": private DNS zones and
# their virtual network links hold DNS records of private addresses, not workload data.
# https://learn.microsoft.com/azure/dns/private-dns-privatednszone
GLOBAL_ONLY: Final[frozenset[str]] = frozenset(
    {AZURE_NATIVE + "privatedns:PrivateZone", AZURE_NATIVE + "privatedns:VirtualNetworkLink"}
)
GLOBAL_LOCATION: Final = "global"


def location_problem(resource_type: str, props: Any, residency: Residency) -> str | None:
    """Why the resource's ``location`` is not provably inside the zone, or None."""
    value = read(props, "location")
    zone = residency.describe()
    if value is UNKNOWN:
        return (
            "location is unknown at preview, so residency could not be checked; set it to a "
            f"literal region inside {zone}"
        )
    if value is MISSING:
        if resource_type in LOCATION_BEARING:
            return (
                "location is not set, so Azure would silently use the provider's or resource "
                f"group's location; expected an explicit region inside {zone}"
            )
        return None
    if not isinstance(value, str):
        return f"location {value!r} is not a region name; expected a region inside {zone}"
    name = normalize_azure_location(value)
    if resource_type in GLOBAL_ONLY and name == GLOBAL_LOCATION:
        return None
    try:
        jurisdiction = jurisdiction_of("azure", name)
    except UnknownRegionError as exc:
        return str(exc)
    if jurisdiction not in residency.jurisdictions:
        return (
            f"location {value!r} is in jurisdiction {jurisdiction!r}; expected a region "
            f"inside {zone}"
        )
    return None


def _check_location(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith(AZURE_NATIVE) or args.resource_type == WORKSPACE:
        return  # workspaces have their own policy, below
    problem = location_problem(args.resource_type, args.props, residency_of(args))
    if problem:
        report(problem, None)


def _check_workspace(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != WORKSPACE:
        return
    problem = location_problem(args.resource_type, args.props, residency_of(args))
    if problem:
        report(f"Log Analytics workspace {problem}", None)


# --- deployment SKUs ------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def account_of(
    deployment: PolicyResource, accounts: Iterable[PolicyResource]
) -> PolicyResource | None:
    """The account a deployment belongs to: by its ``accountName`` dependency, else by name.

    Returns the account's PolicyResource, or None when no account of the stack matches.
    """
    for dependency in deployment.property_dependencies.get("accountName", []):
        if dependency.resource_type == ACCOUNT:
            return dependency
    name = read(deployment.props, "accountName")
    group = read(deployment.props, "resourceGroupName")
    for account in accounts:
        if _same(read(account.props, "accountName"), name) and _same(
            read(account.props, "resourceGroupName"), group
        ):
            return account
    return None


def sku_problem(
    deployment: PolicyResource, account: PolicyResource | None, residency: Residency
) -> str | None:
    """Why a deployment's SKU may process data outside the zone, or None."""
    sku = read(deployment.props, "sku", "name")
    if sku is UNKNOWN:
        return "sku.name is unknown at preview, so its processing scope could not be checked"
    if not isinstance(sku, str):
        return "sku.name is not set; expected a regional SKU such as 'Standard'"
    if account is None:
        return (
            f"the account of deployment (SKU {sku!r}) is not in this stack, so the region its "
            "data is processed from could not be checked; create the account in the same stack"
        )
    region = read(account.props, "location")
    if not isinstance(region, str):
        return (
            f"the location of account {account.name!r} is unknown or not set, so where SKU "
            f"{sku!r} processes data could not be checked"
        )
    try:
        processed_in = azure_sku_jurisdictions(sku, region)
    except (AzureDataZoneError, UnknownRegionError, ValueError) as exc:
        return str(exc)
    if residency.allow_global_processing:
        return None
    if processed_in is None:
        return (
            f"SKU {sku!r} may process prompts and responses in any Azure location; expected a "
            f"regional SKU such as 'Standard', or a data-zone SKU inside {residency.describe()} "
            "(or set allowGlobalProcessing explicitly)"
        )
    outside = sorted(processed_in - residency.jurisdictions)
    if outside:
        return (
            f"SKU {sku!r} in {region!r} may process data in {', '.join(outside)}; expected "
            f"processing inside {residency.describe()}"
        )
    return None


def _check_deployment_skus(args: StackValidationArgs, report: ReportViolation) -> None:
    residency = residency_of(args)
    accounts = [r for r in args.resources if r.resource_type == ACCOUNT]
    for deployment in args.resources:
        if deployment.resource_type != DEPLOYMENT:
            continue
        problem = sku_problem(deployment, account_of(deployment, accounts), residency)
        if problem:
            report(problem, deployment.urn)


_REMEDIATE_LOCATION = (
    "1. Set `location` explicitly on the resource to a region inside the zone (for the "
    "Gatehouse shapes: the shape's `region` in the environment spec). "
    "2. Use a literal value, not one computed from another resource, so it is known at preview. "
    "3. To admit another jurisdiction (e.g. 'ch'), add it to the pack's `extraJurisdictions` "
    "and the environment's residency.extra_jurisdictions."
)

location_in_zone = resource_policy(
    Meta(
        name="azure-resource-location-in-zone",
        description="Every Azure resource with a location is placed in a region inside the "
        "residency zone.",
        severity=Severity.CRITICAL,
        remediation=_REMEDIATE_LOCATION,
        control=ALLOWED_LOCATIONS,
        config_schema=RESIDENCY_SCHEMA,
    ),
    _check_location,
)

workspace_in_zone = resource_policy(
    Meta(
        name="azure-operationalinsights-workspace-in-zone",
        description="Log Analytics workspaces, which hold the audit trail of model calls, are "
        "placed in a region inside the residency zone.",
        severity=Severity.HIGH,
        remediation=_REMEDIATE_LOCATION,
        control=ALLOWED_LOCATIONS,
        config_schema=RESIDENCY_SCHEMA,
    ),
    _check_workspace,
)

deployment_sku_in_zone = stack_policy(
    Meta(
        name="azure-cognitiveservices-deployment-sku-in-zone",
        description="Azure OpenAI deployments use a SKU whose processing stays inside the "
        "residency zone (regional, or a data zone inside it; never Global or Developer).",
        severity=Severity.CRITICAL,
        remediation=(
            "1. Set the deployment's sku.name to 'Standard' or 'ProvisionedManaged' (regional "
            "processing). 2. Use 'DataZoneStandard' only when the account's data zone lies "
            "inside the zone (the EU data zone for zone 'eu'). 3. Global SKUs and 'Developer' "
            "need allowGlobalProcessing, an explicit, documented exception. 4. Keep the "
            "deployment's account in the same stack so its region can be checked."
        ),
        config_schema=RESIDENCY_SCHEMA,
    ),
    _check_deployment_skus,
)

POLICIES: Final[list[Any]] = [location_in_zone, workspace_in_zone, deployment_sku_in_zone]

__all__ = [
    "POLICIES",
    "account_of",
    "location_problem",
    "sku_problem",
]
