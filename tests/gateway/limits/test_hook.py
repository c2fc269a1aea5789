"""The rate-limit hook inside a running gateway, driven by the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import openai
import pytest

from gateway.hooks import HookServices
from gateway.limits import LimitsConfig, MemoryBackend, RateLimit, RateLimiter, RateLimitExceeded
from gateway.limits.hook import HEADERS_KEY, LimitsHook, build_limits_hook
from tests.gateway.conftest import (
    ADMIN_KEY,
    Gateway,
    gateway_config,
    openai_deployment,
    run_gateway,
    sqlite_store,
)
from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.fakes.server import serve
from tests.gateway.limits.redis_support import REDIS_URL, FakeClock

HELLO: Any = [{"role": "user", "content": "hello there"}]


class Recording(LimitsHook):
    """Keeps the success headers the hook computed, for the test to read."""

    seen: list[dict[str, str]]

    async def on_complete(self, ctx: Any) -> None:
        self.seen.append(ctx.state[HEADERS_KEY])
        await super().on_complete(ctx)


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[Gateway, FakeOpenAI, Recording, FakeClock]]:
    fake = FakeOpenAI()
    clock = FakeClock()
    with serve(fake) as fake_url:
        config = gateway_config(
            sqlite_store(tmp_path),
            {"chat-eu": [openai_deployment(f"{fake_url}/v1", api_key_env="VLLM_API_KEY")]},
        )
        limits = LimitsConfig.model_validate(
            {"default_key": {"rpm": 2}, "default_team": {"tpm": 100}}
        )
        hook = Recording(RateLimiter(limits, MemoryBackend(clock)), default_output_cap=20)
        hook.seen = []
        env = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, "VLLM_API_KEY": "k"}
        with run_gateway(config, environ=env, hooks=[hook]) as gw:
            yield gw, fake, hook, clock


def test_a_key_over_its_rpm_gets_429_with_openai_headers(
    limited: tuple[Gateway, FakeOpenAI, Recording, FakeClock],
) -> None:
    gw, fake, _, clock = limited
    client = gw.client(gw.create_key())
    client.chat.completions.create(model="chat-eu", messages=HELLO)
    client.chat.completions.create(model="chat-eu", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="chat-eu", messages=HELLO)
    headers = info.value.response.headers
    assert info.value.code == "rate_limit_exceeded"
    assert headers["retry-after"] == "30"
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-limit-tokens"] == "100"
    assert fake.calls == 2
    clock.advance(30)
    client.chat.completions.create(model="chat-eu", messages=HELLO)  # one refilled


def test_tokens_are_charged_by_estimate_then_corrected_to_usage(
    limited: tuple[Gateway, FakeOpenAI, Recording, FakeClock],
) -> None:
    gw, _, hook, _ = limited
    client = gw.client(gw.create_key())
    client.chat.completions.create(model="chat-eu", messages=HELLO)
    # estimate at admission: 3 prompt + 20 output cap = 23 of the team's 100
    assert hook.seen[0]["x-ratelimit-remaining-tokens"] == "77"
    client.chat.completions.create(model="chat-eu", messages=HELLO)
    # the first request was corrected to its 5 real tokens: 100 - 5 - 23
    assert hook.seen[1]["x-ratelimit-remaining-tokens"] == "72"


def services(environ: dict[str, str] | None = None, **sections: Any) -> HookServices:
    return HookServices(cast(Any, SimpleNamespace(**sections)), environ or {}, cast(Any, None))


def test_factory_is_off_without_a_limits_section() -> None:
    assert build_limits_hook(services()) is None
    assert build_limits_hook(services(limits=LimitsConfig(enabled=False))) is None
    hook = build_limits_hook(services(limits=LimitsConfig()))
    assert hook is not None


def test_factory_names_the_missing_redis_url() -> None:
    with pytest.raises(ValueError, match="GATEHOUSE_REDIS_URL"):
        build_limits_hook(services(limits=LimitsConfig(backend="redis")))


@pytest.mark.services
async def test_factory_connects_the_redis_backend(redis_prefix: tuple[Any, str]) -> None:
    _, prefix = redis_prefix
    limits = LimitsConfig(backend="redis", key_prefix=prefix, default_key=RateLimit(rpm=1))
    hook = build_limits_hook(services({"GATEHOUSE_REDIS_URL": REDIS_URL}, limits=limits))
    assert hook is not None
    try:
        await hook.limiter.admit("k1", None, 0)
        with pytest.raises(RateLimitExceeded):
            await hook.limiter.admit("k1", None, 0)
    finally:
        await hook.shutdown()
