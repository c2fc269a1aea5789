"""Entry point the Pulumi engine (or ``gatehouse gate``) starts: serve ALL_POLICIES."""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies import ALL_POLICIES

PolicyPack(
    name="gatehouse",
    policies=ALL_POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Data residency, co-location and secure defaults for Gatehouse environments.",
)
