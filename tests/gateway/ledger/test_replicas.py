"""Two gateway processes sharing PostgreSQL and Redis: one budget, never overspent; a
crashed replica's reservation is freed once it expires."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from gateway.ledger.budgets import BudgetsConfig
from gateway.ledger.redis_store import RedisReservationStore
from gateway.ledger.reservations import BudgetEngine
from gateway.ledger.usage_log import UsageLog
from gateway.store.engine import create_engine
from tests.gateway.fakes.openai import Reply
from tests.gateway.fakes.server import serve
from tests.gateway.ledger.gateway_support import MAX_TOKENS, PROMPT, WORST, WorstCaseFake, contend
from tests.gateway.ledger.processes import async_client, redis_prefix, replica_config, replicas
from tests.gateway.limits.redis_support import REDIS_URL, make_client

pytestmark = pytest.mark.services

TEAM_BUDGET = {"payments": {"amount": str(10 * WORST), "period": "monthly"}}


def budgets(prefix: str, **extra: object) -> dict[str, object]:
    return {
        "backend": "redis",
        "key_prefix": f"{prefix}budget:",
        "store_timeout_seconds": 5,  # a busy shared machine: correctness, not latency
        "teams": TEAM_BUDGET,
        **extra,
    }


async def recorded(store: str) -> tuple[int, Decimal]:
    engine = create_engine(store)
    try:
        rows = await UsageLog(engine).totals(["team"], start=datetime(2000, 1, 1, tzinfo=UTC))
    finally:
        await engine.dispose()
    return sum(r.requests for r in rows), sum((r.cost for r in rows), Decimal(0))


def test_two_gateway_processes_never_overspend_a_shared_budget(
    postgres_url: str, tmp_path: Path
) -> None:
    with (
        redis_prefix() as (_, prefix),
        serve(WorstCaseFake()) as upstream,
        replicas(
            replica_config(postgres_url, upstream, budgets=budgets(prefix)), tmp_path
        ) as group,
    ):
        key = group.create_key(team="payments")
        clients = [async_client(url, key) for url in group.urls]
        outcome = asyncio.run(contend(clients, 200))
        assert outcome.other == []
        assert (outcome.served, outcome.refused, outcome.unjustified) == (10, 190, 0)
        [budget] = group.admin("GET", "/admin/budgets", index=1).json()["data"]
        assert (budget["spent"], budget["reserved"]) == ("100", "0")
        group.stop()  # both flush their outboxes on the way down
    assert asyncio.run(recorded(postgres_url)) == (10, Decimal(100))


def test_a_crashed_replica_leaks_no_reservation_once_it_expired(
    postgres_url: str, tmp_path: Path
) -> None:
    fake = WorstCaseFake()
    fake.queue(Reply(delay=20))  # the request is in flight when its replica dies
    with redis_prefix() as (client, prefix), serve(fake) as upstream:
        config = budgets(prefix, reservation_ttl_seconds=30)
        with replicas(
            replica_config(postgres_url, upstream, budgets=config), tmp_path, count=1
        ) as group:
            key = group.create_key(team="payments")
            month = datetime.now(UTC).strftime("%Y-%m")
            counter = f"{prefix}budget:c:team:payments:monthly:{month}"

            outcome: list[str] = []

            def in_flight() -> None:
                body = {"model": "chat-eu", "messages": PROMPT, "max_tokens": MAX_TOKENS}
                headers = {"authorization": f"Bearer {key}"}
                try:
                    response = httpx.post(
                        f"{group.urls[0]}/v1/chat/completions",
                        json=body,
                        headers=headers,
                        timeout=30,
                    )
                    outcome.append(f"answered {response.status_code}")
                except httpx.TransportError:
                    outcome.append("connection lost")

            request = threading.Thread(target=in_flight)
            request.start()
            deadline = time.monotonic() + 10
            while client.hget(counter, "reserved") in (None, b"0"):
                assert time.monotonic() < deadline, "the request never reserved"
                time.sleep(0.02)
            group.processes[0].kill()  # crash: no settle, no release
            group.processes[0].wait(timeout=10)
            request.join(timeout=10)
            assert outcome == ["connection lost"]
        held = int(WORST * 1_000_000)
        assert int(client.hget(counter, "reserved") or 0) == held  # leaked, for now

        async def expire(clock_offset: float) -> int:
            """What a replica starting ``clock_offset`` seconds from now frees at start-up."""
            redis = make_client(REDIS_URL)
            try:
                engine = BudgetEngine(
                    BudgetsConfig.model_validate(config),
                    RedisReservationStore(redis, prefix=f"{prefix}budget:", timeout=5),
                    clock=lambda: time.time() + clock_offset,
                )
                return await engine.expire_stale()
            finally:
                await redis.aclose()

        # before the reservation's expiry nothing is freed; after it, the hold is gone
        assert asyncio.run(expire(0)) == 0
        assert int(client.hget(counter, "reserved") or 0) == held
        assert asyncio.run(expire(31)) == 1
        assert int(client.hget(counter, "reserved") or 0) == 0
        assert int(client.hget(counter, "spent") or 0) == 0
