"""The Pulumi program: parse the spec once, then instantiate the enabled shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from components.common import ResidencyViolation, ShapeContext
from stacks.shapes import SHAPES
from stacks.spec import NAMESPACE, SpecBase, spec_from_config


def _shape(section: str, build: Callable[[], Any]) -> Any:
    """Build one shape; residency errors are re-raised with the full config key."""
    try:
        return build()
    except ResidencyViolation as exc:
        raise ResidencyViolation(
            exc.policy, f"{NAMESPACE}:{section}.{exc.field_path}", exc.message
        ) from None


def build(spec: SpecBase, environment: str) -> dict[str, Any]:
    """Create every enabled shape; returns their components by section name."""
    ctx: ShapeContext = spec.context(environment)
    shapes: dict[str, Any] = {}
    for shape in SHAPES:
        args = spec.section(shape.section)
        if args is None or not args.enabled:
            continue
        shapes[shape.section] = _shape(
            shape.section, partial(shape.build, shape.component, args, ctx, shapes)
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
