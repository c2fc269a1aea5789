"""End to end: retries, fallback, timeouts, circuit breakers, residency and broken streams."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests.gateway.conftest import gateway_config, openai_deployment, run_gateway, sqlite_store
from tests.gateway.fakes.openai import FakeOpenAI, Reply
from tests.gateway.fakes.server import free_port, serve

BODY = {"model": "chat", "messages": [{"role": "user", "content": "hello"}]}
STREAM = {**BODY, "stream": True}


@pytest.fixture
def fakes() -> Iterator[tuple[FakeOpenAI, FakeOpenAI, str, str]]:
    primary, secondary = FakeOpenAI(name="primary"), FakeOpenAI(name="secondary")
    with serve(primary) as a, serve(secondary) as b:
        yield primary, secondary, f"{a}/v1", f"{b}/v1"


def two_deployments(
    tmp_path: Path, first: str, second: str, *, second_jurisdiction: str = "eu", **overrides: Any
) -> Any:
    return gateway_config(
        sqlite_store(tmp_path),
        {
            "chat": [
                openai_deployment(first, priority=0),
                openai_deployment(second, second_jurisdiction, priority=1),
            ]
        },
        **overrides,
    )


def sse_events(raw: bytes) -> list[bytes]:
    return [e.removeprefix(b"data: ") for e in raw.split(b"\n\n") if e]


def test_retry_then_success_on_the_same_deployment(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, a, b = fakes
    primary.queue(Reply(status=503, headers={"retry-after": "0"}))
    with run_gateway(two_deployments(tmp_path, a, b)) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=BODY)
    assert response.status_code == 200
    assert (primary.calls, secondary.calls) == (2, 0)


def test_fallback_to_the_next_deployment(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, a, b = fakes
    primary.queue(Reply(status=500), Reply(status=502))
    with run_gateway(two_deployments(tmp_path, a, b)) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=BODY)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "echo: hello"
    assert (primary.calls, secondary.calls) == (2, 1)


def test_retry_after_is_honoured_and_not_counted_as_overhead(tmp_path: Path, fakes: Any) -> None:
    primary, _, a, b = fakes
    primary.queue(Reply(status=429, headers={"retry-after": "1"}))
    with run_gateway(two_deployments(tmp_path, a, b)) as gw:
        key = gw.create_key()
        started = time.monotonic()
        response = gw.post("/v1/chat/completions", key, json=BODY)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert primary.calls == 2
    assert elapsed >= 1.0
    assert float(response.headers["x-gatehouse-overhead-ms"]) < 500


def test_connect_error_falls_back(tmp_path: Path, fakes: Any) -> None:
    _, secondary, _, b = fakes
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with run_gateway(two_deployments(tmp_path, dead, b)) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=BODY)
    assert response.status_code == 200
    assert secondary.calls == 1


def test_timeout_falls_back(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, a, b = fakes
    primary.queue(Reply(delay=1.0), Reply(delay=1.0))
    config = two_deployments(tmp_path, a, b, timeouts={"total": 0.2})
    with run_gateway(config) as gw:
        key = gw.create_key()
        started = time.monotonic()
        response = gw.post("/v1/chat/completions", key, json=BODY)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 1.0
    assert (primary.calls, secondary.calls) == (2, 1)


def test_read_timeout_applies_to_each_attempt(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, a, b = fakes
    primary.queue(Reply(delay=1.0), Reply(delay=1.0))
    config = two_deployments(tmp_path, a, b, timeouts={"read": 0.2, "total": 30})
    with run_gateway(config) as gw:
        key = gw.create_key()
        started = time.monotonic()
        response = gw.post("/v1/chat/completions", key, json=BODY)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 1.0
    assert (primary.calls, secondary.calls) == (2, 1)


def test_everything_failing_is_a_502_with_the_last_message(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, a, b = fakes
    primary.queue(*[Reply(status=503)] * 2)
    secondary.queue(*[Reply(status=500)] * 2)
    with run_gateway(two_deployments(tmp_path, a, b)) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=BODY)
    assert response.status_code == 502
    assert response.json()["error"]["message"] == "secondary says 500"


def test_rate_limited_everywhere_is_a_429_with_retry_after(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, a, b = fakes
    primary.queue(*[Reply(status=429, headers={"retry-after": "30"})] * 2)
    secondary.queue(*[Reply(status=429, headers={"retry-after": "20"})] * 2)
    with run_gateway(two_deployments(tmp_path, a, b)) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=BODY)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "20"
    assert (primary.calls, secondary.calls) == (1, 1)  # a long Retry-After is not waited for


def test_circuit_breaker_opens_skips_and_recovers_through_a_probe(
    tmp_path: Path, fakes: Any
) -> None:
    primary, secondary, a, b = fakes
    config = two_deployments(
        tmp_path,
        a,
        b,
        retry={"attempts": 1},
        circuit_breaker={"failure_threshold": 2, "cooldown_seconds": 0.5},
    )
    with run_gateway(config) as gw:
        key = gw.create_key()
        primary.queue(Reply(status=503), Reply(status=503))
        for _ in range(2):
            assert gw.post("/v1/chat/completions", key, json=BODY).status_code == 200
        assert (primary.calls, secondary.calls) == (2, 2)
        assert str(gw.app.routes["chat"][0].breaker.state) == "open"
        assert gw.post("/v1/chat/completions", key, json=BODY).status_code == 200
        assert (primary.calls, secondary.calls) == (2, 3)  # skipped while open
        time.sleep(0.55)
        assert gw.post("/v1/chat/completions", key, json=BODY).status_code == 200
        assert (primary.calls, secondary.calls) == (3, 3)  # the probe succeeded
        assert str(gw.app.routes["chat"][0].breaker.state) == "closed"


def test_fallback_never_crosses_residency(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, a, b = fakes
    config = two_deployments(tmp_path, a, b, second_jurisdiction="us")
    primary.queue(*[Reply(status=503)] * 2)
    with run_gateway(config) as gw:
        eu_key = gw.create_key(jurisdictions=["eu"])
        response = gw.post("/v1/chat/completions", eu_key, json=BODY)
        assert response.status_code == 502
        assert secondary.calls == 0
        us_key = gw.create_key(jurisdictions=["us"])
        assert gw.post("/v1/chat/completions", us_key, json=BODY).status_code == 200
        assert (primary.calls, secondary.calls) == (2, 1)
        both = gw.create_key(jurisdictions=["eu", "us"])
        primary.queue(*[Reply(status=503)] * 2)
        assert gw.post("/v1/chat/completions", both, json=BODY).status_code == 200
        assert (primary.calls, secondary.calls) == (4, 2)


def test_stream_retries_before_the_first_byte(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, a, b = fakes
    primary.queue(Reply(status=500), Reply(status=500))
    with run_gateway(two_deployments(tmp_path, a, b)) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=STREAM)
    events = sse_events(response.content)
    assert events[-1] == b"[DONE]"
    assert secondary.calls == 1


def stream_gateway(tmp_path: Path, fakes: Any) -> Any:
    _, _, a, b = fakes
    return run_gateway(two_deployments(tmp_path, a, b))


def test_mid_stream_failure_ends_with_an_error_event(tmp_path: Path, fakes: Any) -> None:
    primary, secondary, _, _ = fakes
    primary.queue(Reply(break_after=2))
    with stream_gateway(tmp_path, fakes) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=STREAM)
        assert response.status_code == 200
        events = sse_events(response.content)
        assert b"[DONE]" not in events
        error = orjson.loads(events[-1])["error"]
        assert error["code"] == "upstream_disconnected"
        assert len(events) == 3  # two chunks relayed as they came, then the error
        assert secondary.calls == 0  # the answer had started: no silent switch


def test_mid_stream_failure_raises_in_the_sdk(tmp_path: Path, fakes: Any) -> None:
    primary, _, _, _ = fakes
    primary.queue(Reply(break_after=3))
    with stream_gateway(tmp_path, fakes) as gw:
        client = gw.client(gw.create_key())
        received: list[str] = []
        with pytest.raises(openai.APIError):
            for chunk in client.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "a b c d"}], stream=True
            ):
                received.append(chunk.choices[0].delta.content or "")
        assert "".join(received) == "echo: a"  # three chunks, then the break


def test_upstream_error_event_is_relayed(tmp_path: Path, fakes: Any) -> None:
    primary, _, _, _ = fakes
    primary.queue(Reply(error_event_after=1))
    with stream_gateway(tmp_path, fakes) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=STREAM)
    events = sse_events(response.content)
    assert orjson.loads(events[-1])["error"]["message"] == "fake mid-stream failure"
    assert b"[DONE]" not in events


def test_truncated_stream_is_not_silent(tmp_path: Path, fakes: Any) -> None:
    primary, _, _, _ = fakes
    primary.queue(Reply(omit_done=True))
    with stream_gateway(tmp_path, fakes) as gw:
        response = gw.post("/v1/chat/completions", gw.create_key(), json=STREAM)
    events = sse_events(response.content)
    assert orjson.loads(events[-1])["error"]["code"] == "stream_truncated"


def test_stream_is_relayed_without_buffering(tmp_path: Path, fakes: Any) -> None:
    """The first chunk reaches the client while the upstream is still generating."""

    class SlowStream(FakeOpenAI):
        async def _stream(self, send: Any, body: Any, reply: Reply) -> None:
            import asyncio

            await send({"type": "http.response.start", "status": 200, "headers": []})
            first = self.chunks(body)[0]
            await send(
                {
                    "type": "http.response.body",
                    "body": b"data: " + orjson.dumps(first) + b"\n\n",
                    "more_body": True,
                }
            )
            await asyncio.sleep(1.0)
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})

    slow = SlowStream(name="slow")
    with (
        serve(slow) as url,
        run_gateway(
            gateway_config(sqlite_store(tmp_path), {"chat": [openai_deployment(f"{url}/v1")]})
        ) as gw,
    ):
        key = gw.create_key()
        started = time.monotonic()
        with gw.http.stream(
            "POST",
            f"{gw.url}/v1/chat/completions",
            json=STREAM,
            headers={"authorization": f"Bearer {key}"},
        ) as response:
            raw = response.iter_raw()
            first = next(raw)
            first_at = time.monotonic() - started
            rest = b"".join(raw)
    assert first.startswith(b"data: {")
    assert first_at < 0.8
    assert rest.endswith(b"data: [DONE]\n\n")
