"""Run policies through the Analyzer servicer in-process, the way the engine calls them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import struct_pb2
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from stacks.analyzer import Diagnostic, InProcessPack, run_analysis
from stacks.render import RenderedResource, Rendering

UNKNOWN = UNKNOWN_STRING_VALUE


def resource(
    type_: str,
    props: Mapping[str, Any],
    *,
    name: str = "r",
    parent: str | None = None,
    provider: str | None = None,
    custom: bool = True,
) -> RenderedResource:
    struct = struct_pb2.Struct()
    struct.update(dict(props))
    return RenderedResource(
        urn=f"urn:pulumi:test::gatehouse::{type_}::{name}",
        type=type_,
        name=name,
        parent=parent,
        custom=custom,
        provider=provider,
        properties=struct,
    )


def diagnostics(
    policies: list[Any],
    resources: Iterable[RenderedResource],
    *,
    settings: Mapping[str, Any] | None = None,
    stack_config: Mapping[str, str] | None = None,
) -> list[Diagnostic]:
    rendering = Rendering(stack_urn="", resources=list(resources), outputs={})
    return run_analysis(
        InProcessPack(policies),
        rendering,
        settings=settings or {},
        stack_config=stack_config or {},
    )


def violated(
    policies: list[Any],
    resources: Iterable[RenderedResource],
    **kwargs: Any,
) -> set[str]:
    """Names of the policies that reported at least one violation."""
    return {d.policy for d in diagnostics(policies, resources, **kwargs)}
