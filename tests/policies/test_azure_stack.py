"""Stack policies: each Cognitive Services account has a private endpoint and diagnostics."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from policies.azure_stack import POLICIES
from stacks.render import RenderedResource
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated

PRIVATE_ENDPOINT_POLICY = "azure-cognitiveservices-private-endpoint-exists"
DIAGNOSTICS_POLICY = "azure-cognitiveservices-diagnostic-setting-exists"

ACCOUNT = "azure-native:cognitiveservices:Account"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
ARM_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai/providers/"
    "Microsoft.CognitiveServices/accounts/{name}"
)
WORKSPACE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai/providers/"
    "Microsoft.OperationalInsights/workspaces/logs"
)


def account(name: str = "aoai") -> RenderedResource:
    props = {"accountName": name, "resourceGroupName": "rg-ai", "location": "swedencentral"}
    return resource(ACCOUNT, props, name=f"{name}-account")


def depending(rendered: RenderedResource, key: str, *on: RenderedResource) -> RenderedResource:
    return dataclasses.replace(rendered, property_dependencies={key: tuple(r.urn for r in on)})


def endpoint(
    to: RenderedResource | None,
    *,
    groups: list[str] | None = None,
    service_id: str = UNKNOWN,
    key: str = "privateLinkServiceConnections",
    name: str = "pe",
) -> RenderedResource:
    connection = {
        "name": "account",
        "groupIds": ["account"] if groups is None else groups,
        "privateLinkServiceId": service_id,
    }
    props = {"location": "swedencentral", "subnet": {"id": "subnet"}, key: [connection]}
    rendered = resource(PRIVATE_ENDPOINT, props, name=name)
    return depending(rendered, key, to) if to is not None else rendered


def setting(
    to: RenderedResource | None,
    *,
    logs: list[dict[str, Any]] | None = None,
    type_: str = DIAGNOSTICS,
    destination: dict[str, Any] | None = None,
    resource_uri: str = UNKNOWN,
) -> RenderedResource:
    props = {
        "resourceUri": resource_uri,
        "logs": [{"categoryGroup": "allLogs", "enabled": True}] if logs is None else logs,
        "metrics": [{"category": "AllMetrics", "enabled": True}],
        **({"workspaceId": WORKSPACE_ID} if destination is None else destination),
    }
    rendered = resource(type_, props, name="diag")
    return depending(rendered, "resourceUri", to) if to is not None else rendered


def baseline(acct: RenderedResource | None = None) -> list[RenderedResource]:
    acct = acct or account()
    return [acct, endpoint(acct), setting(acct)]


def test_baseline_is_compliant() -> None:
    assert diagnostics(POLICIES, baseline()) == []


def test_no_accounts_no_findings() -> None:
    assert diagnostics(POLICIES, [endpoint(None), setting(None)]) == []


# --- private endpoint -------------------------------------------------------------------------


def test_account_without_private_endpoint_is_refused() -> None:
    acct = account()
    found = diagnostics(POLICIES, [acct, setting(acct)])
    assert [(d.policy, d.urn) for d in found] == [(PRIVATE_ENDPOINT_POLICY, acct.urn)]
    assert "'aoai-account'" in found[0].message


def test_endpoint_on_another_sub_resource_does_not_count() -> None:
    acct = account()
    resources = [acct, endpoint(acct, groups=["blob"]), setting(acct)]
    assert violated(POLICIES, resources) == {PRIVATE_ENDPOINT_POLICY}


def test_endpoint_to_another_account_does_not_count() -> None:
    ours, theirs = account("ours"), account("theirs")
    resources = [ours, theirs, endpoint(theirs), setting(ours), setting(theirs)]
    found = diagnostics(POLICIES, resources)
    assert [(d.policy, d.urn) for d in found] == [(PRIVATE_ENDPOINT_POLICY, ours.urn)]


def test_endpoint_matches_a_literal_account_id() -> None:
    acct = account()
    pe = endpoint(None, service_id=ARM_ID.format(name="AOAI"))
    assert violated(POLICIES, [acct, pe, setting(acct)]) == set()
    other = endpoint(None, service_id=ARM_ID.format(name="aoai-2"))
    assert violated(POLICIES, [acct, other, setting(acct)]) == {PRIVATE_ENDPOINT_POLICY}


def test_manual_connections_count_too() -> None:
    acct = account()
    pe = endpoint(acct, key="manualPrivateLinkServiceConnections")
    assert violated(POLICIES, [acct, pe, setting(acct)]) == set()


def test_each_account_needs_its_own_endpoint() -> None:
    one, two = account("one"), account("two")
    resources = [*baseline(one), two, setting(two)]
    found = diagnostics(POLICIES, resources)
    assert [(d.policy, d.urn) for d in found] == [(PRIVATE_ENDPOINT_POLICY, two.urn)]


# --- diagnostic settings ----------------------------------------------------------------------


def test_account_without_diagnostic_setting_is_refused() -> None:
    acct = account()
    found = diagnostics(POLICIES, [acct, endpoint(acct)])
    assert [(d.policy, d.urn) for d in found] == [(DIAGNOSTICS_POLICY, acct.urn)]
    assert "no diagnostic setting" in found[0].message


@pytest.mark.parametrize(
    "logs",
    [
        [{"categoryGroup": "allLogs", "enabled": False}],
        [{"category": "RequestResponse", "enabled": True}],
        [],
    ],
)
def test_settings_that_miss_the_audit_logs_are_refused(logs: list[dict[str, Any]]) -> None:
    acct = account()
    found = diagnostics(POLICIES, [acct, endpoint(acct), setting(acct, logs=logs)])
    assert [d.policy for d in found] == [DIAGNOSTICS_POLICY]
    assert "Audit" in found[0].message


@pytest.mark.parametrize(
    "logs",
    [
        [{"categoryGroup": "audit", "enabled": True}],
        [{"category": "Audit", "enabled": True}, {"category": "Trace", "enabled": False}],
    ],
)
def test_audit_group_or_category_is_enough(logs: list[dict[str, Any]]) -> None:
    acct = account()
    assert violated(POLICIES, [acct, endpoint(acct), setting(acct, logs=logs)]) == set()


def test_setting_without_a_destination_is_refused() -> None:
    acct = account()
    resources = [acct, endpoint(acct), setting(acct, destination={})]
    assert violated(POLICIES, resources) == {DIAGNOSTICS_POLICY}


def test_setting_on_another_resource_does_not_count() -> None:
    acct, other = account(), account("other")
    resources = [acct, other, endpoint(acct), endpoint(other, name="pe2"), setting(other)]
    found = diagnostics(POLICIES, resources)
    assert [(d.policy, d.urn) for d in found] == [(DIAGNOSTICS_POLICY, acct.urn)]


def test_v2_insights_type_and_literal_ids_are_understood() -> None:
    acct = account()
    legacy = setting(
        None,
        type_="azure-native:insights:DiagnosticSetting",
        resource_uri=ARM_ID.format(name="aoai"),
    )
    assert violated(POLICIES, [acct, endpoint(acct), legacy]) == set()
