import os

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def crash(args, report_violation):
    os._exit(3)


PolicyPack(
    name="crashing",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name="test-crash", description="d", validate=crash)],
)
