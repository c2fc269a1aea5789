"""Co-location: every data-bearing resource sits in the region of the compute that uses it.

Data-bearing resources carry role ``data`` or ``logs`` (databases, caches, the audit
archive, log workspaces, invocation logs); compute carries role ``compute`` or
``model-endpoint`` (the gateway and the model endpoints). A data-bearing resource is
processed by the compute of its own shape; a shape without compute of its own (such as the
audit archive) is processed by the central gateway, or, without one, by any compute of the
stack. Its region must be one of that compute's regions, unless the environment's spec
allow-lists the pair of regions with a written reason (policy config
``colocationExceptions``). Regions come from the ``gatehouse:region`` tag or
``gatehouse.dev/region`` label, else the resource's own location; an on-premises site's
region is the site's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
)

from components.residency import normalize_azure_location
from policies.base import RESIDENCY_SCHEMA, Meta, read, stack_policy, tags_of

DATA_ROLES: Final = frozenset({"data", "logs"})
COMPUTE_ROLES: Final = frozenset({"compute", "model-endpoint"})
GATEWAY_SHAPE: Final = "central_gateway"
MIN_REASON: Final = 20

CONFIG_SCHEMA: Final = PolicyConfigSchema(
    properties={
        **RESIDENCY_SCHEMA.properties,
        "colocationExceptions": {
            "type": "array",
            "default": [],
            "items": {
                "type": "object",
                "properties": {
                    "compute_region": {"type": "string"},
                    "data_region": {"type": "string"},
                    "reason": {"type": "string", "minLength": MIN_REASON},
                },
                "required": ["compute_region", "data_region", "reason"],
            },
        },
    }
)


def normalize(region: str) -> str:
    return normalize_azure_location(region)


@dataclass(frozen=True)
class Placed:
    resource: PolicyResource
    role: str
    shape: str
    region: str | None  # None: not known


def _placed(resource: PolicyResource) -> Placed | None:
    facts = tags_of(resource.props)
    role = facts.get("role")
    if role not in DATA_ROLES | COMPUTE_ROLES:
        return None
    region: Any = facts.get("region")
    if not isinstance(region, str):
        region = read(resource.props, "location")
        if not isinstance(region, str):
            region = read(resource.props, "region")
    shape = facts.get("shape")
    return Placed(
        resource=resource,
        role=str(role),
        shape=shape if isinstance(shape, str) else "",
        region=normalize(region) if isinstance(region, str) else None,
    )


def exceptions_of(config: Mapping[str, Any] | None) -> set[tuple[str, str]]:
    """The allow-listed (compute region, data region) pairs that carry a reason."""
    pairs: set[tuple[str, str]] = set()
    for entry in (config or {}).get("colocationExceptions") or []:
        if not isinstance(entry, Mapping):
            continue
        compute, data, reason = (entry.get(k) for k in ("compute_region", "data_region", "reason"))
        if (
            isinstance(compute, str)
            and isinstance(data, str)
            and isinstance(reason, str)
            and len(reason.strip()) >= MIN_REASON
        ):
            pairs.add((normalize(compute), normalize(data)))
    return pairs


def _processors(item: Placed, compute: list[Placed]) -> tuple[str, list[Placed]]:
    own = [c for c in compute if c.shape and c.shape == item.shape]
    if own:
        return item.shape, own
    gateway = [c for c in compute if c.shape == GATEWAY_SHAPE]
    if gateway:
        return GATEWAY_SHAPE, gateway
    return "the stack's compute", compute


def problems(
    resources: Iterable[PolicyResource], allowed_pairs: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(urn, message) for every data-bearing resource away from its compute."""
    placed = [p for p in (_placed(r) for r in resources) if p is not None]
    compute = [p for p in placed if p.role in COMPUTE_ROLES]
    out: list[tuple[str, str]] = []
    for item in (p for p in placed if p.role in DATA_ROLES):
        label = f"{item.resource.name!r} (role {item.role}, shape {item.shape or '?'})"
        if item.region is None:
            out.append((item.resource.urn, f"{label} has no known region to check"))
            continue
        who, processors = _processors(item, compute)
        if not processors:
            out.append(
                (item.resource.urn, f"{label} has no compute in this stack to be co-located with")
            )
            continue
        if any(p.region is None for p in processors):
            out.append(
                (item.resource.urn, f"the region of {who}, which processes {label}, is not known")
            )
            continue
        regions = sorted({p.region for p in processors if p.region is not None})
        if item.region in regions:
            continue
        if any((r, item.region) in allowed_pairs for r in regions):
            continue
        out.append(
            (
                item.resource.urn,
                f"{label} is in {item.region!r}, but {who}, which processes it, runs in "
                f"{', '.join(map(repr, regions))}; expected the same region, or a "
                f"residency.colocation_exceptions entry {{compute_region: {regions[0]}, "
                f"data_region: {item.region}, reason: ...}}",
            )
        )
    return out


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    for urn, message in problems(args.resources, exceptions_of(args.get_config())):
        report(message, urn)


data_with_compute = stack_policy(
    Meta(
        name="gatehouse-colocation-data-with-compute",
        description="Every data-bearing resource is in the same region as the compute that "
        "processes it, unless the spec allow-lists the pair of regions with a reason.",
        severity=Severity.HIGH,
        remediation=(
            "Move the data store to the region of its compute (for the audit archive, the "
            "gateway's region), or add residency.colocation_exceptions with compute_region, "
            "data_region and a reason of at least 20 characters."
        ),
        config_schema=CONFIG_SCHEMA,
    ),
    _check,
)

POLICIES: Final[list[Any]] = [data_with_compute]
