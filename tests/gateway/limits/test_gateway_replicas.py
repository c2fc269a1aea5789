"""Two gateway processes sharing Redis hold one key's rate limit together, not each."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import openai
import pytest

from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.fakes.server import serve
from tests.gateway.ledger.gateway_support import PROMPT
from tests.gateway.ledger.processes import async_client, redis_prefix, replica_config, replicas

pytestmark = pytest.mark.services

RPM = 20  # a bucket of 20 requests (one minute's quota), refilled at one every 3 s
REQUESTS = 80


async def burst(clients: list[openai.AsyncOpenAI]) -> tuple[list[int], list[str]]:
    """REQUESTS requests in rounds of concurrent requests, one to each replica."""
    served = [0] * len(clients)
    refusals: list[str] = []

    async def one(i: int) -> None:
        client = clients[i % len(clients)]
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model="chat-eu", messages=PROMPT
            )
        except openai.RateLimitError as err:
            refusals.append(
                f"{err.code} remaining={err.response.headers.get('x-ratelimit-remaining-requests')}"
            )
            return
        assert raw.headers["x-ratelimit-limit-requests"] == str(RPM)
        served[i % len(clients)] += 1

    try:
        for start in range(0, REQUESTS, len(clients)):  # each round: one per replica, at once
            await asyncio.gather(*(one(i) for i in range(start, start + len(clients))))
    finally:
        for client in clients:
            await client.close()
    return served, refusals


def test_two_gateway_processes_share_one_rate_limit(postgres_url: str, tmp_path: Path) -> None:
    with redis_prefix() as (_, prefix), serve(FakeOpenAI()) as upstream:
        limits = {
            "backend": "redis",
            "key_prefix": f"{prefix}rl:",
            "store_timeout_seconds": 5,
            "default_key": {"rpm": RPM},
        }
        config = replica_config(postgres_url, upstream, limits=limits)
        with replicas(config, tmp_path) as group:
            key = group.create_key(team="payments")
            started = time.monotonic()
            served, refusals = asyncio.run(burst([async_client(u, key) for u in group.urls]))
            elapsed = time.monotonic() - started
    # the shared bucket, plus what refilled while the burst ran; per-replica limits would
    # have served up to twice the bucket
    allowed = RPM + math.floor(elapsed * RPM / 60)
    print(f"served {served} of {REQUESTS} in {elapsed:.2f}s; the shared limit allows {allowed}")
    assert RPM <= sum(served) <= allowed
    assert min(served) >= RPM // 2 - 2  # both replicas drew on the same bucket
    assert len(refusals) == REQUESTS - sum(served)
    assert set(refusals) == {"rate_limit_exceeded remaining=0"}
