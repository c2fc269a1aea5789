"""The egress estimate: cross-region flows between gateway, model endpoints and data stores."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from stacks.egress import (
    EGRESS_USD_PER_GB,
    Traffic,
    egress_table,
    flows,
    parse_traffic,
    price_per_gb,
)
from stacks.gate import Project, render_environment
from stacks.render import Rendering
from tests.policies.harness import resource
from tests.stacks.fixtures.k8s.baseline import DEPLOYMENT, deployment, facts

ROOT = Path(__file__).resolve().parents[2]
TRAFFIC = Traffic(100_000, Decimal(8), Decimal(2))


def gateway(region: str) -> object:
    props = deployment()
    props["metadata"]["labels"].update(facts(region=region))
    return resource(DEPLOYMENT, props, name=f"gw-{region}")


def tagged(role: str, region: str, name: str) -> object:
    tags = {"gatehouse:role": role, "gatehouse:region": region, "gatehouse:shape": "x"}
    return resource("aws:s3/bucket:Bucket", {"tags": tags}, name=name)


def rendering(*resources: object) -> Rendering:
    return Rendering(stack_urn="", resources=list(resources), outputs={})  # type: ignore[arg-type]


def test_parse_traffic() -> None:
    assert parse_traffic("100000,8,2") == TRAFFIC
    for bad in ("100000,8", "a,b,c", "-1,8,2", "1,2,3,4"):
        with pytest.raises(ValueError, match="REQUESTS_PER_DAY"):
            parse_traffic(bad)


def test_prices_by_pair() -> None:
    assert price_per_gb("eu-central-1", "eu-central-1") == 0
    assert price_per_gb("eu-central-1", "eu-west-1") == EGRESS_USD_PER_GB[("aws", "same-cloud")]
    assert price_per_gb("eu-central-1", "swedencentral") == EGRESS_USD_PER_GB[("aws", "other")]
    assert price_per_gb("swedencentral", "eu-central-1") == EGRESS_USD_PER_GB[("azure", "other")]
    assert price_per_gb("onprem-fra1", "eu-central-1") == 0


def test_single_region_environment_costs_nothing() -> None:
    env = rendering(
        gateway("eu-central-1"),
        tagged("model-endpoint", "eu-central-1", "bedrock"),
        tagged("data", "eu-central-1", "archive"),
    )
    rows = flows(env, TRAFFIC)
    assert len(rows) == 3
    assert all(f.usd_per_month == 0 for f in rows)
    assert "USD 0.00/month over 0 cross-region flows" in egress_table(env, TRAFFIC)


def test_onprem_eu_stays_on_its_site() -> None:
    rendered = render_environment(Project(ROOT), "onprem-eu").rendering
    assert rendered is not None
    rows = flows(rendered, TRAFFIC)
    assert rows and {(f.source, f.destination) for f in rows} == {("onprem-fra1", "onprem-fra1")}
    assert "USD 0.00/month" in egress_table(rendered, TRAFFIC)


def test_prod_eu_prices_the_trip_to_sweden() -> None:
    rendered = render_environment(Project(ROOT), "prod-eu").rendering
    assert rendered is not None
    rows = {(f.source, f.destination, f.what): f for f in flows(rendered, TRAFFIC)}
    # 3,000,000 requests a month, half of them to each of the two endpoint regions.
    prompts = rows[("eu-central-1", "swedencentral", "prompts")]
    assert prompts.gb_per_month == Decimal(1_500_000 * 8) / (1024 * 1024)
    assert prompts.usd_per_month == Decimal("1.03")  # 11.44 GB x $0.09
    completions = rows[("swedencentral", "eu-central-1", "completions")]
    assert completions.usd_per_month == Decimal("0.25")  # 2.86 GB x $0.087
    assert rows[("eu-central-1", "eu-central-1", "audit events")].usd_per_month == 0


def test_data_store_in_another_region_is_a_flow() -> None:
    env = rendering(gateway("eu-central-1"), tagged("data", "eu-west-1", "archive"))
    (row,) = flows(env, TRAFFIC)
    assert (row.source, row.destination, row.what) == ("eu-central-1", "eu-west-1", "audit events")
    assert row.usd_per_month > 0


def test_no_gateway_no_flows() -> None:
    env = rendering(tagged("model-endpoint", "eu-central-1", "bedrock"))
    assert flows(env, TRAFFIC) == []
    assert "no central gateway" in egress_table(env, TRAFFIC)
