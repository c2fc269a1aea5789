"""Estimate the monthly cost of cross-region data flows in a rendered environment.

Flows: the gateway sends each prompt to a model endpoint and receives its answer; it writes
one audit event per request to its data stores. A flow inside one region costs nothing.
Traffic is split evenly across the model endpoints. Prices are list prices of the first
volume tier, in USD per GB (2^30 bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from components.common import TAG_ROLE, TAG_SHAPE, Role
from components.residency import AWS_REGIONS, AZURE_REGIONS, normalize_azure_location
from stacks.plan import fact, placement
from stacks.render import Rendering

DAYS_PER_MONTH = 30
KB_PER_GB = 1024 * 1024
AUDIT_EVENT_KB = Decimal(1)

# USD per GB leaving the source, by (source cloud, destination kind), first tier, checked
# 2026-11-27:
# - AWS, "Data Transfer" on https://aws.amazon.com/ec2/pricing/on-demand/ : data transfer
#   between AWS regions in Europe/US $0.02/GB; data transfer out to the internet $0.09/GB
#   (first 10 TB/month); data transfer in is free.
# - Azure, https://azure.microsoft.com/en-us/pricing/details/bandwidth/ : inter-region
#   transfer within Europe or North America $0.02/GB; internet egress (Microsoft premium
#   global network) $0.087/GB for the first 10 TB after the free 100 GB.
# - An on-premises site pays its own carrier, not a per-GB cloud fee: 0 here.
EGRESS_USD_PER_GB: Mapping[tuple[str, str], Decimal] = {
    ("aws", "same-cloud"): Decimal("0.02"),
    ("aws", "other"): Decimal("0.09"),
    ("azure", "same-cloud"): Decimal("0.02"),
    ("azure", "other"): Decimal("0.087"),
    ("onprem", "same-cloud"): Decimal("0"),
    ("onprem", "other"): Decimal("0"),
}


@dataclass(frozen=True)
class Traffic:
    requests_per_day: int
    kb_in: Decimal
    kb_out: Decimal


def parse_traffic(value: str) -> Traffic:
    parts = value.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        requests, kb_in, kb_out = int(parts[0]), Decimal(parts[1]), Decimal(parts[2])
        if requests < 0 or kb_in < 0 or kb_out < 0:
            raise ValueError
    except (ValueError, ArithmeticError):
        raise ValueError(
            f"--traffic {value!r} is invalid: expected REQUESTS_PER_DAY,AVG_KB_IN,AVG_KB_OUT "
            "as three non-negative numbers, e.g. 100000,8,2"
        ) from None
    return Traffic(requests, kb_in, kb_out)


def cloud_of(region: str) -> str:
    if region in AWS_REGIONS:
        return "aws"
    if normalize_azure_location(region) in AZURE_REGIONS:
        return "azure"
    return "onprem"


def price_per_gb(source: str, destination: str) -> Decimal:
    if source == destination:
        return Decimal(0)
    src, dst = cloud_of(source), cloud_of(destination)
    kind = "same-cloud" if src == dst and src != "onprem" else "other"
    return EGRESS_USD_PER_GB[(src, kind)]


@dataclass(frozen=True)
class Flow:
    source: str
    destination: str
    what: str
    gb_per_month: Decimal
    usd_per_gb: Decimal

    @property
    def usd_per_month(self) -> Decimal:
        return (self.gb_per_month * self.usd_per_gb).quantize(Decimal("0.01"))


def _regions(rendering: Rendering, role: Role, *, shape: str | None = None) -> list[str]:
    found: list[str] = []
    for r in rendering.resources:
        inputs = r.inputs
        if fact(inputs, TAG_ROLE) != role.value:
            continue
        if shape is not None and fact(inputs, TAG_SHAPE) != shape:
            continue
        region, _ = placement(r)
        if region != "-" and region not in found:
            found.append(region)
    return found


def flows(rendering: Rendering, traffic: Traffic) -> list[Flow]:
    gateways = _regions(rendering, Role.COMPUTE, shape="central_gateway")
    endpoints = _regions(rendering, Role.MODEL_ENDPOINT)
    stores = _regions(rendering, Role.DATA)
    if not gateways:
        return []
    gateway = gateways[0]
    monthly = Decimal(traffic.requests_per_day * DAYS_PER_MONTH)
    out: list[Flow] = []
    share = monthly / len(endpoints) if endpoints else Decimal(0)
    for endpoint in endpoints:
        out.append(
            Flow(
                gateway,
                endpoint,
                "prompts",
                share * traffic.kb_in / KB_PER_GB,
                price_per_gb(gateway, endpoint),
            )
        )
        out.append(
            Flow(
                endpoint,
                gateway,
                "completions",
                share * traffic.kb_out / KB_PER_GB,
                price_per_gb(endpoint, gateway),
            )
        )
    for store in stores:
        out.append(
            Flow(
                gateway,
                store,
                "audit events",
                monthly * AUDIT_EVENT_KB / KB_PER_GB,
                price_per_gb(gateway, store),
            )
        )
    return out


def egress_table(rendering: Rendering, traffic: Traffic) -> str:
    rows = flows(rendering, traffic)
    header = ("FROM", "TO", "WHAT", "GB/MONTH", "USD/GB", "USD/MONTH")
    lines = [
        [
            f.source,
            f.destination,
            f.what,
            f"{f.gb_per_month:.2f}",
            f"{f.usd_per_gb}",
            f"{f.usd_per_month}",
        ]
        for f in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=False)]
    text = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [list(header), *lines]
    ]
    total = sum((f.usd_per_month for f in rows), Decimal(0))
    crossing = sum(1 for f in rows if f.source != f.destination)
    if not rows:
        text.append("no central gateway in this environment: no gateway data flows to estimate")
    text.append(
        f"estimated cross-region transfer: USD {total:.2f}/month over {crossing} "
        f"cross-region flows ({traffic.requests_per_day} requests/day, "
        f"{traffic.kb_in} KB in, {traffic.kb_out} KB out)"
    )
    return "\n".join(text)
