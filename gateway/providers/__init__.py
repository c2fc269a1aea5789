"""Provider adapters, one module per ``provider`` value of a deployment.

Each module exposes ``create(deployment, environ) -> Adapter`` and is imported only when a
deployment names it, so an unused provider's dependencies are never loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from gateway.providers.base import Adapter

PROVIDERS = ("openai", "azure_openai", "bedrock", "anthropic")


def create_adapter(deployment: Any, environ: Mapping[str, str]) -> Adapter:
    """The adapter for ``deployment``; raises ConfigError when a named secret is missing."""
    provider: str = deployment.provider
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
    module = importlib.import_module(f"gateway.providers.{provider}")
    adapter: Adapter = module.create(deployment, environ)
    return adapter
