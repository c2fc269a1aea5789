"""The registry of reference shapes: one entry per ``gatehouse:<section>`` of the spec.

Adding a shape is one entry here: its spec section, its args model and how to build it.
Entries are built in order, so a consumer (the central gateway) comes after the shapes
whose route descriptors it takes; ``built`` holds the components created so far.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components.azure_openai import AzureOpenAI, AzureOpenAIArgs
from components.common import ShapeArgs, ShapeContext

Build = Callable[[Any, ShapeContext, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Shape:
    section: str
    args_type: type[ShapeArgs]
    build: Build


SHAPES: tuple[Shape, ...] = (
    Shape(
        "azure_openai",
        AzureOpenAIArgs,
        lambda args, ctx, built: AzureOpenAI("azure-openai", args, ctx),
    ),
)
