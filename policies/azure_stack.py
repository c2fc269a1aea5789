"""Stack-wide Azure checks: what every Cognitive Services account needs beside it.

A resource policy sees one resource at a time; these look at the whole stack to find, for
each account, the private endpoint that reaches it and the diagnostic setting that logs it.

A resource "refers to" an account when the property that should name the account either
depends on the account's URN (what the engine records when an Output of the account flows
into it, the common case and the only one visible while ids are unknown at preview), or
holds the account's ARM id literally (``.../providers/Microsoft.CognitiveServices/accounts/
<accountName>``, for accounts referenced by a fixed id).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from policies.base import Control, Meta, read, stack_policy

ACCOUNT: Final = "azure-native:cognitiveservices:Account"
PRIVATE_ENDPOINT: Final = "azure-native:network:PrivateEndpoint"
# azure-native v3 names the type "monitor"; v2 named it "insights" (kept as an alias).
DIAGNOSTIC_SETTINGS: Final = frozenset(
    {"azure-native:monitor:DiagnosticSetting", "azure-native:insights:DiagnosticSetting"}
)
PRIVATE_LINK_GROUP: Final = "account"

# Built-in Azure Policy definitions mirrored here (id = the definition's GUID), from
# https://github.com/Azure/azure-policy/tree/master/built-in-policies/policyDefinitions
# - "Azure AI Services resources should use Azure Private Link":
#   Azure Ai Services/EnablePrivateEndpoints_Audit.json
PRIVATE_LINK_CONTROL: Final = Control("Azure Policy", "d6759c02-b87f-42b7-892e-71b3f471d782")
# - "Diagnostic logs in Azure AI services resources should be enabled":
#   Azure Ai Services/DiagnosticLogs_Audit.json
DIAGNOSTIC_LOGS_CONTROL: Final = Control("Azure Policy", "1b4d1c4e-934c-4703-944c-27c82c06bebb")

# Diagnostic log selections that include the Audit category: the ``allLogs`` and ``audit``
# category groups, or the ``Audit`` category itself.
# https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings#category-groups
AUDIT_CATEGORY_GROUPS: Final = frozenset({"alllogs", "audit"})
AUDIT_CATEGORY: Final = "audit"
DESTINATIONS: Final = (
    "workspaceId",
    "storageAccountId",
    "eventHubAuthorizationRuleId",
    "marketplacePartnerId",
)


def _account_id_suffix(account: PolicyResource) -> str | None:
    name = read(account.props, "accountName")
    if not isinstance(name, str):
        return None
    return f"/providers/microsoft.cognitiveservices/accounts/{name.lower()}"


def refers_to(resource: PolicyResource, key: str, value: Any, account: PolicyResource) -> bool:
    """Whether ``resource``'s property ``key`` (whose value is ``value``) names ``account``."""
    if any(dep.urn == account.urn for dep in resource.property_dependencies.get(key, [])):
        return True
    suffix = _account_id_suffix(account)
    return suffix is not None and isinstance(value, str) and value.lower().endswith(suffix)


def _of_type(resources: Iterable[PolicyResource], types: Iterable[str]) -> Iterator[PolicyResource]:
    wanted = set(types)
    return (r for r in resources if r.resource_type in wanted)


def _connections(endpoint: PolicyResource) -> Iterator[tuple[str, Any]]:
    for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
        connections = read(endpoint.props, key)
        if isinstance(connections, list):
            for connection in connections:
                yield key, connection


def reaches(endpoint: PolicyResource, account: PolicyResource) -> bool:
    """Whether a private endpoint connects to the account's ``account`` sub-resource."""
    for key, connection in _connections(endpoint):
        groups = read(connection, "groupIds")
        service = read(connection, "privateLinkServiceId")
        if (
            isinstance(groups, list)
            and PRIVATE_LINK_GROUP in [g.lower() for g in groups if isinstance(g, str)]
            and refers_to(endpoint, key, service, account)
        ):
            return True
    return False


def _check_private_endpoints(args: StackValidationArgs, report: ReportViolation) -> None:
    endpoints = list(_of_type(args.resources, {PRIVATE_ENDPOINT}))
    for account in _of_type(args.resources, {ACCOUNT}):
        if not any(reaches(endpoint, account) for endpoint in endpoints):
            report(
                f"no private endpoint in this stack connects to account {account.name!r} "
                f"(expected a {PRIVATE_ENDPOINT} whose privateLinkServiceConnections name the "
                f"account's id with groupIds ['{PRIVATE_LINK_GROUP}'])",
                account.urn,
            )


def logs_audit(setting: PolicyResource) -> bool:
    """Whether a diagnostic setting enables the Audit category and sends it somewhere."""
    if not any(isinstance(read(setting.props, d), str) for d in DESTINATIONS):
        return False
    logs = read(setting.props, "logs")
    if not isinstance(logs, list):
        return False
    for entry in logs:
        if read(entry, "enabled") is not True:
            continue
        group = read(entry, "categoryGroup")
        category = read(entry, "category")
        if (isinstance(group, str) and group.lower() in AUDIT_CATEGORY_GROUPS) or (
            isinstance(category, str) and category.lower() == AUDIT_CATEGORY
        ):
            return True
    return False


def _check_diagnostics(args: StackValidationArgs, report: ReportViolation) -> None:
    settings = list(_of_type(args.resources, DIAGNOSTIC_SETTINGS))
    for account in _of_type(args.resources, {ACCOUNT}):
        targeting = [
            s
            for s in settings
            if refers_to(s, "resourceUri", read(s.props, "resourceUri"), account)
        ]
        if not targeting:
            report(
                f"no diagnostic setting in this stack targets account {account.name!r} "
                "(expected a DiagnosticSetting whose resourceUri is the account's id)",
                account.urn,
            )
        elif not any(logs_audit(s) for s in targeting):
            report(
                f"the diagnostic settings of account {account.name!r} do not send the Audit "
                "logs anywhere (expected an enabled log entry with categoryGroup 'allLogs' or "
                "'audit', or category 'Audit', and a destination such as workspaceId)",
                account.urn,
            )


private_endpoint_exists = stack_policy(
    Meta(
        name="azure-cognitiveservices-private-endpoint-exists",
        description="Every Cognitive Services account in the stack is reachable through a "
        "private endpoint on its 'account' sub-resource.",
        severity=Severity.HIGH,
        remediation=(
            "1. Create a network PrivateEndpoint in a subnet of your virtual network with a "
            "privateLinkServiceConnection to the account's id and groupIds ['account']. "
            "2. Link the privatelink.openai.azure.com and privatelink.cognitiveservices.azure.com "
            "DNS zones to the virtual network and add a DNS zone group to the endpoint."
        ),
        control=PRIVATE_LINK_CONTROL,
    ),
    _check_private_endpoints,
)

diagnostic_setting_exists = stack_policy(
    Meta(
        name="azure-cognitiveservices-diagnostic-setting-exists",
        description="Every Cognitive Services account in the stack sends its logs, Audit "
        "included, to a destination through a diagnostic setting.",
        severity=Severity.HIGH,
        remediation=(
            "1. Create a DiagnosticSetting with resourceUri set to the account's id. "
            "2. Enable logs with categoryGroup 'allLogs' (includes Audit) and metrics "
            "'AllMetrics'. 3. Send them to a Log Analytics workspace in the same region."
        ),
        control=DIAGNOSTIC_LOGS_CONTROL,
    ),
    _check_diagnostics,
)

POLICIES: Final[list[Any]] = [private_endpoint_exists, diagnostic_setting_exists]
