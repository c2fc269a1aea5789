"""The environment spec: one typed model for the ``gatehouse:`` config namespace.

``stacks/Pulumi.<env>.yaml`` holds one key per section (``gatehouse:business_unit``,
``gatehouse:residency``, ``gatehouse:azure_openai``...). :func:`spec_from_config` turns
the engine's flat config into an :class:`EnvironmentSpec`; any wrong value fails with the
config key, the value received and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from components.common import ShapeContext
from components.residency import AWS_REGIONS, AZURE_REGIONS, ZONES, normalize_azure_location
from stacks.shapes import SHAPES

NAMESPACE = "gatehouse"


class SpecError(ValueError):
    """The environment spec is invalid; ``problems`` lists one line per bad field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid environment spec:\n  " + "\n  ".join(problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColocationException(_Section):
    """A data store allowed in another region than its compute, with a written reason."""

    compute_region: str
    data_region: str
    reason: str = Field(min_length=20, description="why this cross-region flow is acceptable")


class ResidencySpec(_Section):
    zone: str = Field("eu", description="default: 'eu' (regions located in EU member states)")
    extra_jurisdictions: list[str] = Field(
        default_factory=list,
        description="jurisdictions added to the zone explicitly, e.g. ['uk', 'ch', 'no']",
    )
    allowed_regions: list[str] = Field(
        default_factory=list, description="default: any region inside the zone"
    )
    allow_global_processing: bool = Field(
        False,
        description="unsafe opt-in: permit Azure Global/Developer SKUs and global inference "
        "profiles, which may process data outside the zone",
    )
    colocation_exceptions: list[ColocationException] = Field(default_factory=list)

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in ZONES:
            raise ValueError(f"unknown zone; expected one of {', '.join(sorted(ZONES))}")
        return value

    @field_validator("allowed_regions")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if region not in AWS_REGIONS and normalize_azure_location(region) not in AZURE_REGIONS:
                raise ValueError(
                    f"unknown region {region!r}; expected an AWS region code (eu-central-1) or "
                    "an Azure location name (swedencentral)"
                )
        return value


class SpecBase(_Section):
    """Everything an environment decides, under the ``gatehouse:`` namespace.

    One optional section per reference shape is added from :data:`stacks.shapes.SHAPES`.
    """

    business_unit: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")
    cost_center: str = Field(min_length=1, max_length=64)
    data_classification: Literal["public", "internal", "confidential", "restricted"]
    residency: ResidencySpec = Field(default_factory=ResidencySpec)
    tags: dict[str, str] = Field(default_factory=dict)

    def context(self, environment: str) -> ShapeContext:
        from components.residency import zone_jurisdictions

        return ShapeContext(
            environment=environment,
            business_unit=self.business_unit,
            cost_center=self.cost_center,
            data_classification=self.data_classification,
            jurisdictions=zone_jurisdictions(
                self.residency.zone, self.residency.extra_jurisdictions
            ),
            allowed_regions=tuple(self.residency.allowed_regions),
            allow_global_processing=self.residency.allow_global_processing,
            tags=dict(self.tags),
        )

    def policy_settings(self) -> dict[str, Any]:
        """The policy-pack configuration this environment implies."""
        return {
            "zone": self.residency.zone,
            "extraJurisdictions": list(self.residency.extra_jurisdictions),
            "allowGlobalProcessing": self.residency.allow_global_processing,
            "colocationExceptions": [
                e.model_dump(by_alias=True) for e in self.residency.colocation_exceptions
            ],
        }

    def section(self, name: str) -> Any:
        return getattr(self, name, None)


EnvironmentSpec = create_model(  # type: ignore[call-overload]
    "EnvironmentSpec",
    __base__=SpecBase,
    **{s.section: (s.args_type | None, None) for s in SHAPES},
)


def _decode(value: Any) -> Any:
    """Engine config values are strings; objects and arrays arrive as JSON text."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _key(loc: tuple[int | str, ...]) -> str:
    head, *rest = loc
    out = f"{NAMESPACE}:{head}"
    for part in rest:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (lists and optionals unwrapped)."""
    model: Any = EnvironmentSpec
    for part in loc:
        if isinstance(part, int):
            continue
        fields: Mapping[str, Any] = getattr(model, "model_fields", {})
        field = fields.get(part)
        if field is None:
            return None
        model = _unwrap(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _explain(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        owner = _model_at(loc[:-1])
        expected = ", ".join(sorted(owner.model_fields)) if owner else "a documented key"
        return f"{_key(loc)}: unknown key; expected one of: {expected}"
    if error["type"] == "missing":
        return f"{_key(loc)}: missing; expected a value ({error['msg'].lower()})"
    received = error.get("input")
    return f"{_key(loc)}: got {received!r}; expected {error['msg'][0].lower()}{error['msg'][1:]}"


def spec_from_config(config: Mapping[str, Any]) -> SpecBase:
    """Build the spec from flat config (``gatehouse:key`` -> value or JSON text)."""
    prefix = NAMESPACE + ":"
    data = {k[len(prefix) :]: _decode(v) for k, v in config.items() if k.startswith(prefix)}
    try:
        spec: SpecBase = EnvironmentSpec.model_validate(data)
        return spec
    except ValidationError as exc:
        raise SpecError([_explain(e) for e in exc.errors()]) from None
