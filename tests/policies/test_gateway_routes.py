"""Every route in the central gateway's ConfigMap stays inside the zone."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from policies.gateway_routes import POLICIES
from tests.policies.harness import UNKNOWN, diagnostics, resource, violated
from tests.stacks.fixtures.k8s.baseline import CONFIG_MAP, facts

ROUTES = "k8s-configmap-gateway-routes-in-zone"

VLLM = {
    "provider": "openai",
    "region": "onprem-fra1",
    "jurisdiction": "eu",
    "base_url": "https://llama.vllm.svc:8000/v1",
    "model": "llama",
}
AZURE = {
    "provider": "azure_openai",
    "region": "swedencentral",
    "jurisdiction": "eu",
    "endpoint": "https://x.openai.azure.com/",
    "deployment": "gpt-4o",
    "api_version": "2024-10-21",
}
BEDROCK = {
    "provider": "bedrock",
    "region": "eu-central-1",
    "jurisdiction": "eu",
    "model": "anthropic.claude-3-haiku-20240307-v1:0",
}


def config_map(*deployments: dict[str, Any], labels: dict[str, str] | None = None) -> Any:
    config = {
        "jurisdictions": ["eu"],
        "models": [{"name": f"m{i}", "deployments": [d]} for i, d in enumerate(deployments)],
    }
    return {
        "metadata": {"name": "gateway-config", "labels": labels or facts()},
        "data": {"config.yaml": yaml.safe_dump(config)},
    }


def check(props: Any, settings: dict[str, Any] | None = None) -> set[str]:
    return violated(POLICIES, [resource(CONFIG_MAP, props)], settings=settings)


def test_in_zone_routes_pass() -> None:
    assert check(config_map(VLLM, AZURE, BEDROCK)) == set()


def test_route_to_a_us_deployment_fails() -> None:
    us = dict(AZURE, region="eastus", jurisdiction="us")
    found = diagnostics(POLICIES, [resource(CONFIG_MAP, config_map(VLLM, us))])
    assert {d.policy for d in found} == {ROUTES}
    assert "'eastus'" in found[0].message and "'us'" in found[0].message


@pytest.mark.parametrize(
    "deployment",
    [
        dict(AZURE, region="eastus"),  # declared eu, the tables say us
        dict(BEDROCK, region="us-east-1"),
        dict(BEDROCK, model="global.anthropic.claude-sonnet-4-20250514-v1:0"),
        dict(VLLM, region="us-east-1"),
    ],
    ids=["azure-region-us", "bedrock-region-us", "bedrock-global-profile", "cloud-region-us"],
)
def test_declared_jurisdiction_is_checked_against_the_tables(deployment: dict[str, Any]) -> None:
    assert check(config_map(deployment)) == {ROUTES}


def test_unknown_bedrock_profile_fails_closed() -> None:
    assert check(config_map(dict(BEDROCK, model="eu.vendor.not-a-model-v9:0"))) == {ROUTES}


def test_default_jurisdictions_outside_the_zone_fail() -> None:
    props = config_map(VLLM)
    config = yaml.safe_load(props["data"]["config.yaml"])
    config["jurisdictions"] = ["eu", "us"]
    props["data"]["config.yaml"] = yaml.safe_dump(config)
    assert check(props) == {ROUTES}


def test_unknown_config_fails_closed() -> None:
    props = config_map(VLLM)
    props["data"]["config.yaml"] = UNKNOWN
    assert check(props) == {ROUTES}


@pytest.mark.parametrize("text", ["models: [", "just text", "models: 3"])
def test_unparseable_config_fails(text: str) -> None:
    props = config_map(VLLM)
    props["data"]["config.yaml"] = text
    assert check(props) == {ROUTES}


def test_other_config_maps_are_ignored() -> None:
    us = dict(AZURE, region="eastus", jurisdiction="us")
    assert check(config_map(us, labels=facts(shape="vllm_nodes"))) == set()


def test_uk_route_passes_when_the_zone_adds_uk() -> None:
    uk = dict(AZURE, region="uksouth", jurisdiction="uk")
    assert check(config_map(uk)) == {ROUTES}
    assert check(config_map(uk), {"zone": "eu", "extraJurisdictions": ["uk"]}) == set()
