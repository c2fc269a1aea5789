"""The ledger hook inside a running gateway, driven by the openai SDK."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import openai
import pytest

from gateway.context import Identity, RequestContext
from gateway.hooks import HookServices
from gateway.ledger import BudgetsConfig, Subject
from gateway.ledger.errors import RESET_HEADER
from gateway.ledger.hook import (
    RESERVATION_KEY,
    USAGE_KEY,
    LedgerHook,
    build_ledger_hook,
    route_prices,
)
from gateway.ledger.memory_store import MemoryReservationStore
from gateway.ledger.reservations import BudgetEngine, BudgetStatus
from tests.gateway.conftest import (
    ADMIN_KEY,
    Gateway,
    gateway_config,
    openai_deployment,
    run_gateway,
    sqlite_store,
)
from tests.gateway.fakes.openai import FakeOpenAI, Reply
from tests.gateway.fakes.server import serve

PRICE = {"input_per_mtok": 1_000_000, "output_per_mtok": 2_000_000}
"""1 USD per prompt token, 2 USD per completion token"""
HELLO: Any = [{"role": "user", "content": "hello there"}]
# the fake answers "echo: hello there": 2 prompt + 3 completion tokens = 2 + 6 = 8 USD.
# The worst case: 11 bytes / 4 = 3 prompt tokens + the 10-token cap x 2 = 23 USD.
ACTUAL, WORST = Decimal(8), Decimal(23)


@pytest.fixture
def ledger_gateway(tmp_path: Path) -> Iterator[tuple[Gateway, FakeOpenAI, BudgetEngine]]:
    fake = FakeOpenAI()
    with serve(fake) as fake_url:
        config = gateway_config(
            sqlite_store(tmp_path),
            {
                "chat-eu": [
                    openai_deployment(f"{fake_url}/v1", api_key_env="VLLM_API_KEY", price=PRICE)
                ]
            },
        )
        budgets = BudgetsConfig.model_validate(
            {
                "teams": {"payments": {"amount": 50, "period": "daily"}},
                "default_max_output_tokens": 10,
            }
        )
        engine = BudgetEngine(budgets, MemoryReservationStore())
        env = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, "VLLM_API_KEY": "k"}
        hook = LedgerHook(engine, route_prices(config))
        with run_gateway(config, environ=env, hooks=[hook]) as gw:
            yield gw, fake, engine


def team_status(engine: BudgetEngine) -> BudgetStatus:
    [status] = asyncio.run(engine.status(Subject("any", "payments")))
    return status


def test_requests_reserve_settle_and_are_refused_when_the_budget_is_spent(
    ledger_gateway: tuple[Gateway, FakeOpenAI, BudgetEngine],
) -> None:
    gw, fake, engine = ledger_gateway
    client = gw.client(gw.create_key())
    for n in range(1, 5):  # 8, 16, 24, 32 spent; each time 23 more still fit in 50
        client.chat.completions.create(model="chat-eu", messages=HELLO)
        status = team_status(engine)
        assert (status.spent, status.reserved) == (n * ACTUAL, Decimal(0))
    # the output cap reserved is the one forwarded
    assert fake.requests[0].body["max_completion_tokens"] == 10
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="chat-eu", messages=HELLO)
    assert info.value.code == "budget_exceeded"
    assert info.value.response.headers[RESET_HEADER].endswith("T00:00:00Z")
    assert "team 'payments' has a daily budget of 50 USD" in info.value.message
    assert fake.calls == 4  # the refused request never reached the upstream


def test_a_streamed_request_bills_the_same_as_a_plain_one(
    ledger_gateway: tuple[Gateway, FakeOpenAI, BudgetEngine],
) -> None:
    gw, _, engine = ledger_gateway
    client = gw.client(gw.create_key())
    list(client.chat.completions.create(model="chat-eu", messages=HELLO, stream=True))
    assert team_status(engine).spent == ACTUAL
    client.chat.completions.create(model="chat-eu", messages=HELLO)
    assert team_status(engine).spent == 2 * ACTUAL


def test_a_failed_request_releases_its_reservation(
    ledger_gateway: tuple[Gateway, FakeOpenAI, BudgetEngine],
) -> None:
    gw, fake, engine = ledger_gateway
    client = gw.client(gw.create_key())
    fake.queue(Reply(status=400))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="chat-eu", messages=HELLO)
    status = team_status(engine)
    assert (status.spent, status.reserved) == (Decimal(0), Decimal(0))


def test_a_stream_broken_before_usage_is_billed_at_the_worst_case(
    ledger_gateway: tuple[Gateway, FakeOpenAI, BudgetEngine],
) -> None:
    gw, fake, engine = ledger_gateway
    client = gw.client(gw.create_key())
    fake.queue(Reply(break_after=2))
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="chat-eu", messages=HELLO, stream=True))
    status = team_status(engine)
    assert (status.spent, status.reserved) == (WORST, Decimal(0))


def services(**sections: Any) -> HookServices:
    config = SimpleNamespace(currency="EUR", models=[], **sections)
    return HookServices(cast(Any, config), {}, cast(Any, None))


def test_factory_is_off_without_a_budgets_section() -> None:
    assert build_ledger_hook(services()) is None
    assert build_ledger_hook(services(budgets=BudgetsConfig(enabled=False))) is None


def test_factory_builds_an_engine_in_the_gateway_currency() -> None:
    hook = build_ledger_hook(services(budgets=BudgetsConfig()))
    assert hook is not None
    assert hook.engine.config.backend == "memory"
    assert hook.engine.currency == "EUR"


def test_factory_names_the_missing_redis_url() -> None:
    with pytest.raises(ValueError, match="GATEHOUSE_REDIS_URL"):
        build_ledger_hook(services(budgets=BudgetsConfig(backend="redis")))


async def test_each_request_settles_at_the_price_of_the_deployment_that_served_it(
    tmp_path: Path,
) -> None:
    cheap = {"input_per_mtok": 1_000_000, "output_per_mtok": 1_000_000}
    config = gateway_config(
        sqlite_store(tmp_path),
        {
            "chat-eu": [
                openai_deployment("http://127.0.0.1:9/v1", price=PRICE),
                openai_deployment("http://127.0.0.1:9/v1", price=cheap),
            ]
        },
    )
    budgets = BudgetsConfig.model_validate({"teams": {"payments": {"amount": 1000}}})
    hook = LedgerHook(BudgetEngine(budgets, MemoryReservationStore()), route_prices(config))
    served = []
    for index in (0, 1, 0, 1):
        ctx = RequestContext("POST", "/v1/chat/completions")
        ctx.identity = Identity(kind="api_key", subject="k", team="payments")
        ctx.model, ctx.body = "chat-eu", {"messages": HELLO, "max_tokens": 10}
        await hook.on_admitted(ctx)
        # reserved at the dearer deployment's price: 3 prompt + 10 output tokens
        assert ctx.state[RESERVATION_KEY].amount == 3 + 2 * 10
        ctx.deployment_id = f"chat-eu#{index}"
        ctx.deployment = config.models[0].deployments[index]
        ctx.usage = {"prompt_tokens": 2, "completion_tokens": 3}
        await hook.on_complete(ctx)
        served.append(ctx.state[USAGE_KEY].cost)
    assert served == [Decimal(8), Decimal(5), Decimal(8), Decimal(5)]
