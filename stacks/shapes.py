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
    gateway_role,
    route_inputs,
)
from components.common import ShapeArgs, ShapeContext
from components.k8s_security import ClusterLocation
from components.vllm_nodes import VllmNodes, VllmNodesArgs

Build = Callable[[Any, ShapeContext, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Shape:
    section: str
    args_type: type[ShapeArgs]
    build: Build


def _cluster(name: str, cluster: ClusterLocation) -> pulumi.ResourceOptions | None:
    """A provider for the named kubeconfig context; None keeps the default provider."""
    if cluster.kubeconfig_context is None:
        return None
    provider = k8s.Provider(f"{name}-cluster", context=cluster.kubeconfig_context)
    return pulumi.ResourceOptions(providers={"kubernetes": provider})


def _central_gateway(
    args: CentralGatewayArgs, ctx: ShapeContext, built: Mapping[str, Any]
) -> CentralGateway:
    routes, peers = route_inputs(built)
    return CentralGateway(
        "central-gateway",
        args,
        ctx,
        routes=routes,
        model_peers=peers,
        aws_role_arn=gateway_role(built),
        opts=_cluster("central-gateway", args.cluster),
    )


SHAPES: tuple[Shape, ...] = (
    Shape(
        "azure_openai",
        AzureOpenAIArgs,
        lambda args, ctx, built: AzureOpenAI("azure-openai", args, ctx),
    ),
    Shape(
        "vllm_nodes",
        VllmNodesArgs,
        lambda args, ctx, built: VllmNodes(
            "vllm-nodes", args, ctx, opts=_cluster("vllm-nodes", args.cluster)
        ),
    ),
    Shape(
        "audit_archive",
        AuditArchiveArgs,
        lambda args, ctx, built: AuditArchive("audit-archive", args, ctx),
    ),
    Shape(
        "bedrock_privatelink",
        BedrockPrivateLinkArgs,
        lambda args, ctx, built: BedrockPrivateLink("bedrock-privatelink", args, ctx),
    ),
    Shape("byoc", ByocArgs, lambda args, ctx, built: Byoc("byoc", args, ctx)),
    # Last: it consumes the route descriptors of every model-serving shape built before it.
    Shape("central_gateway", CentralGatewayArgs, _central_gateway),
)
