"""Exact GCRA behaviour of RPM and TPM, on the memory backend and on the Redis script."""

from __future__ import annotations

import pytest

from gateway.limits import (
    LimitsConfig,
    MemoryBackend,
    Quota,
    RateLimit,
    RateLimiter,
    RateLimitExceeded,
)
from gateway.limits import limiter as limiter_module
from gateway.limits.backend import LimiterBackend
from tests.gateway.limits.redis_support import FakeClock


def limiter(backend: LimiterBackend, **config: object) -> RateLimiter:
    return RateLimiter(LimitsConfig.model_validate(config), backend)


async def refused(rl: RateLimiter, key: str, team: str | None, tokens: int) -> RateLimitExceeded:
    with pytest.raises(RateLimitExceeded) as info:
        await rl.admit(key, team, tokens)
    return info.value


async def test_rpm_admits_the_burst_then_exactly_the_rate(
    backend: LimiterBackend, clock: FakeClock
) -> None:
    rl = limiter(backend, default_key={"rpm": 60})
    for _ in range(60):
        await rl.admit("k1", None, 0)
    err = await refused(rl, "k1", None, 0)
    assert err.status == 429
    assert err.code == "rate_limit_exceeded"
    assert err.type == "requests"
    assert err.decision.retry_after == pytest.approx(1.0)
    clock.advance(0.999)
    await refused(rl, "k1", None, 0)
    clock.advance(0.001)
    await rl.admit("k1", None, 0)
    await refused(rl, "k1", None, 0)
    clock.advance(60)
    for _ in range(60):
        await rl.admit("k1", None, 0)
    await refused(rl, "k1", None, 0)


async def test_burst_seconds_spreads_the_minute(backend: LimiterBackend, clock: FakeClock) -> None:
    rl = limiter(backend, default_key={"rpm": 120}, burst_seconds=1)
    await rl.admit("k1", None, 0)
    await rl.admit("k1", None, 0)
    err = await refused(rl, "k1", None, 0)
    assert err.decision.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    await rl.admit("k1", None, 0)


async def test_keys_are_limited_independently(backend: LimiterBackend) -> None:
    rl = limiter(backend, default_key={"rpm": 1})
    await rl.admit("k1", None, 0)
    await refused(rl, "k1", None, 0)
    await rl.admit("k2", None, 0)


async def test_tpm_charges_the_estimate_then_follows_reported_usage(
    backend: LimiterBackend, clock: FakeClock
) -> None:
    rl = limiter(backend, default_key={"tpm": 1000})
    first = await rl.admit("k1", None, 600)
    assert first.headers()["x-ratelimit-remaining-tokens"] == "400"
    err = await refused(rl, "k1", None, 500)
    assert err.type == "tokens"
    # 100 missing tokens at 1000 per minute refill in 6 seconds
    assert err.decision.retry_after == pytest.approx(6.0)
    await rl.record_usage(first, 100)  # the upstream used 100, not 600
    second = await rl.admit("k1", None, 500)
    assert second.headers()["x-ratelimit-remaining-tokens"] == "400"
    await rl.record_usage(second, 1000)  # 500 more than estimated: the bucket runs 100 over
    err = await refused(rl, "k1", None, 0)
    assert err.decision.retry_after == pytest.approx(6.0)
    clock.advance(65.9)
    await refused(rl, "k1", None, 1000)
    clock.advance(0.1)
    await rl.admit("k1", None, 1000)


async def test_a_request_larger_than_the_bucket_never_fits(backend: LimiterBackend) -> None:
    rl = limiter(backend, default_team={"tpm": 1000})
    err = await refused(rl, "k1", "risk", 1001)
    assert err.decision.retry_after is None
    assert "can never fit" in err.message
    assert "1001" in err.message
    assert "retry-after" not in err.headers


async def test_all_or_nothing_across_key_and_team(backend: LimiterBackend) -> None:
    rl = limiter(backend, default_key={"rpm": 10, "tpm": 10_000}, default_team={"rpm": 2})
    await rl.admit("k1", "risk", 100)
    await rl.admit("k2", "risk", 100)
    err = await refused(rl, "k1", "risk", 100)
    by_quota = {(s.quota.scope, s.quota.dimension): s for s in err.decision.states}
    assert not by_quota[("team", "requests")].allowed
    assert by_quota[("key", "requests")].allowed
    # the refused request consumed nothing from the quotas that had room
    assert by_quota[("key", "requests")].remaining == 9
    assert by_quota[("key", "tokens")].remaining == 9_900
    assert "team 'risk' allows 2 requests per minute" in err.message
    # another team is unaffected
    await rl.admit("k3", "markets", 100)


async def test_per_key_and_per_team_overrides(backend: LimiterBackend) -> None:
    rl = limiter(
        backend,
        default_key={"rpm": 1},
        keys={"vip": {"rpm": 3}},
        default_team={"rpm": 100},
        teams={"small": {"rpm": 1}},
    )
    for _ in range(3):
        await rl.admit("vip", None, 0)
    await refused(rl, "vip", None, 0)
    await rl.admit("other", "small", 0)
    await refused(rl, "other2", "small", 0)
    # an override passed by the caller (e.g. from the key record) wins over the config
    await rl.admit("stored", None, 0, key_limit=RateLimit(rpm=2))
    await rl.admit("stored", None, 0, key_limit=RateLimit(rpm=2))
    await refused(rl, "stored", None, 0)


async def test_no_applicable_limit_or_disabled_admits_without_decision(
    backend: LimiterBackend,
) -> None:
    unlimited = limiter(backend)
    admission = await unlimited.admit("k1", "risk", 10**9)
    assert admission.decision is None
    assert admission.headers() == {}
    disabled = limiter(backend, enabled=False, default_key={"rpm": 1})
    for _ in range(3):
        assert (await disabled.admit("k1", None, 0)).decision is None


async def test_negative_tokens_are_rejected(backend: LimiterBackend) -> None:
    rl = limiter(backend, default_key={"tpm": 10})
    with pytest.raises(ValueError, match="tokens must be >= 0"):
        await rl.admit("k1", None, -1)


async def test_memory_backend_forgets_refilled_buckets(clock: FakeClock) -> None:
    backend = MemoryBackend(clock)
    rl = RateLimiter(LimitsConfig(default_key=RateLimit(rpm=60)), backend)
    for i in range(2000):
        await rl.admit(f"k{i}", None, 0)
    assert len(backend) == 2000
    clock.advance(61)  # every bucket has refilled: its state is the same as none
    for i in range(2048):
        await rl.admit(f"new{i}", None, 0)
    assert len(backend) < 4000
    await rl.admit("k0", None, 0)  # a forgotten key starts from a full bucket


def test_quotas_are_built_once_per_key_team_and_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limiter_module, "QUOTA_CACHE_SIZE", 2)
    rl = RateLimiter(
        LimitsConfig(
            default_key=RateLimit(rpm=60, tpm=1000),
            default_team=RateLimit(tpm=5000),
            burst_seconds=30,
        ),
        MemoryBackend(),
    )
    first = rl.quotas("k1", "risk")
    assert first == [
        Quota("key", "k1", "requests", 60, 30),
        Quota("key", "k1", "tokens", 1000, 500),
        Quota("team", "risk", "tokens", 5000, 2500),
    ]
    again = rl.quotas("k1", "risk")
    assert all(a is b for a, b in zip(first, again, strict=True))  # the same objects
    overridden = rl.quotas("k1", "risk", key_limit=RateLimit(rpm=2))
    assert overridden == [
        Quota("key", "k1", "requests", 2, 1),
        Quota("team", "risk", "tokens", 5000, 2500),
    ]
    assert rl.quotas("k1", None) == first[:2]
    # the cache is bounded: the least recently used combination is rebuilt, equal
    rebuilt = rl.quotas("k1", "risk")
    assert rebuilt == first
    assert rebuilt[0] is not first[0]


async def test_an_admission_charges_one_request_and_the_estimate_in_quota_order(
    clock: FakeClock,
) -> None:
    rl = RateLimiter(
        LimitsConfig(default_key=RateLimit(rpm=60, tpm=1000), default_team=RateLimit(rpm=9)),
        MemoryBackend(clock),
    )
    for tokens in (7, 0, 11):
        admission = await rl.admit("k1", "risk", tokens)
        assert admission.decision is not None
        states = admission.decision.states
        assert [(s.quota.storage_key, s.cost) for s in states] == [
            ("key:k1:requests", 1),
            ("key:k1:tokens", tokens),
            ("team:risk:requests", 1),
        ]
        assert [(c.quota.storage_key, c.cost) for c in admission.token_charges] == [
            ("key:k1:tokens", tokens)
        ]
