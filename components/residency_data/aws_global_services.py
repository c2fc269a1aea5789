"""AWS actions that are exempted from Region pinning, as AWS documents them.

Source: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_examples_general.html
("Deny access to AWS based on the requested AWS Region"), checked 2026-11-27. The example
SCP denies every action whose ``aws:RequestedRegion`` is not approved, except the actions
in its ``NotAction`` list, "because global services have endpoints that are physically
hosted by the us-east-1 Region". AWS adds that the example "might not include all of the
latest global AWS services or operations". The list below is that example's ``NotAction``
list, entry for entry.

Related: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_deny-requested-region.html
names CloudFront, IAM, Route 53 and Support as the popular global services with a single
endpoint in us-east-1.
"""

from __future__ import annotations

SOURCE = (
    "https://docs.aws.amazon.com/organizations/latest/userguide/"
    "orgs_manage_policies_scps_examples_general.html"
)
CHECKED = "2026-11-27"

REGION_DENY_SCP_NOT_ACTIONS: tuple[str, ...] = (
    "a4b:*",
    "acm:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "budgets:*",
    "ce:*",
    "chime:*",
    "cloudfront:*",
    "config:*",
    "cur:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "fms:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "kms:*",
    "mobileanalytics:*",
    "networkmanager:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "s3:GetAccountPublic*",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:PutAccountPublic*",
    "shield:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
    "wellarchitected:*",
)

# Service prefixes that the example exempts as a whole but whose resources AWS documents as
# Regional. A residency boundary must keep pinning them (fail closed), so they are left out
# of components.residency.AWS_GLOBAL_SERVICES:
# - kms: "key policies are Regional. A key policy controls access only to a KMS key in the
#   same Region" -- https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html ;
#   a KMS call in another Region also sends the data to be encrypted to that Region.
# - acm: "Certificates in ACM are regional resources"
#   -- https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html
# - waf-regional: the Regional (non-CloudFront) API of AWS WAF Classic; its name says it.
# Checked 2026-11-27.
REGIONAL_DESPITE_EXAMPLE: tuple[str, ...] = ("kms", "acm", "waf-regional")
