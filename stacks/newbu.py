"""Scaffold a new business unit's environment from an existing one."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from components.residency import AWS_REGIONS, AZURE_REGIONS, normalize_azure_location
from stacks.environments import load_stack_config, stack_file, to_engine_config
from stacks.gate import Project
from stacks.program import build
from stacks.render import render
from stacks.shapes import SHAPES
from stacks.spec import NAMESPACE, spec_from_config

_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
# Keys whose value must be unique per business unit; dropped so the shape derives a new one.
_UNIQUE_KEYS = ("account_name", "custom_subdomain", "bucket_name", "name_prefix")


def _cloud(region: str) -> str | None:
    if region in AWS_REGIONS:
        return "aws"
    if normalize_azure_location(region) in AZURE_REGIONS:
        return "azure"
    return None


def new_business_unit(
    project: Project, *, name: str, source: str, cost_center: str, region: str | None
) -> Any:
    """Write ``stacks/Pulumi.<name>.yaml``; refuses to overwrite and validates first."""
    if not _NAME.match(name):
        raise ValueError(
            f"business unit name {name!r} is invalid: expected 2-31 characters of lower-case "
            "letters, digits and '-', starting with a letter"
        )
    target = stack_file(project.stacks_dir, name)
    if target.exists():
        raise FileExistsError(f"{target.name} already exists; refusing to overwrite it")
    config = load_stack_config(project.stacks_dir, source)
    config[f"{NAMESPACE}:business_unit"] = name
    config[f"{NAMESPACE}:cost_center"] = cost_center
    for shape in SHAPES:
        key = f"{NAMESPACE}:{shape.section}"
        if isinstance(config.get(key), Mapping):
            config[key] = {k: v for k, v in config[key].items() if k not in _UNIQUE_KEYS}
    if region:
        _move_to(config, region)
    engine_config = to_engine_config(config)
    spec = spec_from_config(engine_config)
    render(lambda: build(spec, name), stack=name, config=engine_config)
    text = yaml.safe_dump({"config": config}, sort_keys=False)
    with target.open("x", encoding="utf-8") as handle:
        handle.write(f"# Business unit '{name}', scaffolded from '{source}'.\n{text}")
    return target


def _move_to(config: dict[str, Any], region: str) -> None:
    """Move every shape of the region's cloud (AWS or Azure) to ``region``."""
    cloud = _cloud(region)
    if cloud is None:
        raise ValueError(
            f"--region {region!r} is not a known AWS or Azure region; expected e.g. "
            "'eu-central-1' or 'swedencentral'"
        )
    residency = dict(config.get(f"{NAMESPACE}:residency") or {})
    kept = [r for r in residency.get("allowed_regions") or [] if _cloud(r) != cloud]
    residency["allowed_regions"] = [*kept, region]
    config[f"{NAMESPACE}:residency"] = residency
    for shape in SHAPES:
        key = f"{NAMESPACE}:{shape.section}"
        section = config.get(key)
        if isinstance(section, Mapping) and _cloud(str(section.get("region", ""))) == cloud:
            config[key] = {**section, "region": region}
    provider_key = "aws:region" if cloud == "aws" else "azure-native:location"
    if provider_key in config:
        config[provider_key] = region
