"""The governance hook points: order, what they see, and what their failures do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.app import create_app
from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.hooks import Hook, HookChain, HookServices, build_hooks
from gateway.providers.base import JSON
from tests.gateway.conftest import (
    Gateway,
    gateway_config,
    openai_deployment,
    run_gateway,
    sqlite_store,
)
from tests.gateway.fakes.openai import FakeOpenAI, Reply
from tests.gateway.fakes.server import serve

BODY = {"model": "chat", "messages": [{"role": "user", "content": "my name is Ada"}]}


class Recorder(Hook):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.seen: list[RequestContext] = []
        self.errors: list[GatewayError] = []

    async def on_admitted(self, ctx: RequestContext) -> None:
        self.log.append(f"{self.name}.admitted")

    async def transform_request(self, ctx: RequestContext) -> None:
        self.log.append(f"{self.name}.request")

    async def transform_response(self, ctx: RequestContext, body: JSON) -> JSON:
        self.log.append(f"{self.name}.response")
        return body

    async def on_complete(self, ctx: RequestContext) -> None:
        self.log.append(f"{self.name}.complete")
        self.seen.append(ctx)

    async def on_failed(self, ctx: RequestContext, error: GatewayError) -> None:
        self.log.append(f"{self.name}.failed")
        self.errors.append(error)

    async def on_refused(self, ctx: RequestContext, error: GatewayError) -> None:
        self.log.append(f"{self.name}.refused:{error.code}")
        self.seen.append(ctx)


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    upstream = FakeOpenAI()
    with serve(upstream) as url:
        yield upstream, f"{url}/v1"


def hooked(tmp_path: Path, base_url: str, hooks: list[Hook]) -> Any:
    config = gateway_config(
        sqlite_store(tmp_path),
        {"chat": [openai_deployment(base_url, region="fra1")]},
        retry={"attempts": 1},
    )
    return run_gateway(config, hooks=hooks)


def chat(gw: Gateway, body: dict[str, Any] = BODY, key: str | None = None) -> Any:
    return gw.post("/v1/chat/completions", key or gw.create_key(cost_center="CC-7"), json=body)


def test_onion_order_and_what_on_complete_sees(tmp_path: Path, fake: Any) -> None:
    log: list[str] = []
    outer, inner = Recorder("outer", log), Recorder("inner", log)
    with hooked(tmp_path, fake[1], [outer, inner]) as gw:
        assert chat(gw).status_code == 200
    assert log == [
        "outer.admitted",
        "inner.admitted",
        "outer.request",
        "inner.request",
        "inner.response",
        "outer.response",
        "inner.complete",
        "outer.complete",
    ]
    (ctx,) = outer.seen
    assert ctx.identity is not None and ctx.identity.cost_center == "CC-7"
    assert (ctx.op, ctx.model, ctx.status) == ("chat", "chat", 200)
    assert ctx.deployment_id == "chat#0" and ctx.region == "fra1" and ctx.jurisdiction == "eu"
    assert ctx.residency is not None and ctx.residency.source == "default"
    assert ctx.usage == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}
    assert [a.deployment_id for a in ctx.attempts] == ["chat#0"]


def test_a_refusal_in_on_admitted_stops_before_the_upstream(tmp_path: Path, fake: Any) -> None:
    log: list[str] = []

    class Budget(Recorder):
        async def on_admitted(self, ctx: RequestContext) -> None:
            raise GatewayError(429, "budget exhausted", type="budget_error", code="budget_exceeded")

    first, budget, last = Recorder("first", log), Budget("budget", log), Recorder("last", log)
    with hooked(tmp_path, fake[1], [first, budget, last]) as gw:
        response = chat(gw)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert fake[0].calls == 0
    assert log == ["first.admitted", "first.failed"]  # only what was admitted is released


async def test_a_refusal_in_on_admitted_reaches_the_hooks_before_it_innermost_first() -> None:
    """A hook with no ``on_admitted`` of its own was admitted by the no-op: it hears the
    refusal too; a hook after the refusing one never does, nor one without ``on_failed``."""
    log: list[str] = []

    class Watcher(Hook):
        def __init__(self, name: str) -> None:
            self.name = name

        async def on_failed(self, ctx: RequestContext, error: GatewayError) -> None:
            log.append(f"{self.name}.failed:{error.code}")

    class Refuser(Recorder):
        async def on_admitted(self, ctx: RequestContext) -> None:
            log.append(f"{self.name}.admitted")
            raise GatewayError(429, "too many", type="rate_limit_error", code="rate_limited")

    chain = HookChain(
        [
            Watcher("outer"),
            Hook(),
            Recorder("admits", log),
            Watcher("inner"),
            Refuser("refuser", log),
            Watcher("after"),
            Recorder("later", log),
        ]
    )
    with pytest.raises(GatewayError, match="too many"):
        await chain.admitted(RequestContext("POST", "/v1/chat/completions"))
    assert log == [
        "admits.admitted",
        "refuser.admitted",
        "inner.failed:rate_limited",
        "admits.failed",
        "outer.failed:rate_limited",
    ]


def test_transforms_rewrite_the_request_and_the_response(tmp_path: Path, fake: Any) -> None:
    class Redact(Hook):
        async def transform_request(self, ctx: RequestContext) -> None:
            assert ctx.body is not None
            ctx.body["messages"][0]["content"] = "my name is <PERSON_1>"

        async def transform_response(self, ctx: RequestContext, body: JSON) -> JSON:
            message = body["choices"][0]["message"]
            message["content"] = message["content"].replace("<PERSON_1>", "Ada")
            return body

    with hooked(tmp_path, fake[1], [Redact()]) as gw:
        response = chat(gw)
    assert fake[0].requests[0].body["messages"][0]["content"] == "my name is <PERSON_1>"
    assert response.json()["choices"][0]["message"]["content"] == "echo: my name is Ada"


def test_chunk_hooks_may_hold_back_and_flush(tmp_path: Path, fake: Any) -> None:
    class HoldAll(Hook):
        """Holds every chunk and releases them at the end (a placeholder split across chunks)."""

        def __init__(self) -> None:
            self.held: list[JSON] = []

        async def transform_chunk(self, ctx: RequestContext, chunk: JSON) -> list[JSON]:
            self.held.append(chunk)
            return []

        async def finish_stream(self, ctx: RequestContext) -> list[JSON]:
            held, self.held = self.held, []
            return held

    class Shout(Hook):
        async def transform_chunk(self, ctx: RequestContext, chunk: JSON) -> list[JSON]:
            for choice in chunk["choices"]:
                if choice["delta"].get("content"):
                    choice["delta"]["content"] = choice["delta"]["content"].upper()
            return [chunk]

    # Response-phase order is reversed: HoldAll (listed last) runs first, and what it
    # flushes still passes through Shout.
    with hooked(tmp_path, fake[1], [Shout(), HoldAll()]) as gw:
        response = chat(gw, {**BODY, "stream": True})
    events = [e.removeprefix(b"data: ") for e in response.content.split(b"\n\n") if e]
    assert events[-1] == b"[DONE]"
    text = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in map(orjson.loads, events[:-1])
    )
    assert text == "ECHO: MY NAME IS ADA"


def test_on_complete_failing_replaces_the_answer(tmp_path: Path, fake: Any) -> None:
    log: list[str] = []

    class Audit(Recorder):
        async def on_complete(self, ctx: RequestContext) -> None:
            raise GatewayError(
                503, "audit trail unavailable", type="server_error", code="audit_unavailable"
            )

    audit = Audit("audit", log)
    with hooked(tmp_path, fake[1], [audit]) as gw:
        plain = chat(gw)
        assert plain.status_code == 503
        assert plain.json()["error"]["code"] == "audit_unavailable"
        assert "echo" not in plain.text
        streamed = chat(gw, {**BODY, "stream": True})
    events = [e.removeprefix(b"data: ") for e in streamed.content.split(b"\n\n") if e]
    assert b"[DONE]" not in events
    assert orjson.loads(events[-1])["error"]["code"] == "audit_unavailable"
    assert [e.code for e in audit.errors] == ["audit_unavailable", "audit_unavailable"]


def test_on_failed_sees_upstream_failures(tmp_path: Path, fake: Any) -> None:
    log: list[str] = []
    recorder = Recorder("ledger", log)
    fake[0].queue(Reply(status=503))
    with hooked(tmp_path, fake[1], [recorder]) as gw:
        assert chat(gw).status_code == 502
    (error,) = recorder.errors
    assert error.status == 502
    assert "ledger.complete" not in log


def test_on_refused_sees_refusals_with_what_was_known(tmp_path: Path, fake: Any) -> None:
    log: list[str] = []
    recorder = Recorder("audit", log)
    with hooked(tmp_path, fake[1], [recorder]) as gw:
        assert gw.post("/v1/chat/completions", None, json=BODY).status_code == 401
        us = gw.create_key(jurisdictions=["us"])
        assert chat(gw, key=us).status_code == 403
        assert chat(gw, {**BODY, "model": "nope"}).status_code == 404
    assert log == [
        "audit.refused:invalid_api_key",
        "audit.refused:residency_violation",
        "audit.refused:model_not_found",
    ]
    residency = recorder.seen[1].residency
    assert residency is not None and residency.eligible == () and residency.source == "key"
    assert recorder.seen[1].status == 403


def test_hooks_may_serve_their_own_endpoints(tmp_path: Path, fake: Any) -> None:
    from gateway.asgi import AnyResponse, Request, json_response

    class Status(Hook):
        name = "status"

        async def serve(self, request: Request, ctx: RequestContext) -> AnyResponse:
            if request.headers.get("authorization") != "Bearer ok":
                raise GatewayError(401, "no", code="invalid_api_key")
            return json_response(200, {"served_by": self.name})

        def routes(self) -> Any:
            return {"/status": {"GET": self.serve}}

    with hooked(tmp_path, fake[1], [Status()]) as gw:
        assert gw.get("/status", "ok").json() == {"served_by": "status"}
        refused = gw.get("/status")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"

    class Squatter(Status):
        def routes(self) -> Any:
            return {"/v1/models": {"GET": self.serve}}

    config = gateway_config(sqlite_store(tmp_path), {"chat": [openai_deployment(fake[1])]})
    with pytest.raises(ValueError, match="/v1/models, which is already taken"):
        create_app(config, environ={}, hooks=[Squatter()])


def test_chain_skips_methods_nobody_overrides() -> None:
    assert not HookChain([Hook()]).transforms_chunks
    assert HookChain([Hook(), Recorder("r", [])])._admitted


def test_build_hooks_drops_factories_returning_none(tmp_path: Path) -> None:
    from gateway.store import Store

    config = gateway_config(
        sqlite_store(tmp_path), {"chat": [openai_deployment("http://127.0.0.1:1/v1")]}
    )
    services = HookServices(config, {}, Store(config.store))
    hooks = build_hooks(
        services,
        ["tests.gateway.test_hooks:_absent_section", "tests.gateway.test_hooks:_present_section"],
    )
    assert [h.name for h in hooks] == ["present"]


def _absent_section(services: HookServices) -> Hook | None:
    return None


def _present_section(services: HookServices) -> Hook | None:
    hook = Hook()
    hook.name = "present"
    return hook


def test_the_app_builds_the_hooks_of_the_factories_it_is_given(tmp_path: Path) -> None:
    config = gateway_config(
        sqlite_store(tmp_path), {"chat": [openai_deployment("http://127.0.0.1:1/v1")]}
    )
    env = {"GATEHOUSE_ADMIN_KEY": "a" * 32}
    chosen = create_app(
        config,
        environ=env,
        hook_factories=["tests.gateway.test_hooks:_present_section"],
    )
    assert [h.name for h in chosen.hooks.hooks] == ["present"]
    assert create_app(config, environ=env, hook_factories=()).hooks.hooks == ()
    registered = [h.name for h in create_app(config, environ=env).hooks.hooks]
    assert {"audit", "telemetry"} <= set(registered)
