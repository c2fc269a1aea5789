"""Azure residency policies: locations, Log Analytics workspaces and deployment SKUs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from policies.azure_residency import POLICIES, deployment_sku_in_zone, location_in_zone
from policies.azure_residency import workspace_in_zone as workspace_policy
from stacks.render import RenderedResource
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated

LOCATION = "azure-resource-location-in-zone"
WORKSPACE_POLICY = "azure-operationalinsights-workspace-in-zone"
SKU = "azure-cognitiveservices-deployment-sku-in-zone"

ACCOUNT = "azure-native:cognitiveservices:Account"
DEPLOYMENT = "azure-native:cognitiveservices:Deployment"
WORKSPACE = "azure-native:operationalinsights:Workspace"
ZONE = "azure-native:privatedns:PrivateZone"
LINK = "azure-native:privatedns:VirtualNetworkLink"

# A compliant baseline per resource type (location inside zone "eu").
BASELINES: dict[str, dict[str, Any]] = {
    "azure-native:resources:ResourceGroup": {"location": "swedencentral"},
    ACCOUNT: {"location": "swedencentral", "kind": "OpenAI", "accountName": "aoai"},
    "azure-native:network:PrivateEndpoint": {"location": "germanywestcentral"},
    "azure-native:storage:StorageAccount": {"location": "francecentral"},
    "azure-native:keyvault:Vault": {"location": "westeurope"},
    WORKSPACE: {"location": "swedencentral", "retentionInDays": 90},
    ZONE: {"location": "global", "privateZoneName": "privatelink.openai.azure.com"},
    LINK: {"location": "global"},
}


def located(type_: str, **changes: Any) -> RenderedResource:
    props = {**BASELINES[type_], **changes}
    return resource(type_, {k: v for k, v in props.items() if v is not None})


@pytest.mark.parametrize("type_", sorted(BASELINES))
def test_baselines_are_compliant(type_: str) -> None:
    assert violated(POLICIES, [located(type_)]) == set()


@pytest.mark.parametrize("type_", sorted(set(BASELINES) - {WORKSPACE, ZONE, LINK}))
def test_location_outside_the_zone_is_refused(type_: str) -> None:
    assert violated(POLICIES, [located(type_, location="westus")]) == {LOCATION}


@pytest.mark.parametrize("location", ["Sweden Central", "SwedenCentral", "west europe"])
def test_display_names_are_normalised(location: str) -> None:
    assert violated(POLICIES, [located(ACCOUNT, location=location)]) == set()


def test_unknown_location_fails_closed_saying_it_could_not_be_checked() -> None:
    found = diagnostics(POLICIES, [located(ACCOUNT, location=UNKNOWN)])
    assert [d.policy for d in found] == [LOCATION]
    assert found[0].mandatory
    assert "could not be checked" in found[0].message


def test_missing_location_on_a_tracked_type_is_refused() -> None:
    found = diagnostics(POLICIES, [located(ACCOUNT, location=None)])
    assert [d.policy for d in found] == [LOCATION]
    assert "silently" in found[0].message


def test_missing_location_on_a_type_without_one_is_fine() -> None:
    assignment = resource("azure-native:authorization:RoleAssignment", {"principalId": "x"})
    assert violated(POLICIES, [assignment]) == set()


def test_unknown_region_name_is_refused() -> None:
    found = diagnostics(POLICIES, [located(ACCOUNT, location="atlantis")])
    assert [d.policy for d in found] == [LOCATION]
    assert "'atlantis'" in found[0].message


def test_global_is_only_for_types_that_must_be_global() -> None:
    assert violated(POLICIES, [located(ACCOUNT, location="global")]) == {LOCATION}
    assert violated(POLICIES, [located(ZONE, location="westus")]) == {LOCATION}


def test_extra_jurisdictions_admit_uk_regions() -> None:
    uk = located(ACCOUNT, location="uksouth")
    assert violated(POLICIES, [uk]) == {LOCATION}
    assert violated(POLICIES, [uk], settings={"extraJurisdictions": ["uk"]}) == set()


def test_zone_setting_changes_what_is_inside() -> None:
    settings = {"zone": "us"}
    assert violated(POLICIES, [located(ACCOUNT, location="westus")], settings=settings) == set()
    assert violated(POLICIES, [located(ACCOUNT)], settings=settings) == {LOCATION}


def test_other_providers_are_not_this_policys_concern() -> None:
    bucket = resource("aws:s3/bucket:Bucket", {"region": "us-east-1", "location": "westus"})
    assert violated(POLICIES, [bucket]) == set()


@pytest.mark.parametrize(
    ("location", "fragment"),
    [("westus", "jurisdiction 'us'"), (UNKNOWN, "could not be checked"), (None, "not set")],
)
def test_workspace_outside_the_zone_names_the_workspace_policy(
    location: Any, fragment: str
) -> None:
    found = diagnostics(POLICIES, [located(WORKSPACE, location=location)])
    assert [d.policy for d in found] == [WORKSPACE_POLICY]
    assert fragment in found[0].message


def test_policies_use_the_residency_schema() -> None:
    for policy in (location_in_zone, workspace_policy, deployment_sku_in_zone):
        assert policy.config_schema is not None
        assert set(policy.config_schema.properties) == {
            "zone",
            "extraJurisdictions",
            "allowGlobalProcessing",
        }


# --- deployment SKUs (stack policy) ----------------------------------------------------------


def account(location: Any = "swedencentral", name: str = "acct") -> RenderedResource:
    props = {
        "accountName": "aoai",
        "resourceGroupName": "rg-ai",
        "kind": "OpenAI",
        "location": location,
    }
    return resource(ACCOUNT, props, name=name)


def deployment(
    sku: Any = "Standard", of: RenderedResource | None = None, **changes: Any
) -> RenderedResource:
    props: dict[str, Any] = {
        "accountName": "aoai",
        "resourceGroupName": "rg-ai",
        "deploymentName": "gpt-4o",
        "properties": {"model": {"format": "OpenAI", "name": "gpt-4o", "version": "2024-11-20"}},
        "sku": {"name": sku, "capacity": 10},
        **changes,
    }
    if sku is None:
        del props["sku"]
    rendered = resource(DEPLOYMENT, props, name="dep")
    if of is None:
        return rendered
    return dataclasses.replace(rendered, property_dependencies={"accountName": (of.urn,)})


def sku_violations(resources: list[RenderedResource], **settings: Any) -> list[str]:
    return [
        d.message
        for d in diagnostics([deployment_sku_in_zone], resources, settings=settings)
        if d.policy == SKU
    ]


@pytest.mark.parametrize("sku", ["Standard", "ProvisionedManaged", "DataZoneStandard"])
def test_in_zone_skus_pass(sku: str) -> None:
    acct = account()
    assert sku_violations([acct, deployment(sku, of=acct)]) == []


@pytest.mark.parametrize(
    "sku", ["GlobalStandard", "GlobalProvisionedManaged", "GlobalBatch", "Developer"]
)
def test_global_and_developer_skus_are_refused(sku: str) -> None:
    acct = account()
    (message,) = sku_violations([acct, deployment(sku, of=acct)])
    assert repr(sku) in message and "any Azure location" in message


def test_global_sku_passes_with_explicit_global_processing() -> None:
    acct = account()
    resources = [acct, deployment("GlobalStandard", of=acct)]
    assert sku_violations(resources, allowGlobalProcessing=True) == []


def test_data_zone_sku_from_a_region_in_no_data_zone_is_refused() -> None:
    acct = account("uksouth")
    resources = [acct, deployment("DataZoneStandard", of=acct)]
    (message,) = sku_violations(resources, extraJurisdictions=["uk"])
    assert "uksouth" in message and "data zone" in message
    assert (
        len(sku_violations(resources, extraJurisdictions=["uk"], allowGlobalProcessing=True)) == 1
    )


def test_us_data_zone_is_outside_zone_eu() -> None:
    acct = account("eastus2")
    resources = [acct, deployment("DataZoneStandard", of=acct)]
    (message,) = sku_violations(resources)
    assert "'DataZoneStandard'" in message and "may process data in us" in message
    assert sku_violations(resources, extraJurisdictions=["us"]) == []


def test_unknown_sku_is_refused() -> None:
    acct = account()
    (message,) = sku_violations([acct, deployment("Turbo", of=acct)])
    assert "'Turbo'" in message


@pytest.mark.parametrize(("sku", "fragment"), [(UNKNOWN, "unknown at preview"), (None, "not set")])
def test_unknown_or_missing_sku_fails_closed(sku: Any, fragment: str) -> None:
    acct = account()
    (message,) = sku_violations([acct, deployment(sku, of=acct)])
    assert fragment in message


def test_deployment_without_its_account_in_the_stack_is_refused() -> None:
    (message,) = sku_violations([deployment("Standard", accountName="elsewhere")])
    assert "not in this stack" in message


def test_account_with_unknown_location_fails_closed() -> None:
    acct = account(UNKNOWN)
    (message,) = sku_violations([acct, deployment("Standard", of=acct)])
    assert "could not be checked" in message


def test_deployment_joins_its_account_by_name_when_there_is_no_dependency() -> None:
    assert sku_violations([account(), deployment("Standard")]) == []
    assert len(sku_violations([account(), deployment("GlobalStandard")])) == 1
    # The same account name in another resource group is another account.
    assert len(sku_violations([account(), deployment("Standard", resourceGroupName="rg-2")])) == 1


def test_dependency_wins_over_a_same_named_account() -> None:
    in_zone = account(name="in-zone")
    far = account("westus", name="far")
    # The deployment depends on the westus account; its Standard SKU processes in the US.
    (message,) = sku_violations([in_zone, far, deployment("Standard", of=far)])
    assert "'westus'" in message and "us" in message
