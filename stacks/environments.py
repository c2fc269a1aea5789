"""Read ``stacks/Pulumi.<env>.yaml`` files the way the Pulumi CLI does, offline.

Errors are one clear paragraph: the file, what is wrong, and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.common import OFFLINE_SECRET

SECRET_PLACEHOLDER = OFFLINE_SECRET


class EnvironmentError_(Exception):
    """A stack file is missing, malformed or invalid."""


def stack_file(stacks_dir: Path, env: str) -> Path:
    return stacks_dir / f"Pulumi.{env}.yaml"


def list_environments(stacks_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))


def load_stack_config(stacks_dir: Path, env: str) -> dict[str, Any]:
    """The ``config:`` mapping of an environment's stack file (``namespace:key`` -> value)."""
    path = stack_file(stacks_dir, env)
    if not path.is_file():
        available = ", ".join(list_environments(stacks_dir)) or "none"
        raise EnvironmentError_(
            f"environment '{env}' not found: there is no {path.name} in {stacks_dir.name}/. "
            f"Available environments: {available}."
        )
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise EnvironmentError_(
            f"{path.name} is not valid YAML{where}: {problem}. Expected a YAML mapping with a "
            "top-level 'config:' key, as written by 'pulumi config set'."
        ) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("config"), Mapping):
        raise EnvironmentError_(
            f"{path.name} has no 'config:' mapping (got {type(document).__name__}). Expected "
            "a YAML mapping with a top-level 'config:' key holding 'gatehouse:*' settings."
        )
    config = dict(document["config"])
    for key in config:
        if not isinstance(key, str) or ":" not in key:
            raise EnvironmentError_(
                f"{path.name}: config key {key!r} has no namespace. Expected 'namespace:key', "
                "for example 'gatehouse:cost_center' or 'aws:region'."
            )
    return config


def _is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _strip_secrets(value: Any) -> Any:
    if _is_secret(value):
        return SECRET_PLACEHOLDER
    if isinstance(value, Mapping):
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


def to_engine_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Flatten config as the engine hands it to a program: strings, objects as JSON text.

    Encrypted values cannot be read offline and become a placeholder.
    """
    out: dict[str, str] = {}
    for key, value in config.items():
        value = _strip_secrets(value)
        out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def secret_keys(config: Mapping[str, Any]) -> list[str]:
    return [k for k, v in config.items() if _is_secret(v)]
