"""The upstream client: redirects are never followed, no client defaults are sent, and no
cookie an upstream sets is kept (one caller's cookie must never reach another's request)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.config import Timeouts, UpstreamPool
from gateway.providers.base import UpstreamRequest
from gateway.upstream import ClientPool, exchange
from tests.gateway.fakes.server import serve


class Recorder:
    """Answers ``/redirect`` with a 307 to ``/target``; anything else with 200 ``ok``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.calls.append((scope["path"], headers))
        if scope["path"] == "/redirect":
            start = {"status": 307, "headers": [(b"location", b"/target")]}
        else:
            start = {
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"set-cookie", b"affinity=caller-a; Path=/"),
                ],
            }
        await send({"type": "http.response.start", **start})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    app = Recorder()
    with serve(app) as url:
        yield app, url


async def test_redirects_are_not_followed(recorder: tuple[Recorder, str]) -> None:
    app, url = recorder
    pool = ClientPool(Timeouts(), UpstreamPool())
    try:
        request = UpstreamRequest("POST", f"{url}/redirect", {}, b"{}")
        response = await exchange(pool, request, stream=False)
    finally:
        await pool.aclose()
    assert response.status == 307
    assert response.headers["location"] == "/target"
    assert [path for path, _ in app.calls] == ["/redirect"]


async def test_only_the_adapters_headers_are_sent(recorder: tuple[Recorder, str]) -> None:
    app, url = recorder
    pool = ClientPool(Timeouts(), UpstreamPool())
    try:
        request = UpstreamRequest("POST", f"{url}/v1/chat", {"authorization": "Bearer k"}, b"{}")
        response = await exchange(pool, request, stream=False)
    finally:
        await pool.aclose()
    assert (response.status, response.content) == (200, b"ok")
    sent = app.calls[0][1]
    assert sent["authorization"] == "Bearer k"
    assert "user-agent" not in sent
    assert "accept-encoding" not in sent


async def test_cookies_set_by_the_upstream_are_not_sent_back(
    recorder: tuple[Recorder, str],
) -> None:
    app, url = recorder
    url = url.replace("127.0.0.1", "localhost")  # a cookie jar keeps no cookie of an IP host
    pool = ClientPool(Timeouts(), UpstreamPool())
    try:
        for _ in range(2):
            request = UpstreamRequest("POST", f"{url}/v1/chat", {}, b"{}")
            response = await exchange(pool, request, stream=False)
            assert response.status == 200
    finally:
        await pool.aclose()
    assert response.headers["set-cookie"].startswith("affinity=")
    assert [headers.get("cookie") for _, headers in app.calls] == [None, None]
