"""Building blocks shared by the Kubernetes shapes (central gateway, vLLM nodes).

- :class:`ClusterLocation`: where a cluster runs (a cloud region, or an on-premises site
  with the jurisdiction the spec gives it) and its residency check;
- pinned container images (:func:`check_image`);
- the Pod Security Standards "restricted" profile for pods and containers, as dictionaries
  in the Kubernetes API's own field names;
- probes, resources, network-policy peers and the namespace every shape creates, with its
  default-deny NetworkPolicy.

Sources, checked 2026-11-27:
- Pod Security Standards, "restricted" profile (runAsNonRoot, allowPrivilegeEscalation
  false, capabilities drop ALL, seccomp RuntimeDefault or Localhost, no host namespaces):
  https://kubernetes.io/docs/concepts/security/pod-security-standards/
- Namespace labels that enforce a profile (``pod-security.kubernetes.io/<mode>``):
  https://kubernetes.io/docs/concepts/security/pod-security-admission/
- ``kubernetes.io/metadata.name`` is set on every namespace by the API server:
  https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name
- Default-deny NetworkPolicy (empty podSelector, both policy types, no rules):
  https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.common import Placement, ResidencyViolation, ShapeContext
from components.residency import (
    AWS_REGIONS,
    AWS_SEPARATE_PARTITION_REGIONS,
    AZURE_REGIONS,
    KNOWN_JURISDICTIONS,
    jurisdiction_of,
    normalize_azure_location,
)

# Name of the pack's policy that refuses Kubernetes objects labelled outside the zone.
POLICY_K8S_JURISDICTION: Final = "k8s-object-jurisdiction-in-zone"

# A user id above the host's usual range (checkov CKV_K8S_40 asks for >= 10000).
NON_ROOT_UID: Final = 10001

PSS_LABELS: Final[Mapping[str, str]] = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"

# DNS: the cluster DNS pods in kube-system, as CoreDNS and kube-dns are labelled.
# https://kubernetes.io/docs/tasks/administer-cluster/dns-custom-nameservers/
DNS_NAMESPACE: Final = "kube-system"
DNS_POD_LABELS: Final[Mapping[str, str]] = {"k8s-app": "kube-dns"}
DNS_PORT: Final = 53

# DNS-1123 label (namespaces, services) and subdomain (most object names).
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# Resource quantities: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
# An image reference: [registry[:port]/]path[:tag][@sha256:<64 hex>].
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_dns_label(field: str, value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(
            f"{field}: got {value!r}; expected a DNS-1123 label (at most 63 lower-case "
            "letters, digits or '-', starting and ending with a letter or digit)"
        )
    return value


def check_dns_subdomain(field: str, value: str) -> str:
    if not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            f"{field}: got {value!r}; expected a DNS-1123 subdomain (lower-case letters, "
            "digits, '-' and '.')"
        )
    return value


def check_image(field: str, image: str) -> str:
    """Accept only an image pinned by a tag other than ``latest``, or by a sha256 digest."""
    digest = _DIGEST.search(image)
    name = image[: digest.start()] if digest else image
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    if not name or (tag is not None and not _TAG.match(tag)):
        raise ValueError(
            f"{field}: got {image!r}; expected an image reference such as "
            "'registry.example/vllm/vllm-openai:v0.11.0'"
        )
    if tag == "latest":
        raise ValueError(
            f"{field}: got {image!r}; the tag 'latest' moves, so what runs cannot be "
            "reviewed: expected a fixed version tag or a digest (@sha256:...)"
        )
    if tag is None and digest is None:
        raise ValueError(
            f"{field}: got {image!r} with no tag or digest (it would pull 'latest'): "
            "expected '<image>:<version>' or '<image>@sha256:<digest>'"
        )
    return image


class FrozenModel(BaseModel):
    """Base of the spec sections: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ClusterPlacement(Placement):
    """Where a cluster is: its region (a cloud region, or the on-prem site name), its cloud
    ("onprem" for a site) and jurisdiction."""

    cloud: str


def _cloud_of(region: str) -> str | None:
    if region in AWS_REGIONS or region in AWS_SEPARATE_PARTITION_REGIONS:
        return "aws"
    if normalize_azure_location(region) in AZURE_REGIONS:
        return "azure"
    return None


class ClusterLocation(FrozenModel):
    """The existing cluster a shape deploys into, and where it is."""

    region: str | None = Field(
        None,
        description="cloud region of the cluster (AWS code such as 'eu-central-1' or Azure "
        "location such as 'swedencentral'); give either region or site",
    )
    site: str | None = Field(
        None,
        description="name of the on-premises data centre (e.g. 'onprem-fra1'); needs "
        "jurisdiction, because a site has no cloud region to derive it from",
    )
    jurisdiction: str | None = Field(
        None,
        description="jurisdiction of the site, e.g. 'eu'; with region it is derived from the "
        "residency tables and, if given, must agree with them",
    )
    kubeconfig_context: str | None = Field(
        None,
        description="kubeconfig context of the cluster; default: the stack's default "
        "Kubernetes provider (the 'kubernetes:context' config or the ambient kubeconfig)",
    )

    @field_validator("site")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        if value is not None:
            check_dns_label("site", value)
            if _cloud_of(value) is not None:
                raise ValueError(f"got {value!r}, which is a cloud region: use region instead")
        return value

    @field_validator("jurisdiction")
    @classmethod
    def _jurisdiction(cls, value: str | None) -> str | None:
        if value is not None and value not in KNOWN_JURISDICTIONS:
            raise ValueError(
                f"got {value!r}; expected a jurisdiction code such as "
                f"{', '.join(sorted(KNOWN_JURISDICTIONS)[:8])}, ..."
            )
        return value

    @model_validator(mode="after")
    def _one_place(self) -> ClusterLocation:
        if (self.region is None) == (self.site is None):
            raise ValueError("give exactly one of region (a cloud cluster) or site (on-prem)")
        if self.site is not None and self.jurisdiction is None:
            raise ValueError(f"site {self.site!r} needs its jurisdiction, e.g. jurisdiction: eu")
        return self

    def resolve(self, ctx: ShapeContext, field: str = "cluster") -> ClusterPlacement:
        """The placement, checked against the environment's zone (ResidencyViolation)."""
        if self.site is not None:
            assert self.jurisdiction is not None  # validated above
            placement = ClusterPlacement(self.site, self.jurisdiction, "onprem")
        else:
            assert self.region is not None
            cloud = _cloud_of(self.region)
            if cloud is None:
                raise ResidencyViolation(
                    POLICY_K8S_JURISDICTION,
                    f"{field}.region",
                    f"got {self.region!r}; expected a known AWS region code or Azure location "
                    "(an on-prem cluster is given as site plus jurisdiction)",
                )
            region = normalize_azure_location(self.region) if cloud == "azure" else self.region
            derived = jurisdiction_of(cloud, region)
            if self.jurisdiction is not None and self.jurisdiction != derived:
                raise ResidencyViolation(
                    POLICY_K8S_JURISDICTION,
                    f"{field}.jurisdiction",
                    f"got {self.jurisdiction!r}, but region {region!r} is in {derived!r}",
                )
            allowed = {normalize_azure_location(r) for r in ctx.allowed_regions}
            if ctx.allowed_regions and normalize_azure_location(region) not in allowed:
                raise ResidencyViolation(
                    POLICY_K8S_JURISDICTION,
                    f"{field}.region",
                    f"got {region!r}; expected one of the environment's allowed_regions "
                    f"{', '.join(ctx.allowed_regions)}",
                )
            placement = ClusterPlacement(region, derived, cloud)
        if placement.jurisdiction not in ctx.jurisdictions:
            where = "site" if self.site is not None else "region"
            raise ResidencyViolation(
                POLICY_K8S_JURISDICTION,
                f"{field}.{where}",
                f"got {placement.region!r} (jurisdiction {placement.jurisdiction!r}); expected "
                f"a location in jurisdictions {', '.join(sorted(ctx.jurisdictions))}",
            )
        return placement


class Resources(FrozenModel):
    """CPU and memory requests and limits of a container."""

    cpu_request: str = Field("250m", description="default: 250m")
    memory_request: str = Field("256Mi", description="default: 256Mi")
    cpu_limit: str = Field("1", description="default: 1 CPU")
    memory_limit: str = Field("512Mi", description="default: 512Mi")

    @field_validator("cpu_request", "memory_request", "cpu_limit", "memory_limit")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if not _QUANTITY.match(value):
            raise ValueError(f"got {value!r}; expected a Kubernetes quantity such as 500m or 2Gi")
        return value

    def manifest(self, extra_limits: Mapping[str, str] | None = None) -> dict[str, Any]:
        extra = dict(extra_limits or {})
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request, **extra},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit, **extra},
        }


class SecretKeyRef(FrozenModel):
    """A key of an existing Secret in the shape's namespace (never a value)."""

    secret: str = Field(description="name of the Secret")
    key: str = Field(min_length=1, description="key inside the Secret")

    @field_validator("secret")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_dns_subdomain("secret", value)

    def env_var(self, name: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": self.secret, "key": self.key}}}


class NetworkPeer(FrozenModel):
    """Something a workload may talk to (or be reached from): pods, or address ranges."""

    namespace: str | None = Field(None, description="namespace of the peer pods")
    pod_labels: dict[str, str] = Field(
        default_factory=dict, description="labels of the peer pods; default: every pod"
    )
    cidrs: list[str] = Field(
        default_factory=list, description="address ranges, e.g. a private endpoint subnet"
    )
    ports: list[int] = Field(min_length=1, description="TCP ports")

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(
                    f"got {cidr!r}; expected an address range such as 10.0.4.0/24"
                ) from None
            if network.prefixlen == 0:
                raise ValueError(f"got {cidr!r}; a range covering every address is not a peer")
        return value

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        bad = [p for p in value if not 1 <= p <= 65535]
        if bad:
            raise ValueError(f"got {bad}; expected TCP ports between 1 and 65535")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> NetworkPeer:
        if (self.namespace is None) == (not self.cidrs):
            raise ValueError("give either namespace (with optional pod_labels) or cidrs")
        return self

    def rule(self, direction: str) -> dict[str, Any]:
        """One NetworkPolicy ingress (``from``) or egress (``to``) rule."""
        peers: list[dict[str, Any]]
        if self.namespace is not None:
            peer: dict[str, Any] = {
                "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: self.namespace}}
            }
            if self.pod_labels:
                peer["podSelector"] = {"matchLabels": dict(self.pod_labels)}
            peers = [peer]
        else:
            peers = [{"ipBlock": {"cidr": cidr}} for cidr in self.cidrs]
        return {direction: peers, "ports": [{"protocol": "TCP", "port": p} for p in self.ports]}


def dns_egress_rule() -> dict[str, Any]:
    return {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: DNS_NAMESPACE}},
                "podSelector": {"matchLabels": dict(DNS_POD_LABELS)},
            }
        ],
        "ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}],
    }


def pod_security_context(uid: int = NON_ROOT_UID) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(*, read_only_root: bool = True) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def http_probe(
    path: str,
    port: str | int,
    *,
    period: int,
    failures: int,
    timeout: int = 2,
    scheme: str = "HTTP",
) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port, "scheme": scheme},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": timeout,
    }


def metadata(
    name: pulumi.Input[str], namespace: str | None, labels: Mapping[str, str], **extra: Any
) -> Any:
    """ObjectMeta as a dictionary (typed Any: the SDK's TypedDicts do not accept dict)."""
    out: dict[str, Any] = {"name": name, "labels": dict(labels), **extra}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def network_policy_spec(
    pod_labels: Mapping[str, str],
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]],
) -> Any:
    return {
        "podSelector": {"matchLabels": dict(pod_labels)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ingress,
        "egress": egress,
    }


def pod_disruption_budget_spec(pod_labels: Mapping[str, str]) -> Any:
    """At most one pod down at a time by voluntary disruption (drains keep working)."""
    return {"maxUnavailable": 1, "selector": {"matchLabels": dict(pod_labels)}}


_DEFAULT_DENY: Final[Any] = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def namespace_with_default_deny(
    resource_name: str,
    namespace: str,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Namespace:
    """The namespace (Pod Security "restricted" enforced) and its default-deny policy."""
    ns: k8s.core.v1.Namespace = k8s.core.v1.Namespace(
        f"{resource_name}-namespace",
        metadata=metadata(namespace, None, {**labels, **PSS_LABELS}),
        opts=opts,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{resource_name}-default-deny",
        metadata=metadata("default-deny", namespace, labels),
        spec=_DEFAULT_DENY,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[ns])),
    )
    return ns
