"""A settle repeated (a retry, a second replica) counts once: in the counters and in SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from gateway.context import Identity, RequestContext
from gateway.ledger import Price, Subject
from gateway.ledger.budgets import BudgetsConfig
from gateway.ledger.durable import DurableLedger
from gateway.ledger.events import UsageEvent
from gateway.ledger.hook import USAGE_KEY, LedgerHook
from gateway.ledger.reservations import BudgetEngine
from gateway.ledger.store import ReservationStore
from gateway.store import Store
from tests.gateway.limits.redis_support import FakeClock

CONFIG = BudgetsConfig.model_validate({"teams": {"risk": {"amount": 100}}})
PRICE = Price.of(1_000_000, 1_000_000)


def request() -> RequestContext:
    ctx = RequestContext("POST", "/v1/chat/completions")
    ctx.identity = Identity(kind="api_key", subject="k1", team="risk")
    ctx.model = "chat-eu"
    ctx.body = {
        "model": "chat-eu",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
    }
    return ctx


async def test_a_retried_settle_is_counted_once(
    migrated_store: Store, store: ReservationStore, clock: FakeClock
) -> None:
    durable = DurableLedger(migrated_store.engine, CONFIG)
    engine = BudgetEngine(CONFIG, store, budgets=durable.budgets, clock=clock)
    hook = LedgerHook(engine, {"chat-eu": PRICE}, durable=durable)
    await hook.startup()
    try:
        ctx = request()
        await hook.on_admitted(ctx)
        ctx.usage = {"prompt_tokens": 1, "completion_tokens": 2}
        await hook.on_complete(ctx)
        first = ctx.state[USAGE_KEY]
        await hook.on_complete(ctx)  # the same settlement again
        await hook.on_failed(ctx, error=None)  # type: ignore[arg-type]
        assert ctx.state[USAGE_KEY] is first
        [status] = await engine.status(Subject("k1", "risk"))
        assert (status.spent, status.reserved) == (Decimal(3), Decimal(0))
        assert durable.outbox.pending == 1
    finally:
        await hook.shutdown()
    assert await durable.usage.count() == 1


async def test_the_same_event_from_two_replicas_is_one_row(migrated_store: Store) -> None:
    event = UsageEvent(
        request_id="r1",
        time=datetime.now(UTC),
        key_id="k1",
        team="risk",
        cost_center=None,
        model_alias="chat-eu",
        deployment="chat-eu#0",
        input_tokens=1,
        output_tokens=2,
        cached_input_tokens=0,
        cost=Decimal(3),
        currency="USD",
    )
    replicas = [DurableLedger(migrated_store.engine, CONFIG) for _ in range(2)]
    for replica in replicas:
        await replica.record(event)
    for replica in replicas:
        await replica.aclose()
    [row] = await replicas[0].usage.totals(["team"], start=event.time)
    assert (row.requests, row.cost) == (1, Decimal(3))
