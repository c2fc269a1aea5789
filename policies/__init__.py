"""The Gatehouse CrossGuard policy pack.

``ALL_POLICIES`` is importable without side effects; ``policies/__main__.py`` only wraps it
in a ``PolicyPack``. Each module holds one concern and exports ``POLICIES``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# One entry per policy module; each exports POLICIES.
_MODULES = (
    "policies.azure_residency",
    "policies.azure_openai",
    "policies.azure_stack",
    "policies.aws_residency",
    "policies.aws_iam",
    "policies.aws_bedrock",
    "policies.aws_s3",
    "policies.aws_kms",
    "policies.aws_network",
    "policies.aws_logging",
    "policies.aws_byoc",
    "policies.k8s_pod_security",
    "policies.k8s_workloads",
    "policies.k8s_network",
    "policies.k8s_availability",
    "policies.k8s_residency",
    "policies.gateway_routes",
    "policies.colocation",
)


def _collect() -> list[Any]:
    collected: list[Any] = []
    for module in _MODULES:
        collected.extend(import_module(module).POLICIES)
    return collected


ALL_POLICIES: list[Any] = _collect()

__all__ = ["ALL_POLICIES"]
