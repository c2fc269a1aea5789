"""Building blocks every policy module uses: metadata, residency config, fail-closed reads.

Policies must never pass silently. ``pulumi_policy`` turns an access to a value that is
unknown at preview into an advisory diagnostic, so residency policies read values through
:func:`read` and report an unknown value as a violation themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from components.residency import zone_jurisdictions

TAG_PREFIX: Final = "gatehouse:"
LABEL_PREFIX: Final = "gatehouse.dev/"


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING: Final = _Sentinel("MISSING")
UNKNOWN: Final = _Sentinel("UNKNOWN")


def _is_sequence(value: Any) -> bool:
    """Lists as policies receive them: plain lists, or the policy SDK's read-only proxies."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def read(props: Any, *path: str | int) -> Any:
    """Follow ``path`` into resource properties; ``MISSING`` or ``UNKNOWN`` instead of raising.

    A list comes back as a plain ``list`` (its items still checked for unknowns).
    """
    current = props
    try:
        for step in path:
            if isinstance(step, int):
                if not _is_sequence(current) or step >= len(current):
                    return MISSING
                current = current[step]
            else:
                if not isinstance(current, Mapping) or step not in current:
                    return MISSING
                current = current[step]
        # Touch scalar values so the proxy raises on unknowns now, not later.
        if isinstance(current, Mapping):
            dict(current)
        elif _is_sequence(current):
            current = list(current)
    except UnknownValueError:
        return UNKNOWN
    return current


@dataclass(frozen=True)
class Control:
    """A built-in control the policy mirrors (Azure Policy id, Prowler check, CIS id...)."""

    framework: str
    reference: str

    def as_framework(self) -> PolicyComplianceFramework:
        return PolicyComplianceFramework(name=self.framework, reference=self.reference)


@dataclass(frozen=True)
class Meta:
    name: str
    description: str
    severity: Severity
    remediation: str
    control: Control | None = None
    enforcement: EnforcementLevel = EnforcementLevel.MANDATORY
    config_schema: PolicyConfigSchema | None = None


ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation], None]


def _metadata(meta: Meta) -> dict[str, Any]:
    return {
        "name": meta.name,
        "description": meta.description,
        "enforcement_level": meta.enforcement,
        "config_schema": meta.config_schema,
        "severity": meta.severity,
        "framework": meta.control.as_framework() if meta.control else None,
        "remediation_steps": meta.remediation,
    }


def resource_policy(meta: Meta, check: ResourceCheck) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(validate=check, **_metadata(meta))


def stack_policy(meta: Meta, check: StackCheck) -> StackValidationPolicy:
    return StackValidationPolicy(validate=check, **_metadata(meta))


# --- residency configuration -------------------------------------------------------------

RESIDENCY_SCHEMA: Final = PolicyConfigSchema(
    properties={
        "zone": {"type": "string", "default": "eu"},
        "extraJurisdictions": {"type": "array", "items": {"type": "string"}, "default": []},
        "allowGlobalProcessing": {"type": "boolean", "default": False},
    }
)


@dataclass(frozen=True)
class Residency:
    """The residency zone a policy enforces. Without configuration: zone ``eu``."""

    zone: str
    jurisdictions: frozenset[str]
    allow_global_processing: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Residency:
        config = config or {}
        zone = str(config.get("zone") or "eu")
        extra: Iterable[str] = config.get("extraJurisdictions") or ()
        return cls(
            zone=zone,
            jurisdictions=zone_jurisdictions(zone, extra),
            allow_global_processing=bool(config.get("allowGlobalProcessing", False)),
        )

    def describe(self) -> str:
        return f"zone '{self.zone}' ({', '.join(sorted(self.jurisdictions))})"


def residency_of(args: ResourceValidationArgs | StackValidationArgs) -> Residency:
    return Residency.from_config(args.get_config())


def tags_of(props: Any) -> Mapping[str, Any]:
    """A resource's ``gatehouse:*`` tags or ``gatehouse.dev/*`` labels, without the prefix."""
    out: dict[str, Any] = {}
    for source, prefix in (
        (read(props, "tags"), TAG_PREFIX),
        (read(props, "metadata", "labels"), LABEL_PREFIX),
    ):
        if isinstance(source, Mapping):
            for key, value in source.items():
                if isinstance(key, str) and key.startswith(prefix):
                    out[key[len(prefix) :]] = value
    return out
