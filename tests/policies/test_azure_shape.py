"""The shipped Azure OpenAI shape through every Azure policy, and the policies' metadata."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from google.protobuf import struct_pb2

from components import azure_openai as shape
from policies import ALL_POLICIES
from stacks.render import RenderedResource
from tests.components.test_azure_openai import (
    IDENTITY,
    KEY_VERSION,
    PRINCIPAL,
    arm_account_outputs,
    make_args,
    make_ctx,
    render_shape,
)
from tests.policies.harness import diagnostics

AZURE_POLICIES = [p for p in ALL_POLICIES if p.name.startswith("azure-")]
CMK_POLICY = "azure-cognitiveservices-customer-managed-key"
CMK = {
    "kms_key_id": f"https://kv-payments.vault.azure.net/keys/aoai/{KEY_VERSION}",
    "identity_id": IDENTITY,
    "identity_client_id": PRINCIPAL,
}


@pytest.fixture(scope="module")
def rendered() -> list[RenderedResource]:
    return render_shape(make_args()).rendering.resources


def with_input(resources: list[RenderedResource], type_: str, **changes: Any) -> list[Any]:
    """The rendered resources with top-level inputs of every ``type_`` resource changed."""
    out = []
    for r in resources:
        if r.type == type_:
            props = struct_pb2.Struct()
            props.update({**r.inputs, **changes})
            r = dataclasses.replace(r, properties=props)
        out.append(r)
    return out


def test_the_shape_only_misses_the_advisory_customer_managed_key(
    rendered: list[RenderedResource],
) -> None:
    found = diagnostics(AZURE_POLICIES, rendered)
    assert [(d.policy, d.enforcement) for d in found] == [(CMK_POLICY, "advisory")]


def test_the_shape_with_a_customer_managed_key_is_clean() -> None:
    args = make_args(customer_managed_key=CMK)
    resources = render_shape(
        args, computed={"azure-native:cognitiveservices:Account": arm_account_outputs}
    ).rendering.resources
    assert diagnostics(AZURE_POLICIES, resources) == []


def test_a_region_outside_the_zone_in_the_rendered_shape_is_caught(
    rendered: list[RenderedResource],
) -> None:
    moved = with_input(rendered, "azure-native:operationalinsights:Workspace", location="westus")
    found = {d.policy for d in diagnostics(AZURE_POLICIES, moved) if d.mandatory}
    assert found == {"azure-operationalinsights-workspace-in-zone"}


def test_global_sku_allowed_by_the_spec_is_still_caught_by_a_default_pack() -> None:
    # The environment opted in to global processing; a pack left at its defaults refuses it.
    deployments = [
        {"name": "g", "model": "gpt-4o", "model_version": "2024-11-20", "sku": "GlobalStandard"}
    ]
    resources = render_shape(
        make_args(deployments=deployments), make_ctx(allow_global_processing=True)
    ).rendering.resources
    mandatory = {d.policy for d in diagnostics(AZURE_POLICIES, resources) if d.mandatory}
    assert mandatory == {shape.POLICY_DEPLOYMENT_SKU}
    relaxed = diagnostics(AZURE_POLICIES, resources, settings={"allowGlobalProcessing": True})
    assert not [d for d in relaxed if d.mandatory]


def test_component_names_policies_that_exist() -> None:
    names = {p.name for p in ALL_POLICIES}
    assert {shape.POLICY_LOCATION, shape.POLICY_DEPLOYMENT_SKU} <= names


EXPECTED = {
    "azure-resource-location-in-zone",
    "azure-operationalinsights-workspace-in-zone",
    "azure-cognitiveservices-deployment-sku-in-zone",
    "azure-cognitiveservices-local-auth-disabled",
    "azure-cognitiveservices-public-network-disabled",
    "azure-cognitiveservices-network-acl-deny",
    "azure-cognitiveservices-customer-managed-key",
    "azure-cognitiveservices-private-endpoint-exists",
    "azure-cognitiveservices-diagnostic-setting-exists",
}
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_every_azure_policy_is_shipped_once() -> None:
    names = [p.name for p in AZURE_POLICIES]
    assert sorted(names) == sorted(EXPECTED)


@pytest.mark.parametrize("policy", AZURE_POLICIES, ids=lambda p: p.name)
def test_metadata(policy: Any) -> None:
    assert re.fullmatch(r"azure-[a-z]+-[a-z0-9-]+", policy.name)
    description = policy.description
    assert description.endswith(".") and description.count(". ") == 0, description
    assert policy.severity is not None
    assert policy.remediation_steps.startswith("1. ")
    if policy.framework is not None:
        assert policy.framework.name == "Azure Policy"
        assert GUID.match(policy.framework.reference)


def test_only_the_customer_managed_key_is_advisory() -> None:
    advisory = {p.name for p in AZURE_POLICIES if p.enforcement_level.value == "advisory"}
    assert advisory == {CMK_POLICY}
