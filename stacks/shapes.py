"""The registry of reference shapes: one entry per ``gatehouse:<section>`` of the spec.

Adding a shape is one entry here: its spec section, its args model and how to build it.
Entries are built in order, so a consumer (the central gateway) comes after the shapes
whose route descriptors it takes; ``built`` holds the components created so far.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.audit_archive import AuditArchive, AuditArchiveArgs
from components.azure_openai import AzureOpenAI, AzureOpenAIArgs
from components.bedrock_privatelink import BedrockPrivateLink, BedrockPrivateLinkArgs
from components.byoc import Byoc, ByocArgs
from components.central_gateway import (
    CentralGateway,
    CentralGatewayArgs,
    audit_sink_of,
    gateway_role,
    route_inputs,
)
from components.common import ShapeArgs, ShapeContext
from components.k8s_security import ClusterLocation
from components.vllm_nodes import VllmNodes, VllmNodesArgs

Build = Callable[[str, Any, ShapeContext, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Shape:
    """``build(name, args, ctx, built)`` creates the component named ``name``."""

    section: str
    args_type: type[ShapeArgs]
    build: Build

    @property
    def component(self) -> str:
        """The component's name in an environment: the section, dashed."""
        return self.section.replace("_", "-")


def _cluster(name: str, cluster: ClusterLocation) -> pulumi.ResourceOptions | None:
    """A provider for the named kubeconfig context; None keeps the default provider."""
    if cluster.kubeconfig_context is None:
        return None
    provider = k8s.Provider(f"{name}-cluster", context=cluster.kubeconfig_context)
    return pulumi.ResourceOptions(providers={"kubernetes": provider})


def _central_gateway(
    name: str, args: CentralGatewayArgs, ctx: ShapeContext, built: Mapping[str, Any]
) -> CentralGateway:
    routes, peers = route_inputs(built)
    return CentralGateway(
        name,
        args,
        ctx,
        routes=routes,
        model_peers=peers,
        aws_role_arn=gateway_role(built),
        audit_sink=audit_sink_of(built),
        opts=_cluster(name, args.cluster),
    )


SHAPES: tuple[Shape, ...] = (
    Shape(
        "azure_openai",
        AzureOpenAIArgs,
        lambda name, args, ctx, built: AzureOpenAI(name, args, ctx),
    ),
    Shape(
        "vllm_nodes",
        VllmNodesArgs,
        lambda name, args, ctx, built: VllmNodes(
            name, args, ctx, opts=_cluster(name, args.cluster)
        ),
    ),
    Shape(
        "audit_archive",
        AuditArchiveArgs,
        lambda name, args, ctx, built: AuditArchive(name, args, ctx),
    ),
    Shape(
        "bedrock_privatelink",
        BedrockPrivateLinkArgs,
        lambda name, args, ctx, built: BedrockPrivateLink(name, args, ctx),
    ),
    Shape("byoc", ByocArgs, lambda name, args, ctx, built: Byoc(name, args, ctx)),
    # Last: it consumes the route descriptors of every model-serving shape built before it.
    Shape("central_gateway", CentralGatewayArgs, _central_gateway),
)
