"""Checks every AWS shape's args share (account id, log retention, reserved tags)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from components.bedrock_privatelink import BedrockPrivateLinkArgs
from components.byoc import ByocArgs
from components.common import OFFLINE_SECRET

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def section(env: str, name: str) -> dict[str, Any]:
    config = yaml.safe_load((STACKS / f"Pulumi.{env}.yaml").read_text())["config"]
    data: dict[str, Any] = config[f"gatehouse:{name}"]
    if name == "byoc":
        data["vendor"]["external_id"] = OFFLINE_SECRET
    return data


SHAPES = [
    pytest.param(BedrockPrivateLinkArgs, section("prod-eu", "bedrock_privatelink"), id="bedrock"),
    pytest.param(ByocArgs, section("byoc-eu", "byoc"), id="byoc"),
]


@pytest.mark.parametrize(("model", "data"), SHAPES)
def test_shipped_sections_are_valid(model: type[BaseModel], data: dict[str, Any]) -> None:
    model.model_validate(data)


@pytest.mark.parametrize(("model", "data"), SHAPES)
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("account_id", "12345", "account_id"),
        ("log_retention_days", 2, "retention values"),
        ("tags", {"gatehouse:role": "x"}, "reserved"),
    ],
)
def test_shared_checks_refuse_bad_values(
    model: type[BaseModel], data: dict[str, Any], field: str, value: Any, expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        model.model_validate({**data, field: value})
