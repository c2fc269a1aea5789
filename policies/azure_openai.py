"""Secure defaults of Cognitive Services (Azure OpenAI) accounts.

Each policy checks one property of ``azure-native:cognitiveservices:Account``. A value that
is unknown at preview is reported, never passed: the account would otherwise be created
with whatever the computed value turns out to be.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from policies.base import MISSING, UNKNOWN, Control, Meta, read, resource_policy

ACCOUNT: Final = "azure-native:cognitiveservices:Account"

# Built-in Azure Policy definitions mirrored here (id = the definition's GUID), from
# https://github.com/Azure/azure-policy/tree/master/built-in-policies/policyDefinitions
# - "Azure AI Services resources should have key access disabled (disable local
#   authentication)": Azure Ai Services/DisableLocalAuth_Audit.json
LOCAL_AUTH_CONTROL: Final = Control("Azure Policy", "71ef260a-8f18-47b7-abcb-62d0673d94dc")
# - "Cognitive Services accounts should disable public network access":
#   Cognitive Services/DisablePublicNetworkAccess_Audit.json (now marked deprecated in favour
#   of 037eea7a below, which checks public access and the network ACL together)
PUBLIC_ACCESS_CONTROL: Final = Control("Azure Policy", "0725b4dd-7e76-479c-a735-68e7ee23d5ca")
# - "Azure AI Services resources should restrict network access":
#   Azure Ai Services/NetworkAcls_Audit.json
NETWORK_ACL_CONTROL: Final = Control("Azure Policy", "037eea7a-bd0a-46c5-9a66-03aea78705d3")
# - "Azure AI Services resources should encrypt data at rest with a customer-managed key
#   (CMK)": Cognitive Services/CustomerManagedKey_Audit.json
CMK_CONTROL: Final = Control("Azure Policy", "67121cc7-ff39-4ab8-b7e3-95b84dab487d")


def _path_name(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _matches(value: Any, allowed: Collection[Any]) -> bool:
    if isinstance(value, str):
        return value.lower() in {a.lower() for a in allowed if isinstance(a, str)}
    return any(value is a for a in allowed)


def account_property_check(
    path: tuple[str, ...], allowed: Collection[Any], expected: str
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """A check that the account property at ``path`` holds one of ``allowed`` values.

    Strings compare case-insensitively (ARM does); booleans by identity, so ``1`` is not
    ``True``. A missing value is reported because Azure's default is the unsafe one.
    """
    where = _path_name(path)

    def check(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != ACCOUNT:
            return
        value = read(args.props, *path)
        if value is UNKNOWN:
            report(f"{where} is unknown at preview, so it could not be checked; {expected}", None)
        elif not _matches(value, allowed):
            shown = "not set" if value is MISSING else repr(value)
            report(f"{where} is {shown}; {expected}", None)

    return check


def _policy(
    meta: Meta, path: tuple[str, ...], allowed: Collection[Any], expected: str
) -> ResourceValidationPolicy:
    return resource_policy(meta, account_property_check(path, allowed, expected))


local_auth_disabled = _policy(
    Meta(
        name="azure-cognitiveservices-local-auth-disabled",
        description="Cognitive Services accounts disable key (local) authentication, so only "
        "Microsoft Entra identities can call them.",
        severity=Severity.HIGH,
        remediation=(
            "1. Set properties.disableLocalAuth to true on the account. 2. Grant callers a "
            "data-plane role such as 'Cognitive Services OpenAI User' and use Entra tokens. "
            "3. Rotate and discard any keys handed out before."
        ),
        control=LOCAL_AUTH_CONTROL,
    ),
    ("properties", "disableLocalAuth"),
    (True,),
    "expected true (Entra ID authentication only)",
)

public_network_disabled = _policy(
    Meta(
        name="azure-cognitiveservices-public-network-disabled",
        description="Cognitive Services accounts disable public network access and are "
        "reached only through private endpoints.",
        severity=Severity.HIGH,
        remediation=(
            "1. Set properties.publicNetworkAccess to 'Disabled'. 2. Create a private "
            "endpoint (group 'account') and the privatelink DNS zones for the account. "
            "3. Reach the endpoint from peered or linked virtual networks."
        ),
        control=PUBLIC_ACCESS_CONTROL,
    ),
    ("properties", "publicNetworkAccess"),
    ("Disabled",),
    "expected 'Disabled'",
)

network_acl_deny = _policy(
    Meta(
        name="azure-cognitiveservices-network-acl-deny",
        description="Cognitive Services accounts deny network access by default "
        "(networkAcls.defaultAction 'Deny').",
        severity=Severity.HIGH,
        remediation=(
            "1. Set properties.networkAcls.defaultAction to 'Deny'. 2. Allow callers through "
            "private endpoints rather than IP or virtual-network rules."
        ),
        control=NETWORK_ACL_CONTROL,
    ),
    ("properties", "networkAcls", "defaultAction"),
    ("Deny",),
    "expected 'Deny'",
)

customer_managed_key = _policy(
    Meta(
        name="azure-cognitiveservices-customer-managed-key",
        description="Cognitive Services accounts encrypt data at rest with a customer-managed "
        "Key Vault key.",
        severity=Severity.MEDIUM,
        remediation=(
            "1. Create a Key Vault key (purge protection on) in a region inside the zone. "
            "2. Give a user-assigned identity 'Key Vault Crypto Service Encryption User' on it. "
            "3. Set properties.encryption.keySource to 'Microsoft.KeyVault' with the key's "
            "keyVaultProperties (the shape's customer_managed_key setting does this)."
        ),
        control=CMK_CONTROL,
        enforcement=EnforcementLevel.ADVISORY,
    ),
    ("properties", "encryption", "keySource"),
    ("Microsoft.KeyVault",),
    "expected 'Microsoft.KeyVault' (a customer-managed key)",
)

POLICIES: Final[list[Any]] = [
    local_auth_disabled,
    public_network_disabled,
    network_acl_deny,
    customer_managed_key,
]
