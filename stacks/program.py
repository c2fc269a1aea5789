"""The Pulumi program: parse the spec once, then instantiate the enabled shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from components.common import ResidencyViolation, ShapeContext
from stacks.spec import NAMESPACE, EnvironmentSpec, spec_from_config


def _shape(section: str, build: Callable[[], Any]) -> Any:
    """Build one shape; residency errors are re-raised with the full config key."""
    try:
        return build()
    except ResidencyViolation as exc:
        raise ResidencyViolation(
            exc.policy, f"{NAMESPACE}:{section}.{exc.field_path}", exc.message
        ) from None


def build(spec: EnvironmentSpec, environment: str) -> dict[str, Any]:
    """Create every enabled shape; returns their components by section name."""
    ctx: ShapeContext = spec.context(environment)
    shapes: dict[str, Any] = {}
    if spec.azure_openai is not None and spec.azure_openai.enabled:
        from components.azure_openai import AzureOpenAI

        args = spec.azure_openai
        shapes["azure_openai"] = _shape(
            "azure_openai", lambda: AzureOpenAI("azure-openai", args, ctx)
        )
    for section, component in shapes.items():
        for output in ("endpoint", "routes"):
            if hasattr(component, output):
                pulumi.export(f"{section}.{output}", getattr(component, output))
    return shapes


def current_config() -> Mapping[str, Any]:
    """Every config key the engine gave this program."""
    return {**get_config_env(), **CONFIG.get()}


def main() -> None:
    build(spec_from_config(current_config()), pulumi.get_stack())
