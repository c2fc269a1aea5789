"""The Redis script (one round trip, server clock, key expiry) and store outages.

Outages are real: the client points at a loopback port nothing listens on."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway.limits import (
    Admission,
    LimitsConfig,
    MemoryBackend,
    RateLimit,
    RateLimiter,
    RateLimiterUnavailable,
    RateLimitExceeded,
    RedisBackend,
    create_rate_limiter,
)
from tests.gateway.limits.redis_support import (
    FakeClock,
    closed_port_url,
    make_client,
    record_commands,
)

LIMITS = {"default_key": {"rpm": 5, "tpm": 1000}, "default_team": {"rpm": 8, "tpm": 2000}}


def config(prefix: str, **extra: Any) -> LimitsConfig:
    return LimitsConfig.model_validate(
        {"backend": "redis", "key_prefix": prefix, **LIMITS, **extra}
    )


@pytest.mark.services
async def test_one_round_trip_checks_all_four_quotas_and_one_corrects_usage(
    redis_prefix: tuple[Redis, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, prefix = redis_prefix
    rl = create_rate_limiter(config(prefix), redis=client)
    # loads both scripts once
    await rl.record_usage(await rl.admit("warm-up", "warm-up", 1), 0)
    sent = record_commands(client, monkeypatch)
    admission = await rl.admit("k1", "risk", 100)
    assert [a[0] for a in sent] == ["EVALSHA"]
    assert admission.decision is not None
    assert len(admission.decision.states) == 4
    # the usage correction of both token quotas is one round trip too
    sent.clear()
    await rl.record_usage(admission, 40)
    assert [a[0] for a in sent] == ["EVALSHA"]


@pytest.mark.services
async def test_server_clock_keys_and_expiry(redis_prefix: tuple[Redis, str]) -> None:
    client, prefix = redis_prefix
    rl = create_rate_limiter(config(prefix), redis=client)
    for _ in range(5):
        await rl.admit("k1", None, 10)
    with pytest.raises(RateLimitExceeded) as info:
        await rl.admit("k1", None, 10)
    # five requests at once used the whole bucket; one request refills in 12 s
    assert 11_500 <= int(info.value.headers["retry-after-ms"]) <= 12_000
    ttl_ms = await client.pttl(f"{prefix}key:k1:requests")
    # the TAT lives until its bucket has refilled (60 s) plus one second of margin
    assert 59_000 < ttl_ms <= 61_000
    assert await client.exists(f"{prefix}key:k1:tokens") == 1


@pytest.mark.services
async def test_refunds_delete_a_refilled_bucket(
    redis_prefix: tuple[Redis, str], clock: FakeClock
) -> None:
    client, prefix = redis_prefix
    rl = RateLimiter(config(prefix), RedisBackend(client, prefix=prefix, clock=clock))
    admission = await rl.admit("k1", None, 500)
    await rl.record_usage(admission, 0)
    assert await client.exists(f"{prefix}key:k1:tokens") == 0


def unreachable(policy: str, registry: CollectorRegistry) -> RateLimiter:
    client = make_client(closed_port_url())
    cfg = LimitsConfig.model_validate(
        {"backend": "redis", "on_store_error": policy, "default_key": {"rpm": 1}}
    )
    return create_rate_limiter(cfg, redis=client, registry=registry)


def fail_open_count(registry: CollectorRegistry, operation: str) -> float:
    value = registry.get_sample_value(
        "gatehouse_rate_limit_fail_open_total", {"operation": operation}
    )
    return value or 0.0


async def test_unreachable_store_fails_closed_by_default() -> None:
    assert LimitsConfig().on_store_error == "fail_closed"
    registry = CollectorRegistry()
    rl = unreachable("fail_closed", registry)
    started = time.monotonic()
    with pytest.raises(RateLimiterUnavailable) as info:
        await rl.admit("k1", None, 0)
    assert time.monotonic() - started < 1.0
    assert info.value.status == 503
    assert info.value.code == "rate_limiter_unavailable"
    assert "fail_closed" in info.value.message
    assert fail_open_count(registry, "admit") == 0


async def test_unreachable_store_fails_open_only_when_configured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    rl = unreachable("fail_open", registry)
    with caplog.at_level(logging.WARNING, logger="gatehouse.limits"):
        for _ in range(3):  # limited to 1 RPM, yet served: nothing can be counted
            admission = await rl.admit("k1", None, 0)
            assert admission.failed_open
            assert admission.headers() == {}
    assert fail_open_count(registry, "admit") == 3
    assert sum("failing open" in r.getMessage() for r in caplog.records) == 3
    await rl.record_usage(admission, 10)  # nothing charged, nothing to correct, no error


@pytest.mark.services
async def test_a_hung_store_is_bounded_by_the_timeout(
    redis_prefix: tuple[Redis, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, prefix = redis_prefix
    cfg = config(prefix, store_timeout_seconds=0.05)
    rl = create_rate_limiter(cfg, redis=client)

    async def hang(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(5)

    monkeypatch.setattr(client, "execute_command", hang)
    started = time.monotonic()
    with pytest.raises(RateLimiterUnavailable, match=r"no answer within 0\.05s"):
        await rl.admit("k1", None, 0)
    assert time.monotonic() - started < 1.0


async def trace(rl: RateLimiter, clock: FakeClock, seed: int) -> list[Any]:
    """Everything a random mix of admissions, refusals and corrections answers."""
    rnd = random.Random(seed)
    out: list[Any] = []
    admitted: list[Admission] = []
    for _ in range(300):
        step = rnd.random()
        if step < 0.2:
            clock.advance(rnd.choice([0.001, 0.5, 1.0, 3.3, 10.0, 61.0]))
        elif step < 0.35 and admitted:
            used = rnd.choice([0, 1, 100, 500, 2000])
            await rl.record_usage(admitted.pop(rnd.randrange(len(admitted))), used)
        else:
            key, team = rnd.choice(["k1", "k2", "vip"]), rnd.choice([None, "t1", "t2"])
            tokens = rnd.choice([0, 1, 50, 700, 1500, 5000])
            key_limit = RateLimit(rpm=3, tpm=300) if rnd.random() < 0.1 else None
            try:
                admission = await rl.admit(key, team, tokens, key_limit=key_limit)
            except RateLimitExceeded as err:
                out.append((err.status, err.type, err.message, err.headers, err.decision))
            else:
                admitted.append(admission)
                out.append((admission.headers(), admission.decision, admission.token_charges))
    return out


@pytest.mark.services
@pytest.mark.parametrize("seed", range(3))
async def test_memory_and_redis_answer_identically(
    redis_prefix: tuple[Redis, str], seed: int
) -> None:
    client, prefix = redis_prefix
    cfg = LimitsConfig.model_validate(
        {
            "default_key": {"rpm": 7, "tpm": 777},
            "keys": {"vip": {"rpm": 2}},
            "default_team": {"rpm": 9, "tpm": 3333},
            "teams": {"t2": {"tpm": 50}},
            "burst_seconds": 13.7,
        }
    )
    memory_clock, redis_clock = FakeClock(), FakeClock()
    memory = RateLimiter(cfg, MemoryBackend(memory_clock))
    shared = RateLimiter(cfg, RedisBackend(client, prefix=prefix, clock=redis_clock))
    expected = await trace(memory, memory_clock, seed)
    assert any(len(answer) == 5 for answer in expected)  # some refusals
    assert await trace(shared, redis_clock, seed) == expected
