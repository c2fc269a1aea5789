"""OpenAI-style rate-limit headers on successful and refused answers."""

from __future__ import annotations

import random

import pytest

from gateway.limits import LimitsConfig, MemoryBackend, RateLimiter, RateLimitExceeded
from gateway.limits.gcra import Charge, Quota, decide
from gateway.limits.headers import (
    admitted_headers,
    format_duration,
    header_layout,
    rate_limit_headers,
)
from tests.gateway.limits.redis_support import FakeClock


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0001, "1ms"),
        (0.012, "12ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (6.0004, "6.001s"),
        (360, "6m0s"),
        (3723.25, "1h2m3.25s"),
    ],
)
def test_durations_read_like_openai(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def make(clock: FakeClock, **config: object) -> RateLimiter:
    return RateLimiter(LimitsConfig.model_validate(config), MemoryBackend(clock))


async def test_success_carries_remaining_counts_of_the_tighter_quota(clock: FakeClock) -> None:
    rl = make(clock, default_key={"rpm": 60, "tpm": 6000}, default_team={"rpm": 10})
    admission = await rl.admit("k1", "risk", 1200)
    assert admission.headers() == {
        # the team's 10 RPM is tighter than the key's 60
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "9",
        "x-ratelimit-reset-requests": "6s",
        "x-ratelimit-limit-tokens": "6000",
        "x-ratelimit-remaining-tokens": "4800",
        "x-ratelimit-reset-tokens": "12s",
    }


async def test_refusal_carries_retry_after_and_ratelimit_headers(clock: FakeClock) -> None:
    rl = make(clock, default_key={"rpm": 2})
    await rl.admit("k1", None, 0)
    await rl.admit("k1", None, 0)
    clock.advance(10)  # 10 of the 30 seconds one request takes to refill
    with pytest.raises(RateLimitExceeded) as info:
        await rl.admit("k1", None, 0)
    assert info.value.headers == {
        "x-ratelimit-limit-requests": "2",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "50s",
        "retry-after": "20",
        "retry-after-ms": "20000",
    }
    assert "retry in 20s" in info.value.message


async def test_retry_after_rounds_up_to_a_whole_second(clock: FakeClock) -> None:
    rl = make(clock, default_key={"rpm": 600}, burst_seconds=0.1)
    await rl.admit("k1", None, 0)
    with pytest.raises(RateLimitExceeded) as info:
        await rl.admit("k1", None, 0)
    assert info.value.headers["retry-after"] == "1"
    assert info.value.headers["retry-after-ms"] == "100"


@pytest.mark.parametrize("seed", range(20))
def test_admitted_headers_equal_those_of_the_full_decision(seed: int) -> None:
    """The request path derives the success headers from the TATs alone; they must be those
    the full decision gives, ties between a key and its team included."""
    rnd = random.Random(seed)
    now = 1.7e15
    for _ in range(100):
        limits = {
            (scope, dimension): rnd.choice([None, 1, 2, 60, 61, 1000])
            for scope in ("key", "team")
            for dimension in ("requests", "tokens")
        }
        if rnd.random() < 0.3:  # the team mirrors the key: every comparison is a tie
            limits.update({("team", d): limits[("key", d)] for d in ("requests", "tokens")})
        quotas = [
            Quota(scope, "s", dimension, limit, max(1, limit * rnd.choice([1, 2]) // 2))
            for (scope, dimension), limit in limits.items()
            if limit is not None
        ]
        elapsed = rnd.choice([0.0, 1.0, 500.0])
        tats = [rnd.choice([None, now - elapsed, now + elapsed]) for _ in quotas]
        charges = [Charge(q, rnd.choice([0, 1]) if q.dimension == "tokens" else 1) for q in quotas]
        decision, stored = decide(charges, tats, now, admitted=True)
        assert admitted_headers(quotas, header_layout(quotas), stored, now) == (
            rate_limit_headers(decision)
        )
