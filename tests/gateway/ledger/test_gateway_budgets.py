"""Budgets and spend through the real gateway app (one process, SQLite, memory counters)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.audit.errors import AuditUnavailable
from gateway.config import ConfigError
from gateway.hooks import Hook, HookServices
from gateway.ledger.hook import build_ledger_hook
from gateway.store import Store
from tests.gateway.conftest import Gateway, run_gateway, sqlite_store
from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.fakes.server import serve
from tests.gateway.ledger.gateway_support import (
    MAX_TOKENS,
    PROMPT,
    WORST,
    WorstCaseFake,
    audit_events,
    contend,
    ledger_config,
    ledger_gateway,
)

TEAM_BUDGET = {"teams": {"payments": {"amount": str(10 * WORST), "period": "monthly"}}}


def budgets_listed(gw: Gateway) -> dict[str, dict[str, Any]]:
    response = gw.admin("GET", "/admin/budgets")
    assert response.status_code == 200, response.text
    return {b["id"]: b for b in response.json()["data"]}


def spend(gw: Gateway, query: str) -> dict[str, Any]:
    response = gw.admin("GET", f"/admin/spend?{query}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_200_concurrent_requests_never_overspend_a_budget_that_fits_10(tmp_path: Path) -> None:
    with ledger_gateway(sqlite_store(tmp_path), budgets=TEAM_BUDGET) as (gw, fake):
        key = gw.create_key(team="payments")
        outcome = asyncio.run(contend([gw.async_client(key)], 200))
        assert outcome.other == []
        # each request costs exactly its reserved worst case: exactly 10 fit, and every
        # refusal was made while spent + held + this request exceeded the budget
        assert (outcome.served, outcome.refused, outcome.unjustified) == (10, 190, 0)
        assert fake.calls == 10
        budget = budgets_listed(gw)["team:payments:monthly"]
        assert (budget["spent"], budget["reserved"]) == ("100", "0")
        [row] = spend(gw, "group_by=team")["data"]
        assert (row["team"], row["requests"], row["cost"]) == ("payments", 10, "100")


def test_spend_survives_a_restart(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    with ledger_gateway(store, budgets=TEAM_BUDGET) as (gw, _):
        key = gw.create_key(team="payments")
        client = gw.client(key)
        for _ in range(4):
            client.chat.completions.create(model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS)
    # a new process: memory counters start empty and are re-seeded from the usage events
    with ledger_gateway(store, budgets=TEAM_BUDGET) as (gw, fake):
        assert budgets_listed(gw)["team:payments:monthly"]["spent"] == "40"
        client = gw.client(key)
        for _ in range(6):
            client.chat.completions.create(model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS)
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS)
        assert info.value.code == "budget_exceeded"
        assert fake.calls == 6


def test_a_streamed_request_bills_the_same_as_a_plain_one(tmp_path: Path) -> None:
    fake = FakeOpenAI()  # usage counted in words, reported only when asked for
    with ledger_gateway(sqlite_store(tmp_path), fake=fake, budgets={}) as (gw, _):
        plain, streamed, asked = gw.create_key(), gw.create_key(), gw.create_key()
        message: Any = [{"role": "user", "content": "three little words"}]
        gw.client(plain).chat.completions.create(model="chat-eu", messages=message)
        chunks = list(
            gw.client(streamed).chat.completions.create(
                model="chat-eu", messages=message, stream=True
            )
        )
        # the gateway asked the upstream for usage, and hid it from a client that did not
        assert fake.requests[1].body["stream_options"] == {"include_usage": True}
        assert all(c.choices and c.usage is None for c in chunks)
        with_usage = list(
            gw.client(asked).chat.completions.create(
                model="chat-eu",
                messages=message,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert with_usage[-1].usage is not None and with_usage[-1].choices == []
        rows = spend(gw, "group_by=key")["data"]
    assert len(rows) == 3
    costs = {(r["input_tokens"], r["output_tokens"], r["cost"]) for r in rows}
    assert costs == {(3, 4, "7")}  # 3 + 4 tokens at one unit each


def test_a_key_created_with_a_budget_is_held_to_it(tmp_path: Path) -> None:
    with ledger_gateway(sqlite_store(tmp_path), budgets={}) as (gw, fake):
        created = gw.admin(
            "POST",
            "/admin/keys",
            json={"team": "payments", "budget": {"amount": 20, "period": "daily"}},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["budget"] == {"amount": "20", "period": "daily"}
        listed = budgets_listed(gw)[f"key:{body['id']}:daily"]
        assert (listed["origin"], listed["amount"], listed["spent"]) == ("admin", "20", "0")
        client = gw.client(body["key"])
        for _ in range(2):
            client.chat.completions.create(model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS)
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS)
        assert f"key '{body['id']}' has a daily budget of 20" in info.value.message
        assert fake.calls == 2
    admin = [e for e in audit_events(tmp_path / "gatehouse-audit") if e["type"] == "admin"]
    assert [(e["action"], e["target"]) for e in admin] == [
        ("key.create", body["id"]),
        ("budget.set", f"key:{body['id']}:daily"),
    ]


@pytest.mark.parametrize(
    ("budget", "param", "expected"),
    [
        ({"amount": -1}, "budget.amount", "greater than or equal to 0"),
        ({"amount": 5, "period": "weekly"}, "budget.period", "'daily' or 'monthly'"),
        ({"period": "daily"}, "budget.amount", "required"),
        ({"amount": "0.0000001"}, "budget.amount", "6 decimal places"),
        ({"amount": 5, "scope": "team"}, "budget.scope", "no such field"),
        (50, "budget", "dictionary"),
    ],
)
def test_a_bad_key_budget_is_refused_naming_the_field(
    tmp_path: Path, budget: Any, param: str, expected: str
) -> None:
    with ledger_gateway(sqlite_store(tmp_path), budgets={}) as (gw, _):
        response = gw.admin("POST", "/admin/keys", json={"team": "t", "budget": budget})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == param
        assert expected in error["message"]
        assert gw.admin("GET", "/admin/keys").json()["data"] == []  # no key without its budget


def test_a_key_budget_is_refused_when_the_ledger_is_turned_off(tmp_path: Path) -> None:
    with ledger_gateway(sqlite_store(tmp_path), budgets={"enabled": False}) as (gateway, _):
        body = {"team": "t", "budget": {"amount": 5}}
        response = gateway.admin("POST", "/admin/keys", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "budget"
        assert "the ledger is off" in response.json()["error"]["message"]
        for path in ("/admin/budgets", "/admin/spend"):
            off = gateway.admin("GET", path)
            assert off.status_code == 404
            assert off.json()["error"]["code"] == "ledger_disabled"


def test_the_ledger_records_usage_by_default(gateway: Gateway) -> None:
    """Without a ``budgets`` section spend is still recorded for chargeback."""
    key = gateway.create_key(cost_center="cc-default")
    gateway.client(key).chat.completions.create(model="chat-eu", messages=PROMPT)
    report = gateway.admin("GET", "/admin/spend?group_by=cost_center")
    assert report.status_code == 200, report.text
    assert "cc-default" in report.text


def test_budgets_are_set_listed_and_deleted_through_the_admin_api(tmp_path: Path) -> None:
    config_budgets = {"cost_centers": {"cc-1": {"amount": 1000}}}
    store = sqlite_store(tmp_path)
    with ledger_gateway(store, budgets=config_budgets) as (gw, fake):
        key = gw.create_key(team="risk", cost_center="cc-1")
        gw.client(key).chat.completions.create(
            model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS
        )
        put = gw.admin(
            "PUT",
            "/admin/budgets",
            json={"scope": "team", "subject": "risk", "amount": "15.5", "period": "daily"},
        )
        assert put.status_code == 200, put.text
        # a new budget's counter starts from the spend already recorded in its period
        assert (put.json()["spent"], put.json()["origin"]) == ("10", "admin")
        listed = budgets_listed(gw)
        assert set(listed) == {"cost_center:cc-1:monthly", "team:risk:daily"}
        assert listed["cost_center:cc-1:monthly"]["origin"] == "config"
        with pytest.raises(openai.RateLimitError):  # 10 spent + 10 more > 15.5
            gw.client(key).chat.completions.create(
                model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS
            )
        in_config = gw.admin(
            "DELETE", "/admin/budgets?scope=cost_center&subject=cc-1&period=monthly"
        )
        assert in_config.status_code == 409
        assert in_config.json()["error"]["code"] == "budget_in_config"
        deleted = gw.admin("DELETE", "/admin/budgets?scope=team&subject=risk&period=daily")
        assert deleted.status_code == 200, deleted.text
        assert set(budgets_listed(gw)) == {"cost_center:cc-1:monthly"}
        gw.client(key).chat.completions.create(
            model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS
        )
        again = gw.admin("DELETE", "/admin/budgets?scope=team&subject=risk&period=daily")
        assert again.status_code == 404
        assert fake.calls == 2
    changes = [
        e
        for e in audit_events(tmp_path / "gatehouse-audit")
        if e["type"] == "admin" and e["action"].startswith("budget.")
    ]
    assert [(e["action"], e["target"]) for e in changes] == [
        ("budget.set", "team:risk:daily"),
        ("budget.delete", "team:risk:daily"),
    ]
    assert changes[0]["details"] == {
        "scope": "team",
        "subject": "risk",
        "period": "daily",
        "amount": "15.5",
        "currency": "USD",
    }
    assert changes[0]["actor"]["subject"] == "admin"


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("PUT", "/admin/budgets", {"scope": "org", "subject": "x", "amount": 1}, "scope"),
        ("PUT", "/admin/budgets", {"scope": "team", "subject": "", "amount": 1}, "subject"),
        ("POST", "/admin/budgets", {"scope": "team", "subject": "x"}, "amount"),
        ("PUT", "/admin/budgets", {"scope": "team", "subject": "x", "amount": "ten"}, "amount"),
        ("DELETE", "/admin/budgets?scope=team&subject=x&period=yearly", None, "period"),
        ("DELETE", "/admin/budgets?scope=team&subject=x&colour=red", None, "colour"),
    ],
)
def test_bad_budget_requests_name_the_field(
    tmp_path: Path, method: str, path: str, body: Any, param: str
) -> None:
    with ledger_gateway(sqlite_store(tmp_path), budgets={}) as (gw, _):
        response = gw.admin(method, path, json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == param
        assert budgets_listed(gw) == {}


def test_budget_admin_needs_the_admin_key(tmp_path: Path) -> None:
    with ledger_gateway(sqlite_store(tmp_path), budgets={}) as (gw, _):
        key = gw.create_key()
        for method in ("GET", "PUT", "DELETE"):
            response = httpx.request(
                method, f"{gw.url}/admin/budgets", headers={"authorization": f"Bearer {key}"}
            )
            assert response.status_code == 401
        assert httpx.get(f"{gw.url}/admin/spend").status_code == 401


class BrokenTrail(Hook):
    """An audit hook whose trail cannot be written."""

    name = "audit"

    async def admin_change(self, **_: Any) -> None:
        raise AuditUnavailable("disk full")


def test_a_budget_change_the_audit_trail_cannot_record_is_not_made(tmp_path: Path) -> None:
    store = Store(sqlite_store(tmp_path))
    with serve(WorstCaseFake()) as upstream:
        config = ledger_config(store.url, upstream, budgets={})
        ledger = build_ledger_hook(HookServices(config, {}, store))
        assert ledger is not None
        with run_gateway(config, hooks=[BrokenTrail(), ledger], store=store) as gw:
            body = {"scope": "team", "subject": "risk", "amount": 5}
            refused = gw.admin("PUT", "/admin/budgets", json=body)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "audit_unavailable"
            key = gw.admin("POST", "/admin/keys", json={"team": "t", "budget": {"amount": 5}})
            assert key.status_code == 503
            assert budgets_listed(gw) == {}
            assert gw.admin("GET", "/admin/keys").json()["data"] == []


def test_a_price_finer_than_the_ledger_records_stops_the_start_up(tmp_path: Path) -> None:
    config = ledger_config(
        sqlite_store(tmp_path),
        "http://127.0.0.1:9",
        price={"input_per_mtok": 0.0000001, "output_per_mtok": 1.5},
        budgets={},
    )
    with pytest.raises(ConfigError) as info:
        create_app(config, environ={})
    assert str(info.value) == (
        "models[0].deployments[0].price.input_per_mtok: got 1E-7; expected at most 6 "
        "decimal places (the ledger records exact costs)"
    )
