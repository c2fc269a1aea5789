"""OpenAI-style rate-limit headers on successful and refused answers."""

from __future__ import annotations

import pytest

from gateway.limits import LimitsConfig, MemoryBackend, RateLimiter, RateLimitExceeded
from gateway.limits.headers import format_duration
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
