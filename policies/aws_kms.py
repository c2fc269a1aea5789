"""KMS: customer-managed symmetric keys rotate their key material automatically."""

from __future__ import annotations

from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from policies.base import MISSING, UNKNOWN, Control, Meta, read, resource_policy

KEY: Final = "aws:kms/key:Key"
# Automatic rotation exists for symmetric encryption keys only ("Supported key types"):
# https://docs.aws.amazon.com/kms/latest/developerguide/rotating-keys.html (checked 2026-11-27).
SYMMETRIC: Final = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT: Final = "ENCRYPT_DECRYPT"


def rotation_problem(props: Any) -> str | None:
    """Why a key that can rotate does not, or None (asymmetric and HMAC keys cannot)."""
    spec = read(props, "customerMasterKeySpec")
    usage = read(props, "keyUsage")
    if spec is UNKNOWN or usage is UNKNOWN:
        return "the key's spec or usage is unknown at preview, so rotation could not be checked"
    if spec not in (MISSING, SYMMETRIC) or usage not in (MISSING, ENCRYPT_DECRYPT):
        return None
    if read(props, "customKeyStoreId") not in (MISSING, "", None):
        return None  # keys in custom key stores rotate manually
    enabled = read(props, "enableKeyRotation")
    if enabled is UNKNOWN:
        return "enableKeyRotation is unknown at preview"
    if enabled is not True:
        return "automatic rotation is off; set enableKeyRotation: true"
    return None


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != KEY:
        return
    problem = rotation_problem(args.props)
    if problem:
        report(problem, None)


key_rotation = resource_policy(
    Meta(
        name="aws-kms-key-rotation",
        description="Customer-managed symmetric KMS keys have automatic rotation on.",
        severity=Severity.MEDIUM,
        remediation="Set enableKeyRotation: true (and rotationPeriodInDays, 90-2560, if a "
        "period other than a year is required).",
        control=Control(
            "Prowler",
            "kms_cmk_rotation_enabled (AWS Config cmk-backing-key-rotation-enabled; CIS AWS "
            "Foundations 3.0 3.6)",
        ),
    ),
    _check,
)

POLICIES: Final[list[Any]] = [key_rotation]

__all__ = ["POLICIES", "rotation_problem"]
