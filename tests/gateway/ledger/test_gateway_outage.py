"""Budgets through the real app with the Redis counters unreachable (a closed port)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import ADMIN_KEY, sqlite_store
from tests.gateway.ledger.gateway_support import MAX_TOKENS, PROMPT, ledger_gateway
from tests.gateway.limits.redis_support import closed_port_url

TEAM = {"teams": {"payments": {"amount": 1000}}}


def redis_budgets(**policy: str) -> dict[str, object]:
    return {"backend": "redis", "store_timeout_seconds": 0.3, **TEAM, **policy}


def test_budgets_fail_closed_by_default(tmp_path: Path) -> None:
    with ledger_gateway(
        sqlite_store(tmp_path),
        environ={"GATEHOUSE_REDIS_URL": closed_port_url()},
        budgets=redis_budgets(),
    ) as (gw, fake):
        assert gw.get("/readyz").status_code == 200  # start-up survived the outage
        with pytest.raises(openai.InternalServerError) as info:
            gw.client(gw.create_key(team="payments")).chat.completions.create(
                model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS
            )
        assert info.value.status_code == 503
        assert info.value.code == "budget_unavailable"
        assert fake.calls == 0


def test_budgets_fail_open_only_when_explicitly_unsafe_and_spend_is_still_recorded(
    tmp_path: Path,
) -> None:
    with ledger_gateway(
        sqlite_store(tmp_path),
        environ={"GATEHOUSE_REDIS_URL": closed_port_url()},
        budgets=redis_budgets(on_store_error="fail_open_unsafe"),
    ) as (gw, fake):
        client = gw.client(gw.create_key(team="payments"))
        for _ in range(2):
            client.chat.completions.create(model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS)
        assert fake.calls == 2
        metrics = gw.http.get(
            f"{gw.url}/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"}
        ).text
        assert 'gatehouse_budget_fail_open_total{operation="reserve"} 2.0' in metrics
        [row] = gw.admin("GET", "/admin/spend?group_by=team").json()["data"]
        assert (row["requests"], row["cost"]) == (2, "20")
