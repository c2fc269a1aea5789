"""What every shape shares: the environment context, tags and labels, route descriptors.

Every child resource carries the tags (cloud) or labels (Kubernetes) the policy pack reads:
jurisdiction, region, role, cost center, business unit and data classification.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TAG_PREFIX = "gatehouse:"

OFFLINE_SECRET = "[secret]"  # noqa: S105 - a placeholder, not a credential
"""What an offline render sees for an encrypted stack-file value it cannot decrypt: a
secret that is set. Under the Pulumi engine the program receives the decrypted value."""
LABEL_PREFIX = "gatehouse.dev/"

TAG_JURISDICTION = "jurisdiction"
TAG_REGION = "region"
TAG_ROLE = "role"
TAG_COST_CENTER = "cost-center"
TAG_BUSINESS_UNIT = "business-unit"
TAG_DATA_CLASSIFICATION = "data-classification"
TAG_SHAPE = "shape"


class Role(StrEnum):
    """What a resource does; co-location policies pair data with the compute that uses it."""

    COMPUTE = "compute"
    MODEL_ENDPOINT = "model-endpoint"
    DATA = "data"
    LOGS = "logs"
    NETWORK = "network"
    IDENTITY = "identity"
    KEYS = "keys"


class ShapeArgs(BaseModel):
    """Base of every shape's settings section in the environment spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True, description="default: the shape is deployed when its section exists"
    )


def check_own_tags(value: dict[str, str]) -> dict[str, str]:
    reserved = sorted(k for k in value if k.startswith(TAG_PREFIX))
    if reserved:
        raise ValueError(
            f"tag keys {', '.join(reserved)} are reserved; expected keys not starting with "
            f"'{TAG_PREFIX}' (Gatehouse sets those from the environment)"
        )
    return value


@dataclass(frozen=True)
class Placement:
    """Where a shape lands (a cloud region or an on-prem site) and that place's jurisdiction."""

    region: str
    jurisdiction: str


class ResidencyViolation(ValueError):
    """A shape was asked to place something outside the environment's residency zone.

    It names the policy of the pack that would refuse the same resource, so the offline
    gate and ``pulumi preview`` report the same rule, and the spec field that caused it.
    """

    def __init__(self, policy: str, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.policy = policy
        self.field_path = field_path
        self.message = message


@dataclass(frozen=True)
class ShapeContext:
    """Environment-wide facts a shape needs; built once from the environment spec."""

    environment: str
    business_unit: str
    cost_center: str
    data_classification: str
    jurisdictions: frozenset[str]
    allowed_regions: tuple[str, ...] = ()
    allow_global_processing: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    def _facts(self, *, region: str, jurisdiction: str, role: Role, shape: str) -> dict[str, str]:
        return {
            TAG_JURISDICTION: jurisdiction,
            TAG_REGION: region,
            TAG_ROLE: role.value,
            TAG_COST_CENTER: self.cost_center,
            TAG_BUSINESS_UNIT: self.business_unit,
            TAG_DATA_CLASSIFICATION: self.data_classification,
            TAG_SHAPE: shape,
        }

    def tags_for(
        self,
        *,
        region: str,
        jurisdiction: str,
        role: Role,
        shape: str,
        own: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Cloud tags: the spec's tags, the shape's ``own`` tags, then the ``gatehouse:*``
        facts (facts win)."""
        facts = self._facts(region=region, jurisdiction=jurisdiction, role=role, shape=shape)
        return {**self.tags, **(own or {}), **{TAG_PREFIX + k: v for k, v in facts.items()}}

    def labels_for(
        self, *, region: str, jurisdiction: str, role: Role, shape: str
    ) -> dict[str, str]:
        """Kubernetes labels (values sanitised to the label syntax)."""
        facts = self._facts(region=region, jurisdiction=jurisdiction, role=role, shape=shape)
        return {LABEL_PREFIX + k: label_value(v) for k, v in facts.items()}


_LABEL_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def label_value(value: str) -> str:
    """A Kubernetes label value: at most 63 characters of ``[A-Za-z0-9._-]``, alnum at ends."""
    cleaned = _LABEL_BAD.sub("-", value)[:63]
    return cleaned.strip("-._")


class Price(BaseModel):
    """Per-million-token prices, as the gateway's config expects them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)


@dataclass(frozen=True)
class RouteDescriptor:
    """One model deployment a serving shape offers the central gateway.

    ``settings`` holds the provider-specific fields of the gateway's deployment config
    (e.g. ``endpoint``/``deployment``/``api_version`` for Azure OpenAI).
    """

    provider: str
    model: str
    region: str
    jurisdiction: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    price: Price | None = None
    alias: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "region": self.region,
            "jurisdiction": self.jurisdiction,
            **dict(self.settings),
        }
        if self.price is not None:
            out["price"] = self.price.model_dump()
        if self.alias is not None:
            out["alias"] = self.alias
        return out
