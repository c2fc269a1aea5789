"""Every policy in the pack carries the metadata users and auditors rely on."""

import re

import pytest
from pulumi_policy import EnforcementLevel, Severity

from policies import ALL_POLICIES

NAME = re.compile(r"^(aws|azure|k8s|gatehouse)-[a-z0-9]+(-[a-z0-9]+)+$")


def test_pack_is_not_empty_and_names_are_unique() -> None:
    names = [p.name for p in ALL_POLICIES]
    assert len(names) >= 9
    assert len(names) == len(set(names))


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_policy_metadata(policy: object) -> None:
    name = policy.name  # type: ignore[attr-defined]
    assert NAME.match(name), f"{name} does not follow <cloud>-<service>-<rule>"
    description = policy.description  # type: ignore[attr-defined]
    assert description and description[0].isupper() and description.endswith(".")
    assert description.count(". ") == 0, f"{name}: description should be one sentence"
    assert isinstance(policy.severity, Severity)  # type: ignore[attr-defined]
    assert policy.remediation_steps, f"{name} has no remediation steps"  # type: ignore[attr-defined]
    assert policy.enforcement_level in (  # type: ignore[attr-defined]
        EnforcementLevel.MANDATORY,
        EnforcementLevel.ADVISORY,
    )


def test_residency_policies_default_to_zone_eu() -> None:
    zoned = [p for p in ALL_POLICIES if p.config_schema and "zone" in p.config_schema.properties]
    assert zoned, "no policy takes the residency zone"
    for policy in zoned:
        assert policy.config_schema.properties["zone"]["default"] == "eu"
        assert policy.enforcement_level == EnforcementLevel.MANDATORY
