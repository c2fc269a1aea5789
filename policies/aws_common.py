"""What the AWS policy modules share: a resource's Region, its IAM documents, links.

Not a policy module (it exports no ``POLICIES``). Every reader fails closed: a value that is
unknown at preview or cannot be parsed is reported by the caller as "could not be checked".
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import PolicyProviderResource, PolicyResource

from components.residency import AWS_GLOBAL_SERVICES
from policies.base import MISSING, UNKNOWN, read

AWS: Final = "aws:"

BUCKET_TYPES: Final = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
ROLE: Final = "aws:iam/role:Role"
POLICY: Final = "aws:iam/policy:Policy"
VPC_ENDPOINT: Final = "aws:ec2/vpcEndpoint:VpcEndpoint"
VPC_ENDPOINT_POLICY: Final = "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"

# Resources whose ``policy`` input is an IAM policy document (identity or endpoint policy).
POLICY_PROPERTY_TYPES: Final = frozenset(
    {
        POLICY,
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
        VPC_ENDPOINT,
        VPC_ENDPOINT_POLICY,
    }
)


class Unchecked(ValueError):
    """A value the policy needs is unknown at preview, missing or malformed."""


# --- Regions ------------------------------------------------------------------------------


def service_of(resource_type: str) -> str:
    """The module of a pulumi-aws type token: "aws:iam/role:Role" -> "iam"."""
    return resource_type.split(":", 2)[1].split("/", 1)[0]


def is_global(resource_type: str) -> bool:
    """Types of AWS's global services (IAM, Organizations, Route 53, ...), which have no Region."""
    return service_of(resource_type) in AWS_GLOBAL_SERVICES


def region_of(props: Any, provider: PolicyProviderResource | None) -> str:
    """A resource's AWS Region, by precedence: its own ``region``, then its provider's.

    The provider is the explicit provider the resource names, or the default provider,
    whose properties are the stack's ``aws:*`` configuration (so ``aws:region``). Raises
    :class:`Unchecked` when no Region can be known at preview.
    """
    own = read(props, "region")
    if own is UNKNOWN:
        raise Unchecked("its `region` is unknown at preview")
    if isinstance(own, str) and own:
        return own
    if provider is None:
        raise Unchecked("it has no `region` and no provider to take one from")
    inherited = read(provider.props, "region")
    if inherited is UNKNOWN:
        raise Unchecked(f"the Region of its provider {provider.name!r} is unknown at preview")
    if isinstance(inherited, str) and inherited:
        return inherited
    raise Unchecked(
        f"it has no `region` and its provider {provider.name!r} sets none (for the default "
        "provider: the stack has no `aws:region`)"
    )


# --- IAM policy documents -------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    if value is None or value is MISSING:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def parse_document(value: Any) -> dict[str, Any]:
    """A policy document from a resource property (JSON text or an object)."""
    if value is UNKNOWN:
        raise Unchecked("the policy document is unknown at preview")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise Unchecked(f"the policy document is not valid JSON ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise Unchecked("the policy document is not a JSON object")
    document = dict(value)
    if not all(isinstance(s, Mapping) for s in as_list(document.get("Statement"))):
        raise Unchecked("the policy document's Statement is not a list of objects")
    return document


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


@dataclass(frozen=True)
class Found:
    """One IAM policy document found on a resource, and where."""

    where: str
    value: Any


def documents_of(resource_type: str, props: Any) -> list[Found]:
    """The identity and endpoint policy documents a resource carries."""
    found: list[Found] = []
    if resource_type in POLICY_PROPERTY_TYPES:
        policy = read(props, "policy")
        if policy is not MISSING:
            found.append(Found("policy", policy))
    if resource_type == ROLE:
        inline = read(props, "inlinePolicies")
        if inline is UNKNOWN:
            found.append(Found("inlinePolicies", UNKNOWN))
        for index, entry in enumerate(as_list(inline)):
            policy = read(entry, "policy")
            if policy is not MISSING:
                found.append(Found(f"inlinePolicies[{index}].policy", policy))
    return found


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in as_list(statement.get("Action")) if isinstance(a, str)]


def action_matches(pattern: str, action: str) -> bool:
    """IAM's action matching: case-insensitive, with * and ? wildcards."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def allows_any(statement: Mapping[str, Any], wanted: Iterable[str]) -> bool:
    """Whether an Allow statement grants at least one of ``wanted``."""
    if statement.get("Effect") != "Allow":
        return False
    wanted = list(wanted)
    if "NotAction" in statement:
        excluded = [a for a in as_list(statement["NotAction"]) if isinstance(a, str)]
        return any(not any(action_matches(p, w) for p in excluded) for w in wanted)
    return any(action_matches(p, w) for p in actions_of(statement) for w in wanted)


def checked_documents(
    resource_type: str, props: Any
) -> Iterator[tuple[str, dict[str, Any] | Unchecked]]:
    """Each document of a resource, parsed, or the reason it could not be checked."""
    for found in documents_of(resource_type, props):
        try:
            yield found.where, parse_document(found.value)
        except Unchecked as exc:
            yield found.where, exc


# --- links between resources of one stack -----------------------------------------------------


def linked(
    resource: PolicyResource, prop: str, target: PolicyResource, target_props: Sequence[str]
) -> bool:
    """Whether ``resource.<prop>`` refers to ``target``: by dependency, else by equal value."""
    if any(dep.urn == target.urn for dep in resource.property_dependencies.get(prop, [])):
        return True
    value = read(resource.props, prop)
    if not isinstance(value, str) or not value:
        return False
    return any(read(target.props, key) == value for key in target_props)


def of_types(resources: Iterable[PolicyResource], types: Iterable[str]) -> list[PolicyResource]:
    wanted = frozenset(types)
    return [r for r in resources if r.resource_type in wanted]


def trust_principals(statement: Mapping[str, Any]) -> list[str]:
    """The ``AWS`` principals of a trust statement ("*" counts as one)."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [p for p in as_list(principal.get("AWS")) if isinstance(p, str)]
    return []
