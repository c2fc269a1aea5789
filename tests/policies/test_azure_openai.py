"""Secure defaults of Cognitive Services accounts: one changed property per case."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policies.azure_openai import POLICIES
from stacks.render import RenderedResource
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated

ACCOUNT = "azure-native:cognitiveservices:Account"
LOCAL_AUTH = "azure-cognitiveservices-local-auth-disabled"
PUBLIC = "azure-cognitiveservices-public-network-disabled"
ACL = "azure-cognitiveservices-network-acl-deny"
CMK = "azure-cognitiveservices-customer-managed-key"

BASELINE: dict[str, Any] = {
    "accountName": "aoai",
    "resourceGroupName": "rg-ai",
    "location": "swedencentral",
    "kind": "OpenAI",
    "sku": {"name": "S0"},
    "identity": {"type": "SystemAssigned"},
    "properties": {
        "customSubDomainName": "aoai",
        "publicNetworkAccess": "Disabled",
        "disableLocalAuth": True,
        "restrictOutboundNetworkAccess": True,
        "networkAcls": {"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
        "encryption": {
            "keySource": "Microsoft.KeyVault",
            "keyVaultProperties": {
                "keyVaultUri": "https://kv.vault.azure.net/",
                "keyName": "aoai",
                "identityClientId": "11111111-2222-3333-4444-555555555555",
            },
        },
    },
}


def account_with(path: tuple[str, ...], value: Any) -> RenderedResource:
    """The baseline with one property changed (``None`` removes it)."""
    props = copy.deepcopy(BASELINE)
    *parents, leaf = path
    target = props
    for key in parents:
        target = target[key]
    if value is None:
        del target[leaf]
    else:
        target[leaf] = value
    return resource(ACCOUNT, props)


def test_baseline_is_compliant() -> None:
    assert diagnostics(POLICIES, [resource(ACCOUNT, BASELINE)]) == []


@pytest.mark.parametrize(
    ("path", "value", "policy"),
    [
        (("properties", "disableLocalAuth"), False, LOCAL_AUTH),
        (("properties", "disableLocalAuth"), None, LOCAL_AUTH),
        (("properties", "disableLocalAuth"), "true", LOCAL_AUTH),
        (("properties", "disableLocalAuth"), 1, LOCAL_AUTH),
        (("properties", "publicNetworkAccess"), "Enabled", PUBLIC),
        (("properties", "publicNetworkAccess"), None, PUBLIC),
        (("properties", "networkAcls", "defaultAction"), "Allow", ACL),
        (("properties", "networkAcls"), None, ACL),
        (("properties", "encryption", "keySource"), "Microsoft.CognitiveServices", CMK),
        (("properties", "encryption"), None, CMK),
    ],
)
def test_one_changed_property_violates_one_policy(
    path: tuple[str, ...], value: Any, policy: str
) -> None:
    assert violated(POLICIES, [account_with(path, value)]) == {policy}


@pytest.mark.parametrize(
    ("path", "policy"),
    [
        (("properties", "disableLocalAuth"), LOCAL_AUTH),
        (("properties", "publicNetworkAccess"), PUBLIC),
        (("properties", "networkAcls", "defaultAction"), ACL),
    ],
)
def test_unknown_values_fail_closed(path: tuple[str, ...], policy: str) -> None:
    found = diagnostics(POLICIES, [account_with(path, UNKNOWN)])
    assert [d.policy for d in found] == [policy]
    assert found[0].mandatory
    assert "could not be checked" in found[0].message


def test_values_compare_case_insensitively_like_arm() -> None:
    relaxed = account_with(("properties", "publicNetworkAccess"), "disabled")
    assert violated(POLICIES, [relaxed]) == set()


def test_messages_name_the_value_received_and_expected() -> None:
    (found,) = diagnostics(
        POLICIES, [account_with(("properties", "publicNetworkAccess"), "Enabled")]
    )
    assert "properties.publicNetworkAccess is 'Enabled'; expected 'Disabled'" in found.message


def test_customer_managed_key_is_advisory_the_rest_mandatory() -> None:
    found = diagnostics(POLICIES, [account_with(("properties", "encryption"), None)])
    assert [(d.policy, d.enforcement) for d in found] == [(CMK, "advisory")]
    insecure = copy.deepcopy(BASELINE)
    insecure["properties"].update(disableLocalAuth=False, publicNetworkAccess="Enabled")
    insecure["properties"]["networkAcls"]["defaultAction"] = "Allow"
    enforcement = {
        d.policy: d.enforcement for d in diagnostics(POLICIES, [resource(ACCOUNT, insecure)])
    }
    assert enforcement == {LOCAL_AUTH: "mandatory", PUBLIC: "mandatory", ACL: "mandatory"}


def test_other_types_are_not_checked() -> None:
    search = resource("azure-native:search:Service", {"properties": {"disableLocalAuth": False}})
    assert violated(POLICIES, [search]) == set()
