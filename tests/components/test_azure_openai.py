"""The EU-regional Azure OpenAI shape: residency validation and every secure default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from components.azure_openai import (
    OPENAI_USER_ROLE_ID,
    POLICY_DEPLOYMENT_SKU,
    POLICY_LOCATION,
    AzureOpenAI,
    AzureOpenAIArgs,
    validate,
)
from components.common import ResidencyViolation, ShapeContext
from stacks.render import RenderedResource, RenderError, Rendering, render

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
VNET = f"{SUB}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub"
VNET_2 = f"{SUB}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/spoke"
SUBNET = f"{VNET}/subnets/private-endpoints"
PRINCIPAL = "11111111-2222-3333-4444-555555555555"
IDENTITY = (
    f"{SUB}/resourceGroups/keys/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cmk"
)
KEY_VERSION = "0123456789abcdef0123456789abcdef"

ACCOUNT = "azure-native:cognitiveservices:Account"
DEPLOYMENT = "azure-native:cognitiveservices:Deployment"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
ZONE = "azure-native:privatedns:PrivateZone"
LINK = "azure-native:privatedns:VirtualNetworkLink"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
WORKSPACE = "azure-native:operationalinsights:Workspace"

# Resources Azure cannot tag (extension or sub-resources): everything else must carry tags.
UNTAGGABLE = {ROLE_ASSIGNMENT, DIAGNOSTICS, ZONE_GROUP}
# Tracked resources: every one of them must name its location explicitly.
LOCATED = {RESOURCE_GROUP, ACCOUNT, PRIVATE_ENDPOINT, ZONE, LINK, WORKSPACE}
EXPECTED_ROLE = {
    RESOURCE_GROUP: "model-endpoint",
    ACCOUNT: "model-endpoint",
    DEPLOYMENT: "model-endpoint",
    PRIVATE_ENDPOINT: "network",
    ZONE: "network",
    LINK: "network",
    WORKSPACE: "logs",
}


def make_args(**overrides: Any) -> AzureOpenAIArgs:
    data: dict[str, Any] = {
        "region": "swedencentral",
        "private_endpoint_subnet_id": SUBNET,
        "vnet_ids": [VNET],
        "gateway_principal_id": PRINCIPAL,
        "deployments": [
            {"name": "gpt-4o", "model": "gpt-4o", "model_version": "2024-11-20"},
            {
                "name": "embeddings",
                "model": "text-embedding-3-large",
                "model_version": "1",
                "capacity": 30,
            },
        ],
    }
    data.update(overrides)
    return AzureOpenAIArgs.model_validate(data)


def make_ctx(**overrides: Any) -> ShapeContext:
    data: dict[str, Any] = {
        "environment": "dev-eu",
        "business_unit": "payments",
        "cost_center": "CC-1234",
        "data_classification": "confidential",
        "jurisdictions": frozenset({"eu"}),
        "tags": {"owner": "platform"},
    }
    data.update(overrides)
    return ShapeContext(**data)


class Rendered:
    """One render of the component with its captured outputs."""

    def __init__(self, rendering: Rendering, outputs: dict[str, Any]) -> None:
        self.rendering = rendering
        self.outputs = outputs
        self.resources = [r for r in rendering.resources if r.custom]

    def one(self, type_: str) -> RenderedResource:
        found = self.rendering.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, got {[r.name for r in found]}"
        return found[0]

    def all(self, type_: str) -> list[RenderedResource]:
        return self.rendering.of_type(type_)


def render_shape(
    args: AzureOpenAIArgs,
    ctx: ShapeContext | None = None,
    computed: dict[str, Callable[[str, Any], Any]] | None = None,
) -> Rendered:
    outputs: dict[str, Any] = {}

    def capture(key: str) -> Callable[[Any], None]:
        return lambda value: outputs.__setitem__(key, value)

    def program() -> None:
        shape = AzureOpenAI("aoai", args, ctx or make_ctx())
        shape.endpoint.apply(capture("endpoint"))
        shape.routes.apply(capture("routes"))
        pulumi.export("endpoint", shape.endpoint)

    return Rendered(render(program, computed=computed), outputs)


@pytest.fixture(scope="module")
def shape() -> Rendered:
    return render_shape(make_args())


# --- residency validation (pure) ------------------------------------------------------------


def test_validate_accepts_an_eu_region_and_regional_skus() -> None:
    placement = validate(make_args(region="Sweden Central"), make_ctx())
    assert (placement.region, placement.jurisdiction) == ("swedencentral", "eu")


def test_region_outside_the_zone_names_the_location_policy() -> None:
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(region="westus"), make_ctx())
    assert err.value.policy == POLICY_LOCATION
    assert err.value.field_path == "region"
    assert "'westus'" in err.value.message and "eu" in err.value.message


def test_unknown_region_is_a_violation_not_a_guess() -> None:
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(region="atlantis"), make_ctx())
    assert (err.value.policy, err.value.field_path) == (POLICY_LOCATION, "region")
    assert "'atlantis'" in err.value.message


def test_region_must_be_in_allowed_regions_when_set() -> None:
    ctx = make_ctx(allowed_regions=("germanywestcentral",))
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(), ctx)
    assert (err.value.policy, err.value.field_path) == (POLICY_LOCATION, "region")
    assert "germanywestcentral" in err.value.message
    assert validate(make_args(region="germanywestcentral"), ctx).region == "germanywestcentral"


def test_uk_region_needs_uk_added_to_the_zone() -> None:
    with pytest.raises(ResidencyViolation):
        validate(make_args(region="uksouth"), make_ctx())
    ctx = make_ctx(jurisdictions=frozenset({"eu", "uk"}))
    assert validate(make_args(region="uksouth"), ctx).jurisdiction == "uk"


def _one_deployment(sku: str) -> list[dict[str, Any]]:
    return [
        {"name": "ok", "model": "gpt-4o", "model_version": "2024-11-20"},
        {"name": "other", "model": "gpt-4o", "model_version": "2024-11-20", "sku": sku},
    ]


@pytest.mark.parametrize(
    "sku", ["GlobalStandard", "GlobalProvisionedManaged", "GlobalBatch", "Developer"]
)
def test_global_and_developer_skus_are_refused(sku: str) -> None:
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(deployments=_one_deployment(sku)), make_ctx())
    assert err.value.policy == POLICY_DEPLOYMENT_SKU
    assert err.value.field_path == "deployments[1].sku"
    assert repr(sku) in err.value.message and "allow_global_processing" in err.value.message


@pytest.mark.parametrize("sku", ["GlobalStandard", "Developer"])
def test_global_skus_pass_with_the_explicit_opt_in(sku: str) -> None:
    ctx = make_ctx(allow_global_processing=True)
    assert validate(make_args(deployments=_one_deployment(sku)), ctx).region == "swedencentral"


def test_global_sku_in_the_first_deployment_names_index_zero() -> None:
    deployments = [{"name": "g", "model": "gpt-4o", "model_version": "1", "sku": "GlobalStandard"}]
    with pytest.raises(ResidencyViolation) as err:
        validate(make_args(deployments=deployments), make_ctx())
    assert (err.value.policy, err.value.field_path) == (POLICY_DEPLOYMENT_SKU, "deployments[0].sku")


@pytest.mark.parametrize("sku", ["DataZoneStandard", "DataZoneProvisionedManaged", "DataZoneBatch"])
def test_eu_data_zone_skus_stay_in_zone_eu_from_swedencentral(sku: str) -> None:
    # The EU data zone processes only in EU member states, so it stays inside zone "eu".
    assert validate(make_args(deployments=_one_deployment(sku)), make_ctx()).region == (
        "swedencentral"
    )


@pytest.mark.parametrize("allow_global", [False, True])
def test_data_zone_sku_outside_any_data_zone_is_refused(allow_global: bool) -> None:
    ctx = make_ctx(jurisdictions=frozenset({"eu", "uk"}), allow_global_processing=allow_global)
    args = make_args(region="uksouth", deployments=_one_deployment("DataZoneStandard"))
    with pytest.raises(ResidencyViolation) as err:
        validate(args, ctx)
    assert (err.value.policy, err.value.field_path) == (POLICY_DEPLOYMENT_SKU, "deployments[1].sku")
    assert "uksouth" in err.value.message


def test_us_data_zone_is_accepted_in_zone_us() -> None:
    us_ctx = make_ctx(jurisdictions=frozenset({"us"}))
    args = make_args(region="eastus2", deployments=_one_deployment("DataZoneStandard"))
    assert validate(args, us_ctx).jurisdiction == "us"


def test_the_constructor_validates_before_creating_anything() -> None:
    with pytest.raises(RenderError) as err:
        render_shape(make_args(region="westus"))
    assert isinstance(err.value.cause, ResidencyViolation)
    assert err.value.cause.field_path == "region"


# --- field errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"private_endpoint_subnet_id": VNET}, "private_endpoint_subnet_id", "subnet id"),
        ({"vnet_ids": []}, "vnet_ids", "at least 1"),
        ({"vnet_ids": [SUBNET]}, "vnet_ids", "virtual network id"),
        ({"vnet_ids": [VNET, VNET]}, "vnet_ids", "repeat"),
        ({"deployments": []}, "deployments", "at least 1"),
        ({"deployments": _one_deployment("S0")}, "deployments.1.sku", "unknown deployment SKU"),
        ({"tags": {"gatehouse:role": "x"}}, "tags", "reserved"),
        ({"gateway_principal_id": "gateway"}, "gateway_principal_id", "GUID"),
        ({"custom_subdomain": "Not_A_Label"}, "custom_subdomain", "DNS label"),
        ({"resource_group_id": "rg-1"}, "resource_group_id", "/resourceGroups/"),
        ({"log_retention_days": 7}, "log_retention_days", "greater than or equal to 30"),
        ({"public_network_access": "Enabled"}, "public_network_access", "Extra inputs"),
        (
            {"resource_group_id": f"{SUB}/resourceGroups/rg", "resource_group_name": "rg"},
            "",
            "not both",
        ),
        (
            {
                "deployments": [
                    {"name": "a", "model": "m", "model_version": "1"},
                    {"name": "a", "model": "m", "model_version": "2"},
                ]
            },
            "deployments",
            "unique",
        ),
        (
            {
                "customer_managed_key": {
                    "kms_key_id": "arn:aws:kms:eu-west-1:1:key/x",
                    "identity_id": IDENTITY,
                    "identity_client_id": PRINCIPAL,
                }
            },
            "customer_managed_key.kms_key_id",
            "Key Vault key identifier",
        ),
    ],
)
def test_bad_fields_name_the_field_and_the_value(
    overrides: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as err:
        make_args(**overrides)
    errors = err.value.errors()
    assert any(".".join(map(str, e["loc"])) == field for e in errors), errors
    assert fragment in str(err.value)


def test_default_account_name_that_is_not_valid_raises_naming_the_field() -> None:
    ctx = make_ctx(business_unit="a" * 70)
    with pytest.raises(RenderError) as err:
        render_shape(make_args(), ctx)
    assert isinstance(err.value.cause, ValueError)
    assert str(err.value.cause).startswith("account_name:")


# --- secure defaults on the rendered resources ----------------------------------------------


def test_account_is_private_keyless_and_identity_bearing(shape: Rendered) -> None:
    account = shape.one(ACCOUNT).inputs
    assert account["kind"] == "OpenAI"
    assert account["accountName"] == "payments-dev-eu-aoai"
    props = account["properties"]
    assert props["customSubDomainName"] == "payments-dev-eu-aoai"
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["disableLocalAuth"] is True
    assert props["restrictOutboundNetworkAccess"] is True
    assert props["networkAcls"]["defaultAction"] == "Deny"
    assert props["networkAcls"]["ipRules"] == []
    assert props["networkAcls"]["virtualNetworkRules"] == []
    assert account["identity"] == {"type": "SystemAssigned"}
    assert "encryption" not in props


def arm_account_outputs(name: str, inputs: Any) -> dict[str, Any]:
    """What ARM returns: user-assigned identities keyed by id (the input is a list of ids)."""
    identity = dict(inputs.get("identity") or {})
    identity["userAssignedIdentities"] = {i: {} for i in identity.get("userAssignedIdentities", [])}
    props = dict(inputs.get("properties") or {})
    props["endpoint"] = f"https://{props['customSubDomainName']}.openai.azure.com/"
    return {"identity": {**identity, "principalId": f"{name}-principal"}, "properties": props}


def test_customer_managed_key_uses_key_vault_and_the_user_identity() -> None:
    cmk = {
        "kms_key_id": f"https://kv-payments.vault.azure.net/keys/aoai/{KEY_VERSION}",
        "identity_id": IDENTITY,
        "identity_client_id": PRINCIPAL,
    }
    account = (
        render_shape(make_args(customer_managed_key=cmk), computed={ACCOUNT: arm_account_outputs})
        .one(ACCOUNT)
        .inputs
    )
    assert account["identity"] == {
        "type": "SystemAssigned, UserAssigned",
        "userAssignedIdentities": [IDENTITY],
    }
    assert account["properties"]["encryption"] == {
        "keySource": "Microsoft.KeyVault",
        "keyVaultProperties": {
            "keyVaultUri": "https://kv-payments.vault.azure.net/",
            "keyName": "aoai",
            "keyVersion": KEY_VERSION,
            "identityClientId": PRINCIPAL,
        },
    }


def test_private_endpoint_targets_the_account_in_the_subnet(shape: Rendered) -> None:
    endpoint = shape.one(PRIVATE_ENDPOINT)
    account = shape.one(ACCOUNT)
    (connection,) = endpoint.inputs["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["account"]
    assert account.urn in endpoint.property_dependencies["privateLinkServiceConnections"]
    assert endpoint.inputs["subnet"] == {"id": SUBNET}


def test_private_dns_zones_links_and_zone_group() -> None:
    rendered = render_shape(make_args(vnet_ids=[VNET, VNET_2]))
    zones = {z.inputs["privateZoneName"]: z for z in rendered.all(ZONE)}
    assert set(zones) == {"privatelink.openai.azure.com", "privatelink.cognitiveservices.azure.com"}
    links = rendered.all(LINK)
    for zone in zones.values():
        linked = [
            link.inputs["virtualNetwork"]["id"]
            for link in links
            if zone.urn in link.property_dependencies["privateZoneName"]
        ]
        assert sorted(linked) == sorted([VNET, VNET_2])
    assert all(link.inputs["registrationEnabled"] is False for link in links)
    group = rendered.one(ZONE_GROUP)
    assert rendered.one(PRIVATE_ENDPOINT).urn in group.property_dependencies["privateEndpointName"]
    assert set(group.property_dependencies["privateDnsZoneConfigs"]) == {
        z.urn for z in zones.values()
    }
    assert len(group.inputs["privateDnsZoneConfigs"]) == 2


def test_deployments_match_the_spec_and_are_created_one_after_the_other(shape: Rendered) -> None:
    first, second = shape.all(DEPLOYMENT)
    account = shape.one(ACCOUNT)
    assert first.inputs["deploymentName"] == "gpt-4o"
    assert first.inputs["sku"] == {"name": "Standard", "capacity": 10}
    assert first.inputs["properties"]["model"] == {
        "format": "OpenAI",
        "name": "gpt-4o",
        "version": "2024-11-20",
    }
    assert second.inputs["sku"] == {"name": "Standard", "capacity": 30}
    for deployment in (first, second):
        assert account.urn in deployment.property_dependencies["accountName"]
    assert first.urn in second.dependencies


def test_gateway_gets_openai_user_on_the_account(shape: Rendered) -> None:
    assignment = shape.one(ROLE_ASSIGNMENT)
    assert assignment.inputs["roleDefinitionId"] == (
        f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{OPENAI_USER_ROLE_ID}"
    )
    assert OPENAI_USER_ROLE_ID == "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
    assert assignment.inputs["principalId"] == PRINCIPAL
    assert assignment.inputs["principalType"] == "ServicePrincipal"
    assert shape.one(ACCOUNT).urn in assignment.property_dependencies["scope"]


def test_no_principal_means_no_data_plane_grant() -> None:
    rendered = render_shape(make_args(gateway_principal_id=None))
    assert rendered.all(ROLE_ASSIGNMENT) == []


def test_diagnostics_send_all_logs_and_metrics_to_a_workspace_in_the_region(
    shape: Rendered,
) -> None:
    setting = shape.one(DIAGNOSTICS)
    workspace = shape.one(WORKSPACE)
    assert setting.inputs["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    assert setting.inputs["metrics"] == [{"category": "AllMetrics", "enabled": True}]
    assert shape.one(ACCOUNT).urn in setting.property_dependencies["resourceUri"]
    assert workspace.urn in setting.property_dependencies["workspaceId"]
    assert workspace.inputs["location"] == "swedencentral"
    assert workspace.inputs["retentionInDays"] == 90


def test_existing_workspace_and_resource_group_are_used_as_given() -> None:
    workspace_id = (
        f"{SUB}/resourceGroups/logs/providers/Microsoft.OperationalInsights/workspaces/central"
    )
    rendered = render_shape(
        make_args(
            log_analytics_workspace_id=workspace_id,
            resource_group_id=f"{SUB}/resourceGroups/rg-ai-shared",
        )
    )
    assert rendered.all(WORKSPACE) == []
    assert rendered.all(RESOURCE_GROUP) == []
    assert rendered.one(DIAGNOSTICS).inputs["workspaceId"] == workspace_id
    assert rendered.one(ACCOUNT).inputs["resourceGroupName"] == "rg-ai-shared"


def test_every_taggable_resource_carries_the_policy_tags(shape: Rendered) -> None:
    taggable = [r for r in shape.resources if r.type not in UNTAGGABLE]
    assert {r.type for r in taggable} == set(EXPECTED_ROLE)
    for resource in taggable:
        tags = resource.inputs.get("tags")
        assert tags, f"{resource.name} has no tags"
        assert tags["gatehouse:jurisdiction"] == "eu", resource.name
        assert tags["gatehouse:role"] == EXPECTED_ROLE[resource.type], resource.name
        assert tags["gatehouse:cost-center"] == "CC-1234"
        assert tags["gatehouse:business-unit"] == "payments"
        assert tags["gatehouse:data-classification"] == "confidential"
        assert tags["gatehouse:shape"] == "azure_openai"
        assert tags["owner"] == "platform"
        expected_region = "global" if resource.type in {ZONE, LINK} else "swedencentral"
        assert tags["gatehouse:region"] == expected_region


def test_shape_tags_add_to_the_environment_tags() -> None:
    rendered = render_shape(make_args(tags={"owner": "ai-team", "app": "chat"}))
    tags = rendered.one(ACCOUNT).inputs["tags"]
    assert (tags["owner"], tags["app"], tags["gatehouse:role"]) == (
        "ai-team",
        "chat",
        "model-endpoint",
    )


def test_every_tracked_resource_names_its_location(shape: Rendered) -> None:
    for resource in shape.resources:
        if resource.type in {ZONE, LINK}:
            assert resource.inputs["location"] == "global", resource.name
        elif resource.type in LOCATED:
            assert resource.inputs["location"] == "swedencentral", resource.name
    assert {r.type for r in shape.resources} >= LOCATED


def test_children_are_parented_and_named_after_the_component(shape: Rendered) -> None:
    component = next(r for r in shape.rendering.resources if not r.custom)
    assert component.type == "gatehouse:components:AzureOpenAI"
    for resource in shape.resources:
        assert resource.parent == component.urn
        assert resource.name.startswith("aoai-")


def test_routes_describe_each_deployment(shape: Rendered) -> None:
    endpoint = "https://payments-dev-eu-aoai.openai.azure.com/"
    assert shape.outputs["endpoint"] == endpoint
    assert shape.outputs["routes"] == [
        {
            "provider": "azure_openai",
            "model": "gpt-4o",
            "region": "swedencentral",
            "jurisdiction": "eu",
            "endpoint": endpoint,
            "deployment": "gpt-4o",
            "api_version": "2024-10-21",
        },
        {
            "provider": "azure_openai",
            "model": "text-embedding-3-large",
            "region": "swedencentral",
            "jurisdiction": "eu",
            "endpoint": endpoint,
            "deployment": "embeddings",
            "api_version": "2024-10-21",
        },
    ]
