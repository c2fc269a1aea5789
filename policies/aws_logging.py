"""Logs: CloudWatch log groups are KMS-encrypted with retention; trails validate their files."""

from __future__ import annotations

from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from policies.base import MISSING, UNKNOWN, Control, Meta, read, resource_policy

LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
TRAIL: Final = "aws:cloudtrail/trail:Trail"


def _require(
    resource_type: str, prop: str, expectation: str
) -> Any:  # a resource check for one property
    def check(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != resource_type:
            return
        value = read(args.props, prop)
        if value is UNKNOWN:
            report(f"{prop} is unknown at preview, so it could not be checked", None)
        elif value is MISSING or value in ("", 0, False, None):
            report(f"{prop} is not set; {expectation}", None)

    return check


log_group_kms = resource_policy(
    Meta(
        name="aws-cloudwatch-log-group-kms",
        description="CloudWatch log groups are encrypted with a customer-managed KMS key.",
        severity=Severity.MEDIUM,
        remediation="Set kmsKeyId to a customer-managed key whose policy lets "
        "logs.<region>.amazonaws.com use it for this account's log groups.",
        control=Control(
            "Prowler",
            "cloudwatch_log_group_kms_encryption_enabled (AWS Config cloudwatch-log-group-"
            "encrypted)",
        ),
    ),
    _require(LOG_GROUP, "kmsKeyId", "expected a customer-managed KMS key ARN"),
)

log_group_retention = resource_policy(
    Meta(
        name="aws-cloudwatch-log-group-retention",
        description="CloudWatch log groups have a retention period instead of keeping logs "
        "forever.",
        severity=Severity.LOW,
        remediation="Set retentionInDays to one of CloudWatch Logs' values (e.g. 365) matching "
        "the records-retention rules that apply.",
        control=Control(
            "Prowler",
            "cloudwatch_log_group_retention_policy_specific_days_enabled (AWS Config "
            "cw-loggroup-retention-period-check)",
        ),
    ),
    _require(LOG_GROUP, "retentionInDays", "expected a retention period in days"),
)

trail_log_file_validation = resource_policy(
    Meta(
        name="aws-cloudtrail-log-file-validation",
        description="CloudTrail trails write digest files so tampering with logs is detectable.",
        severity=Severity.MEDIUM,
        remediation="Set enableLogFileValidation: true on the trail.",
        control=Control(
            "Prowler",
            "cloudtrail_log_file_validation_enabled (AWS Config cloud-trail-log-file-"
            "validation-enabled; CIS AWS Foundations 3.0 3.2)",
        ),
    ),
    _require(TRAIL, "enableLogFileValidation", "expected true"),
)

trail_kms = resource_policy(
    Meta(
        name="aws-cloudtrail-kms",
        description="CloudTrail trails encrypt their log files with a customer-managed KMS key.",
        severity=Severity.MEDIUM,
        remediation="Set kmsKeyId on the trail to a customer-managed key whose policy lets "
        "cloudtrail.amazonaws.com encrypt for this trail.",
        control=Control(
            "Prowler",
            "cloudtrail_kms_encryption_enabled (AWS Config cloud-trail-encryption-enabled; CIS "
            "AWS Foundations 3.0 3.5)",
        ),
    ),
    _require(TRAIL, "kmsKeyId", "expected a customer-managed KMS key ARN"),
)

POLICIES: Final[list[Any]] = [
    log_group_kms,
    log_group_retention,
    trail_log_file_validation,
    trail_kms,
]

__all__ = ["POLICIES"]
