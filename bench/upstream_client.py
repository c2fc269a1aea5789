"""The upstream client's own cost: the gateway's HTTP/1.1 client beside aiohttp's.

    python -m bench.upstream_client [--requests 3000] [--rounds 3]

Starts the fake OpenAI upstream of :mod:`bench._fake_upstream` in its own process, then, in
this process on uvloop, sends the benchmarks' ~2 KB chat body over one kept-alive
connection, one request at a time, with each client:

* ``gateway.upstream``: :func:`gateway.upstream.exchange`, the proxied exchange's path;
* ``aiohttp``: one ``aiohttp.ClientSession`` set up as the gateway set it up before (no
  cookies, no default headers, no environment, explicit timeouts, a total deadline).

It reports this thread's CPU time (``time.thread_time``) and the wall-clock time per request,
best of ``--rounds`` rounds, alternating the clients round by round so that both see the
same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import orjson
import uvloop

from bench._fake_upstream import CHAT_BODY
from bench._procs import Services, fake_upstream
from gateway.config import Timeouts, UpstreamPool
from gateway.providers.base import UpstreamRequest
from gateway.upstream import ClientPool, exchange

Send = Callable[[], Awaitable[bytes]]
HEADERS = {"content-type": "application/json", "authorization": "Bearer bench"}


async def gateway_client(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    pool = ClientPool(Timeouts(), UpstreamPool())
    request = UpstreamRequest("POST", url, HEADERS, orjson.dumps(CHAT_BODY))

    async def send() -> bytes:
        return (await exchange(pool, request, stream=False)).content

    return send, pool.aclose


async def aiohttp_client(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    timeouts = Timeouts()
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.pool + timeouts.connect,
            sock_connect=timeouts.connect,
            sock_read=timeouts.read,
        ),
        skip_auto_headers=frozenset({"User-Agent", "Accept", "Accept-Encoding"}),
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    body = orjson.dumps(CHAT_BODY)

    async def send() -> bytes:
        async with asyncio.timeout(timeouts.total):
            response = await session.request(
                "POST", url, headers=HEADERS, data=body, allow_redirects=False
            )
            content = await response.read()
            response.release()
            return content

    return send, session.close


CLIENTS = {"gateway.upstream": gateway_client, "aiohttp": aiohttp_client}


async def measure(url: str, requests: int, rounds: int) -> dict[str, tuple[float, float]]:
    clients = {name: await make(url) for name, make in CLIENTS.items()}
    best: dict[str, tuple[float, float]] = {}
    try:
        for send, _ in clients.values():
            for _ in range(300):  # connect and warm up
                await send()
        for _ in range(rounds):
            for name, (send, _) in clients.items():
                cpu, wall = time.thread_time(), time.perf_counter()
                for _ in range(requests):
                    await send()
                per = (
                    (time.thread_time() - cpu) * 1e6 / requests,
                    (time.perf_counter() - wall) * 1e6 / requests,
                )
                best[name] = min(best.get(name, per), per)
    finally:
        for _, close in clients.values():
            await close()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.upstream_client", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=3000, help="per round and client")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp,
        Services(Path(tmp)) as services,
        fake_upstream(services, os.environ) as upstream,
    ):
        url = f"{upstream.url}/v1/chat/completions"
        best = uvloop.run(measure(url, args.requests, args.rounds))
    print(f"{args.requests} sequential requests per round, best of {args.rounds}")
    print("| client | CPU µs per request | wall µs per request |")
    print("|---|---:|---:|")
    for name, (cpu, wall) in best.items():
        print(f"| {name} | {cpu:.0f} | {wall:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
