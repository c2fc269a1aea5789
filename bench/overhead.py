"""Gateway overhead: the latency and throughput the gateway adds in front of a fast upstream.

    python -m bench.overhead [--seconds 10] [--connections 10] [--hooks none,registered]

In one run it starts, each in its own process on loopback:

* the fake OpenAI upstream of :mod:`bench._fake_upstream`;
* the gateway with one worker, built by ``create_app`` and served like ``python -m gateway``
  (uvloop, httptools, no access log), once per ``--hooks`` variant: ``none`` is the core
  request path alone (auth, parsing, routing, the adapter, the pooled upstream client);
  ``registered`` adds every governance hook listed in ``gateway.hooks.HOOK_FACTORIES``
  with its default config (the gateway as shipped).

It then drives ``POST /v1/chat/completions`` with wrk (:mod:`bench._load`; closed loop,
``--connections`` concurrent clients, back to back and paced) directly against the upstream
and through each gateway, and reports requests per second, p50 and p99 latency, the p50
latency the gateway adds, and the gateway's CPU time per request (from ``/proc``). Finally
it reports the gateway's own view: the median ``x-gatehouse-overhead-ms`` header over
sequential requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from bench._fake_upstream import CHAT_BODY
from bench._load import Request, WrkResult, wrk
from bench._procs import Service, Services, free_port, http_ok, uvicorn_command

ADMIN_KEY = "bench-admin-key-0123456789abcdef0123"
CONFIG_ENV = "BENCH_GATEWAY_CONFIG"
HOOKS_ENV = "BENCH_GATEWAY_HOOKS"
PROC = Path("/proc")


def gateway_app() -> Any:
    """uvicorn factory: the gateway from ``$BENCH_GATEWAY_CONFIG``.

    ``$BENCH_GATEWAY_HOOKS=none`` runs the core alone; anything else, the registered hooks.
    """
    from gateway.app import create_app
    from gateway.config import load_config

    hooks: list[Any] | None = [] if os.environ.get(HOOKS_ENV) == "none" else None
    return create_app(load_config(os.environ[CONFIG_ENV]), hooks=hooks)


@dataclass(frozen=True)
class Load:
    """``connections`` clients in a closed loop, each waiting ``pace_ms`` between requests."""

    connections: int
    pace_ms: int = 0

    def describe(self) -> str:
        if not self.pace_ms:
            return f"{self.connections} clients, back to back"
        return f"{self.connections} clients, {self.pace_ms} ms between requests"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_reported(request: Request, requests: int = 300) -> float:
    """Median ``x-gatehouse-overhead-ms`` over sequential requests."""
    headers = {"content-type": "application/json", **request.headers}
    with httpx.Client(timeout=10, headers=headers) as client:
        values = [
            float(client.post(request.url, content=request.body).headers["x-gatehouse-overhead-ms"])
            for _ in range(requests)
        ]
    return statistics.median(values)


def gateway_config(upstream: str, workdir: Path, variant: str) -> Path:
    config = {
        "store": f"sqlite:///{workdir / f'{variant}.db'}",
        "jurisdictions": ["eu"],
        "audit": {"dir": str(workdir / f"{variant}-audit")},
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


Row = tuple[list[WrkResult], float | None, float | None]


def measure(
    loads: list[Load], request: Request, service: Service, args: argparse.Namespace
) -> tuple[list[WrkResult], float]:
    """One result per load, and CPU milliseconds per request of ``service`` over them all."""
    wrk(request, loads[0].connections, args.warmup)
    before = cpu_seconds(service.pid)
    results = [wrk(request, load.connections, args.seconds, pace_ms=load.pace_ms) for load in loads]
    spent = cpu_seconds(service.pid) - before
    return results, spent * 1000 / max(1, sum(r.requests for r in results))


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
    body = orjson.dumps(CHAT_BODY)
    rows: dict[str, Row] = {}
    with (
        tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp,
        Services(Path(tmp)) as services,
    ):
        workdir = Path(tmp)
        env = {**os.environ, "GATEHOUSE_ADMIN_KEY": ADMIN_KEY}
        port = free_port()
        command = uvicorn_command("bench._fake_upstream:create_app", port, "--factory")
        with services.running(
            "upstream", command, port, env=env, probe=http_ok("/healthz")
        ) as upstream:
            direct = Request(f"{upstream.url}/v1/chat/completions", {}, body)
            results, _ = measure(loads, direct, upstream, args)
            rows["direct to upstream"] = (results, None, None)
            for variant in [v for v in args.hooks.split(",") if v]:
                config = gateway_config(upstream.url, workdir, variant)
                variant_env = {**env, CONFIG_ENV: str(config), HOOKS_ENV: variant}
                port = free_port()
                command = uvicorn_command("bench.overhead:gateway_app", port, "--factory")
                with services.running(
                    f"gateway-{variant}", command, port, env=variant_env, probe=http_ok("/healthz")
                ) as gateway:
                    key = create_key(gateway.url)
                    request = Request(
                        f"{gateway.url}/v1/chat/completions",
                        {"Authorization": f"Bearer {key}"},
                        body,
                    )
                    results, cpu_ms = measure(loads, request, gateway, args)
                    rows[f"gateway, hooks: {variant}"] = (results, cpu_ms, self_reported(request))
    load_avg = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"wrk; {args.seconds:g} s per row; {os.cpu_count()} cores; "
        f"load average after the run: {load_avg}"
    )
    print("| path | load | requests/s | p50 ms | p99 ms | added p50 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    direct_results = rows["direct to upstream"][0]
    for name, (results, _, _) in rows.items():
        for i, (load, result) in enumerate(zip(loads, results, strict=True)):
            added = (
                ""
                if results is direct_results
                else f"{result.p50_ms - direct_results[i].p50_ms:.2f}"
            )
            print(
                f"| {name} | {load.describe()} | {result.rps:,.0f} | {result.p50_ms:.2f} | "
                f"{result.p99_ms:.2f} | {added} | {result.errors} |"
            )
    for name, (_, cpu, reported) in rows.items():
        if reported is not None and cpu is not None:
            print(
                f"{name}: {cpu:.3f} ms CPU per request; median x-gatehouse-overhead-ms over "
                f"sequential requests: {reported:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
