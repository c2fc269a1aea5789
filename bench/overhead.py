"""Gateway overhead: the latency and throughput the gateway adds in front of a fast upstream.

    python -m bench.overhead [--seconds 10] [--connections 10] [--hooks none,registered]

In one run it starts, each in its own process on loopback:

* a fast fake OpenAI upstream (a fixed chat completion, uvicorn with uvloop and httptools);
* the gateway with one worker, built by ``create_app`` and served like ``python -m gateway``
  (uvloop, httptools, no access log), once per ``--hooks`` variant: ``none`` is the core
  request path alone (auth, parsing, routing, the adapter, the pooled upstream client);
  ``registered`` adds every governance hook listed in ``gateway.hooks.HOOK_FACTORIES``
  with its default config (the gateway as shipped).

It then drives ``POST /v1/chat/completions`` with ``wrk`` (closed loop, ``--connections``
concurrent clients) directly against the upstream and through each gateway, and reports
requests per second, p50 and p99 latency, and the p50 latency the gateway adds. Without
``wrk`` on the PATH an asyncio load generator with httpx is used instead (less precise: it
shares the CPU with what it measures). Finally it reports the gateway's own view: the median
``x-gatehouse-overhead-ms`` header over sequential requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

ADMIN_KEY = "bench-admin-key-0123456789abcdef0123"
CONFIG_ENV = "BENCH_GATEWAY_CONFIG"
HOOKS_ENV = "BENCH_GATEWAY_HOOKS"
REQUEST = {"model": "chat", "messages": [{"role": "user", "content": "Say hello to the bench."}]}
_COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello, bench."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9},
    }
)
_UPSTREAM_HEADERS = [(b"content-type", b"application/json")]


# ------------------------------------------------------------------------ served apps


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The fake upstream: drain the request, answer one fixed chat completion."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _UPSTREAM_HEADERS})
    await send({"type": "http.response.body", "body": _COMPLETION})


def gateway_app() -> Any:
    """uvicorn factory: the gateway from ``$BENCH_GATEWAY_CONFIG``.

    ``$BENCH_GATEWAY_HOOKS=none`` runs the core alone; anything else, the registered hooks.
    """
    from gateway.app import create_app
    from gateway.config import load_config

    hooks: list[Any] | None = [] if os.environ.get(HOOKS_ENV) == "none" else None
    return create_app(load_config(os.environ[CONFIG_ENV]), hooks=hooks)


# ---------------------------------------------------------------------- processes


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_process(target: str, port: int, env: dict[str, str], *factory: str) -> Iterator[str]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        *factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{target} exited with status {process.returncode}")
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{target} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


# ------------------------------------------------------------------------ load


@dataclass(frozen=True)
class Load:
    """``connections`` clients in a closed loop, each waiting ``pace_ms`` between requests."""

    connections: int
    pace_ms: int = 0

    def describe(self) -> str:
        if not self.pace_ms:
            return f"{self.connections} clients, back to back"
        return f"{self.connections} clients, {self.pace_ms} ms between requests"


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk(load: Load, url: str, key: str | None, seconds: float, workdir: Path) -> Result:
    script = workdir / "post.lua"
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = [[{orjson.dumps(REQUEST).decode()}]]",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    if key:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {key}"')
    if load.pace_ms:
        lines.append(f"function delay() return {load.pace_ms} end")
    script.write_text("\n".join(lines) + "\n")
    connections = load.connections
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    out = subprocess.run(
        [*command, f"{url}/v1/chat/completions"], capture_output=True, text=True, check=True
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failures = (int(bad[1]) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return Result(rps, _ms(percentiles["50"]), _ms(percentiles["99"]), failures)


async def _asyncio_load(load: Load, url: str, key: str | None, seconds: float) -> Result:
    connections = load.connections
    headers = {"authorization": f"Bearer {key}"} if key else {}
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = await client.post(
                    f"{url}/v1/chat/completions", json=REQUEST, headers=headers
                )
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200
                if load.pace_ms:
                    await asyncio.sleep(load.pace_ms / 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    return Result(len(latencies) / elapsed, cuts[49], cuts[98], errors)


def run_load(load: Load, url: str, key: str | None, seconds: float, workdir: Path) -> Result:
    if shutil.which("wrk"):
        return wrk(load, url, key, seconds, workdir)
    return asyncio.run(_asyncio_load(load, url, key, seconds))


def self_reported(url: str, key: str, requests: int = 300) -> float:
    """Median ``x-gatehouse-overhead-ms`` over sequential requests."""
    with httpx.Client(timeout=10, headers={"authorization": f"Bearer {key}"}) as client:
        values = [
            float(
                client.post(f"{url}/v1/chat/completions", json=REQUEST).headers[
                    "x-gatehouse-overhead-ms"
                ]
            )
            for _ in range(requests)
        ]
    return statistics.median(values)


# ------------------------------------------------------------------------ main


def gateway_config(upstream: str, workdir: Path, variant: str) -> Path:
    config = {
        "store": f"sqlite:///{workdir / f'{variant}.db'}",
        "jurisdictions": ["eu"],
        "models": [
            {
                "name": "chat",
                "deployments": [
                    {
                        "provider": "openai",
                        "base_url": f"{upstream}/v1",
                        "model": "bench-model",
                        "region": "loopback",
                        "jurisdiction": "eu",
                    }
                ],
            }
        ],
    }
    path = workdir / f"{variant}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def measure(
    loads: list[Load], url: str, key: str | None, args: argparse.Namespace, workdir: Path
) -> list[Result]:
    run_load(loads[0], url, key, args.warmup, workdir)
    return [run_load(load, url, key, args.seconds, workdir) for load in loads]


def create_key(gateway: str) -> str:
    created = httpx.post(
        f"{gateway}/admin/keys",
        json={"team": "bench"},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )
    created.raise_for_status()
    key: str = created.json()["key"]
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overhead", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="before each path")
    parser.add_argument("--connections", type=int, default=10, help="concurrent clients")
    parser.add_argument(
        "--pace-ms",
        type=int,
        default=20,
        help="also measure with each client pausing this long between requests (0: skip)",
    )
    parser.add_argument("--hooks", default="none,registered", help="gateway variants to measure")
    args = parser.parse_args(argv)
    loads = [Load(args.connections)] + (
        [Load(args.connections, args.pace_ms)] if args.pace_ms else []
    )
    variants = [v for v in args.hooks.split(",") if v]
    generator = "wrk" if shutil.which("wrk") else "asyncio+httpx"
    rows: dict[str, tuple[list[Result], float | None]] = {}
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp:
        workdir = Path(tmp)
        env = {**os.environ, "GATEHOUSE_ADMIN_KEY": ADMIN_KEY}
        with uvicorn_process("bench.overhead:upstream_app", free_port(), env) as upstream:
            rows["direct to upstream"] = (measure(loads, upstream, None, args, workdir), None)
            for variant in variants:
                config = gateway_config(upstream, workdir, variant)
                variant_env = {**env, CONFIG_ENV: str(config), HOOKS_ENV: variant}
                with uvicorn_process(
                    "bench.overhead:gateway_app", free_port(), variant_env, "--factory"
                ) as gateway:
                    key = create_key(gateway)
                    results = measure(loads, gateway, key, args, workdir)
                    rows[f"gateway, hooks: {variant}"] = (results, self_reported(gateway, key))
    load_avg = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"load generator: {generator}; {args.seconds:g} s per row; {os.cpu_count()} cores; "
        f"load average after the run: {load_avg}"
    )
    print("| path | load | requests/s | p50 ms | p99 ms | added p50 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    direct = rows["direct to upstream"][0]
    for name, (results, _) in rows.items():
        for i, (load, result) in enumerate(zip(loads, results, strict=True)):
            added = "" if results is direct else f"{result.p50_ms - direct[i].p50_ms:.2f}"
            print(
                f"| {name} | {load.describe()} | {result.rps:,.0f} | {result.p50_ms:.2f} | "
                f"{result.p99_ms:.2f} | {added} | {result.errors} |"
            )
    for name, (_, reported) in rows.items():
        if reported is not None:
            print(
                f"{name}: median x-gatehouse-overhead-ms over sequential requests: {reported:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
