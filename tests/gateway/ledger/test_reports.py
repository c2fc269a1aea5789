"""Spend reports: /admin/spend (JSON, CSV), the chargeback CLI, and their equality with the
costs in the audit trail."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from gateway.config import render_config
from gateway.ledger.cli import main as chargeback
from tests.gateway.conftest import ADMIN_KEY, Gateway, sqlite_store
from tests.gateway.fakes.openai import FakeOpenAI, Reply
from tests.gateway.ledger.gateway_support import (
    MAX_TOKENS,
    PROMPT,
    audit_events,
    ledger_config,
    ledger_gateway,
)

FRACTIONAL_PRICE = {"input_per_mtok": 0.15, "output_per_mtok": 0.6, "cached_input_per_mtok": 0.075}


def ask(gw: Gateway, key: str, *, stream: bool = False) -> None:
    client = gw.client(key)
    if stream:
        list(
            client.chat.completions.create(
                model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS, stream=True
            )
        )
    else:
        client.chat.completions.create(model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS)


@pytest.fixture
def served(tmp_path: Path) -> Any:
    """A gateway after 3 requests by team risk (cc-1) and 2 by team payments (cc-2)."""
    with ledger_gateway(sqlite_store(tmp_path), budgets={}) as (gw, _):
        risk = gw.create_key(team="risk", cost_center="cc-1")
        payments = gw.create_key(team="payments", cost_center="cc-2")
        for key in (risk, risk, payments):
            ask(gw, key)
        ask(gw, risk, stream=True)
        ask(gw, payments, stream=True)
        yield gw


def test_spend_as_json_grouped_by_cost_center(served: Gateway) -> None:
    response = served.admin("GET", "/admin/spend?group_by=cost_center")
    assert response.status_code == 200
    body = response.json()
    assert body["group_by"] == ["cost_center"]
    assert body["from"].endswith("-01T00:00:00+00:00")  # default: this month
    assert body["data"] == [
        {
            "cost_center": "cc-1",
            "currency": "USD",
            "requests": 3,
            "input_tokens": 6,
            "output_tokens": 24,
            "cached_input_tokens": 0,
            "cost": "30",
        },
        {
            "cost_center": "cc-2",
            "currency": "USD",
            "requests": 2,
            "input_tokens": 4,
            "output_tokens": 16,
            "cached_input_tokens": 0,
            "cost": "20",
        },
    ]
    assert body["totals"] == [
        {
            "currency": "USD",
            "requests": 5,
            "input_tokens": 10,
            "output_tokens": 40,
            "cached_input_tokens": 0,
            "cost": "50",
        }
    ]


@pytest.mark.parametrize(
    ("query", "headers"),
    [("group_by=team,model&format=csv", {}), ("group_by=team,model", {"accept": "text/csv"})],
)
def test_spend_as_csv(served: Gateway, query: str, headers: dict[str, str]) -> None:
    headers = {"authorization": f"Bearer {ADMIN_KEY}", **headers}
    response = served.http.get(f"{served.url}/admin/spend?{query}", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["team"], r["model"], r["requests"], r["cost"]) for r in rows] == [
        ("payments", "chat-eu", "2", "20"),
        ("risk", "chat-eu", "3", "30"),
    ]


def test_spend_is_bounded_by_from_and_to(served: Gateway) -> None:
    future = served.admin("GET", "/admin/spend?group_by=key&from=2999-01-01")
    assert future.json()["data"] == []
    past = served.admin("GET", "/admin/spend?from=2020-01-01&to=2020-02-01T00:00:00Z")
    assert past.json()["data"] == []
    everything = served.admin("GET", "/admin/spend?group_by=key&from=2020-01-01")
    assert sum(r["requests"] for r in everything.json()["data"]) == 5


@pytest.mark.parametrize(
    ("query", "param", "expected"),
    [
        ("group_by=region", "group_by", "cost_center, team, key, model"),
        ("group_by=team,team", "group_by", "each at most once"),
        ("from=yesterday", "from", "ISO 8601"),
        ("from=2026-11-01T00:00:00", "from", "without a UTC offset"),
        ("to=2026-13-01", "to", "ISO 8601"),
        ("from=2026-11-02&to=2026-11-01", "to", "after from"),
        ("format=xml", "format", "json or csv"),
        ("groupby=team", "groupby", "unknown parameter"),
        ("group_by=team&group_by=key", "group_by", "given twice"),
    ],
)
def test_bad_spend_parameters_name_the_field(
    served: Gateway, query: str, param: str, expected: str
) -> None:
    response = served.admin("GET", f"/admin/spend?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert expected in error["message"]


def test_a_csv_cell_that_a_spreadsheet_would_run_is_defused(tmp_path: Path) -> None:
    with ledger_gateway(sqlite_store(tmp_path), budgets={}) as (gw, _):
        ask(gw, gw.create_key(team='=HYPERLINK("http://x","y")', cost_center="+cc"))
        text = gw.admin("GET", "/admin/spend?group_by=team,cost_center&format=csv").text
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["team"] == '\'=HYPERLINK("http://x","y")'
    assert row["cost_center"] == "'+cc"


def run_chargeback(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = chargeback(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class CachingFake(FakeOpenAI):
    """Reports one cached prompt token, so the cached-input price is exercised too."""

    def usage(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        usage: dict[str, Any] = super().usage(body, text)
        usage["prompt_tokens_details"] = {"cached_tokens": 1}
        return usage


def drive(gw: Gateway, fake: FakeOpenAI) -> None:
    """12 priced requests (half streamed) by three keys, and one failure that costs nothing."""
    keys = [
        gw.create_key(team="risk", cost_center="cc-1"),
        gw.create_key(team="risk", cost_center="cc-2"),
        gw.create_key(team="payments", cost_center="cc-2"),
    ]
    for i in range(12):
        client = gw.client(keys[i % 3])
        messages: Any = [{"role": "user", "content": " ".join(["word"] * (i + 1))}]
        if i % 2:
            list(client.chat.completions.create(model="chat-eu", messages=messages, stream=True))
        else:
            client.chat.completions.create(model="chat-eu", messages=messages)
    fake.queue(Reply(status=400))
    with pytest.raises(openai.BadRequestError):
        gw.client(keys[0]).chat.completions.create(model="chat-eu", messages=PROMPT)


def test_chargeback_totals_equal_the_costs_in_the_audit_trail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    path = tmp_path / "gateway.yaml"
    fake = CachingFake()
    with ledger_gateway(sqlite_store(tmp_path), fake=fake, price=FRACTIONAL_PRICE, budgets={}) as (
        gw,
        _,
    ):
        path.write_text(render_config(gw.app.config))
        drive(gw, fake)
    # the gateway has stopped: its outbox is written and its audit segment archived
    code, out, err = run_chargeback(
        capsys, "--month", month, "--format", "csv", "--config", str(path)
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["cost_center"], r["team"], r["model"]) for r in rows] == [
        ("cc-1", "risk", "chat-eu"),
        ("cc-2", "payments", "chat-eu"),
        ("cc-2", "risk", "chat-eu"),
    ]
    events = [
        e
        for e in audit_events(tmp_path / "gatehouse-audit")
        if e["type"] == "request" and e["time"].startswith(month)
    ]
    priced = [e for e in events if e["cost"] is not None]
    assert (len(events), len(priced)) == (13, 12)
    billed = sum((Decimal(r["cost"]) for r in rows), Decimal(0))
    assert billed == sum(Decimal(e["cost"]) for e in priced) > 0
    assert billed != billed.to_integral_value()  # fractional costs, summed exactly
    assert sum(int(r["requests"]) for r in rows) == len(priced)
    assert sum(int(r["input_tokens"]) for r in rows) == sum(e["tokens"]["input"] for e in priced)
    assert sum(int(r["output_tokens"]) for r in rows) == sum(e["tokens"]["output"] for e in priced)
    assert sum(int(r["cached_input_tokens"]) for r in rows) == 12
    per_group: dict[tuple[str, str], Decimal] = {}
    for e in priced:
        group = (e["principal"]["cost_center"], e["principal"]["team"])
        per_group[group] = per_group.get(group, Decimal(0)) + Decimal(e["cost"])
    assert {(r["cost_center"], r["team"]): Decimal(r["cost"]) for r in rows} == per_group


def test_chargeback_as_json_for_one_month(
    served: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(render_config(served.app.config))
    month = datetime.now(UTC).strftime("%Y-%m")
    served.admin("GET", "/admin/spend")  # writes the outbox now, as the interval would
    code, out, err = run_chargeback(
        capsys, "--month", month, "--format", "json", "--config", str(path)
    )
    assert code == 0, err
    report = yaml.safe_load(out)
    assert (report["object"], report["month"]) == ("chargeback", month)
    assert report["group_by"] == ["cost_center", "team", "model"]
    assert [(r["team"], r["cost"]) for r in report["data"]] == [("risk", "30"), ("payments", "20")]
    assert report["totals"][0]["cost"] == "50"
    code, out, _ = run_chargeback(capsys, "--month", "2020-01", "--config", str(path))
    assert (code, out) == (
        0,
        "cost_center,team,model,currency,requests,input_tokens,"
        "output_tokens,cached_input_tokens,cost\r\n",
    )


def test_chargeback_names_a_bad_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        render_config(ledger_config(sqlite_store(tmp_path / "none"), "http://127.0.0.1:9"))
    )
    code, _, err = run_chargeback(capsys, "--month", "2026-13", "--config", str(path))
    assert code == 2 and "--month: got '2026-13'; expected a month as YYYY-MM" in err
    code, _, err = run_chargeback(
        capsys, "--month", "2026-11", "--config", str(tmp_path / "x.yaml")
    )
    assert code == 2 and "cannot read the config file" in err
    code, _, err = run_chargeback(capsys, "--month", "2026-11", "--format", "xls")
    assert code == 2 and "invalid choice: 'xls'" in err
    code, _, err = run_chargeback(capsys, "--month", "2026-11", "--config", str(path))
    assert code == 1 and "gatehouse.db does not exist" in err
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "gatehouse.db").touch()  # a store the gateway never migrated
    code, _, err = run_chargeback(capsys, "--month", "2026-11", "--config", str(path))
    assert code == 1 and "no such table: usage_events" in err
