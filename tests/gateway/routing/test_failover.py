"""Retries with back-off and Retry-After, fallback, and the breakers' part in it."""

from __future__ import annotations

import random

import pytest

from gateway.config import RetryPolicy
from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.providers.base import UpstreamError
from gateway.routing import Failover, Target
from tests.gateway.routing.test_selection import target


class Script:
    """Answers per target id, in order; ``"ok"`` succeeds, an UpstreamError is raised."""

    def __init__(self, **answers: list[UpstreamError | str]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, t: Target) -> str:
        self.calls.append(t.id)
        answer = self.answers[t.id].pop(0)
        if isinstance(answer, UpstreamError):
            raise answer
        return f"{t.id}:{answer}"


def failover(attempts: int = 3, **policy: float) -> tuple[Failover, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    retry = RetryPolicy(
        attempts=attempts,
        backoff_initial_seconds=policy.get("initial", 0.1),
        backoff_max_seconds=policy.get("max", 1.0),
        max_retry_after_seconds=policy.get("max_retry_after", 5.0),
    )
    return Failover(retry, rng=random.Random(0), sleep=sleep), slept


def ctx() -> RequestContext:
    c = RequestContext("POST", "/v1/chat/completions")
    c.model = "chat"
    return c


def err(status: int, retry_after: float | None = None) -> UpstreamError:
    return UpstreamError(
        status,
        f"upstream {status}",
        retryable=status in (408, 429) or status >= 500,
        retry_after=retry_after,
    )


async def test_retries_then_succeeds_on_the_same_deployment() -> None:
    a, b = target("a"), target("b")
    script = Script(a=[err(503), err(502), "ok"], b=["ok"])
    fo, slept = failover()
    c = ctx()
    chosen, result = await fo.run(c, [a, b], script)
    assert (chosen.id, result) == ("a", "a:ok")
    assert script.calls == ["a", "a", "a"]
    assert len(slept) == 2
    assert 0 <= slept[0] <= 0.1 and 0 <= slept[1] <= 0.2  # full jitter under the doubling cap
    assert [(x.deployment_id, x.status) for x in c.attempts] == [("a", 503), ("a", 502), ("a", 200)]
    assert c.backoff_seconds == pytest.approx(sum(slept))


async def test_falls_back_after_the_attempts_are_spent() -> None:
    a, b = target("a"), target("b")
    script = Script(a=[err(500), err(500), err(500)], b=["ok"])
    fo, _ = failover()
    chosen, _ = await fo.run(ctx(), [a, b], script)
    assert chosen.id == "b"
    assert script.calls == ["a", "a", "a", "b"]


async def test_retry_after_is_honoured() -> None:
    a = target("a")
    script = Script(a=[err(429, retry_after=1.5), "ok"])
    fo, slept = failover()
    await fo.run(ctx(), [a], script)
    assert slept == [1.5]


async def test_a_long_retry_after_moves_on_at_once() -> None:
    a, b = target("a"), target("b")
    script = Script(a=[err(429, retry_after=60)], b=["ok"])
    fo, slept = failover()
    chosen, _ = await fo.run(ctx(), [a, b], script)
    assert chosen.id == "b" and slept == []


async def test_client_errors_are_not_retried_nor_fallen_back() -> None:
    a, b = target("a"), target("b")
    script = Script(a=[err(400)], b=["ok"])
    fo, _ = failover()
    with pytest.raises(UpstreamError) as caught:
        await fo.run(ctx(), [a, b], script)
    assert caught.value.status == 400
    assert script.calls == ["a"]
    assert a.breaker.state == "closed"


async def test_the_last_error_surfaces_when_everything_fails() -> None:
    a, b = target("a"), target("b")
    script = Script(a=[err(503)] * 3, b=[err(429)] * 3)
    fo, _ = failover()
    with pytest.raises(UpstreamError) as caught:
        await fo.run(ctx(), [a, b], script)
    assert caught.value.status == 429


async def test_an_open_breaker_is_skipped_and_429_does_not_open_it() -> None:
    a, b = target("a"), target("b")
    for _ in range(5):
        a.breaker.record_failure()
    script = Script(a=["ok"], b=[err(429), "ok"])
    fo, _ = failover()
    chosen, _ = await fo.run(ctx(), [a, b], script)
    assert chosen.id == "b" and script.calls == ["b", "b"]
    assert b.breaker.state == "closed"


async def test_failures_open_the_breaker_mid_request() -> None:
    a, b = target("a"), target("b")
    for _ in range(4):
        a.breaker.record_failure()
    script = Script(a=[err(500), "never"], b=["ok"])
    fo, _ = failover()
    chosen, _ = await fo.run(ctx(), [a, b], script)
    assert chosen.id == "b"
    assert script.calls == ["a", "b"]  # the fifth failure opened it: no second try on a
    assert a.breaker.state == "open"


async def test_all_breakers_open_is_a_503() -> None:
    a = target("a")
    for _ in range(5):
        a.breaker.record_failure()
    fo, _ = failover()
    with pytest.raises(GatewayError) as caught:
        await fo.run(ctx(), [a], Script(a=[]))
    assert caught.value.status == 503
    assert caught.value.code == "no_healthy_deployment"
