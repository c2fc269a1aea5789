"""Gateway overhead: the latency and throughput the gateway adds in front of a fast upstream.

    python -m bench.overhead [--seconds 10] [--connections 10] [--think-ms 5,20,50]
                             [--hooks none,redaction+audit,all]

In one run it starts, each in its own process on loopback:

* the fake OpenAI upstream of :mod:`bench._fake_upstream`;
* the gateway with one worker, built by ``create_app`` and served like ``python -m gateway``
  (``gateway.server.for_serving``, uvloop, httptools, no access log), once per ``--hooks``
  variant, all with the production-like config of :func:`bench.gateways.gatehouse_config`:

  * ``none``: the core request path alone (API-key auth, parsing, routing, the adapter, the
    pooled upstream client), no governance hook;
  * ``redaction+audit``: the core with the redaction hook (mode ``redact``) and the audit
    hook (each event durable in the write-ahead file before the answer leaves);
  * ``all``: every hook of ``gateway.hooks.HOOK_FACTORIES``: audit, redaction, rate limits
    (key and team), the ledger with a team budget (reserve, settle, usage outbox to SQLite),
    telemetry and webhooks.

It then drives ``POST /v1/chat/completions`` with wrk (:mod:`bench._load`), directly against
the upstream and through each gateway: ``--connections`` clients back to back (the worker
saturated: latency is then queueing, clients / throughput), and the same clients each
pausing a random think time between requests, exponentially distributed with each mean of
``--think-ms`` (independent clients, arrivals close to a Poisson stream). For every row it
reports requests per second, p50 and p99 latency, the p50 latency the gateway adds (its p50
minus the direct p50 under the same load) and the gateway's CPU time per request (from
``/proc``). Finally, the median ``x-gatehouse-overhead-ms`` header over sequential requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from bench._fake_upstream import CHAT_BODY
from bench._load import Request, WrkResult, wrk
from bench._procs import Service, Services, fake_upstream, free_port, http_ok, uvicorn_command
from bench.gateways import gatehouse_config

ADMIN_KEY = "bench-admin-key-0123456789abcdef0123"
CONFIG_ENV = "BENCH_GATEWAY_CONFIG"
HOOKS_ENV = "BENCH_GATEWAY_HOOKS"
PROC = Path("/proc")
VARIANTS: dict[str, tuple[str, ...] | None] = {
    "none": (),
    "redaction+audit": (
        "gateway.audit.hook:build_audit_hook",
        "gateway.redaction.hook:build_redaction_hook",
    ),
    "all": None,  # gateway.hooks.HOOK_FACTORIES
}
TARGETS_MS = {"none": 1.0, "redaction+audit": 1.5, "all": 1.5}
"""the issues' targets for the p50 added latency at 10 concurrent clients"""


def gateway_app() -> Any:
    """uvicorn factory: the gateway from ``$BENCH_GATEWAY_CONFIG`` with the hooks of the
    variant named by ``$BENCH_GATEWAY_HOOKS`` (see :data:`VARIANTS`)."""
    from gateway.app import create_app
    from gateway.config import load_config
    from gateway.hooks import HOOK_FACTORIES
    from gateway.server import for_serving

    factories = VARIANTS[os.environ[HOOKS_ENV]]
    app = create_app(
        load_config(os.environ[CONFIG_ENV]),
        hook_factories=HOOK_FACTORIES if factories is None else factories,
    )
    return for_serving(app)


@dataclass(frozen=True)
class Load:
    """``connections`` clients in a closed loop, each thinking ``think_ms`` on average
    (exponentially distributed) between its requests; 0: back to back."""

    connections: int
    think_ms: float = 0

    def describe(self) -> str:
        if not self.think_ms:
            return f"{self.connections} clients, back to back"
        return f"{self.connections} clients, think time {self.think_ms:g} ms (mean)"


@dataclass(frozen=True)
class Row:
    load: Load
    result: WrkResult
    cpu_ms: float
    """CPU time of the measured process per request"""


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
    home = workdir / variant
    home.mkdir(parents=True, exist_ok=True)
    config = gatehouse_config(upstream, home)
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


def measure(
    loads: Sequence[Load], request: Request, service: Service, args: argparse.Namespace
) -> list[Row]:
    """One row per load, each with the CPU time ``service`` spent per request."""
    wrk(request, loads[0].connections, args.warmup)
    rows = []
    for load in loads:
        before = cpu_seconds(service.pid)
        result = wrk(request, load.connections, args.seconds, think_ms=load.think_ms)
        spent = cpu_seconds(service.pid) - before
        rows.append(Row(load, result, spent * 1000 / max(1, result.requests)))
    return rows


def report(
    rows: dict[str, list[Row]], reported: dict[str, float], args: argparse.Namespace
) -> None:
    load_avg = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"wrk; {args.seconds:g} s per row; {os.cpu_count()} cores; "
        f"load average after the run: {load_avg}"
    )
    print(
        "| path | load | requests/s | p50 ms | p99 ms | added p50 ms | target | "
        "CPU ms per request | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    direct = rows["direct to upstream"]
    for name, variant_rows in rows.items():
        variant = name.removeprefix("gateway, hooks: ")
        for row, base in zip(variant_rows, direct, strict=True):
            added = target = ""
            if variant_rows is not direct:
                gap = row.result.p50_ms - base.result.p50_ms
                added = f"{gap:.2f}"
                limit = TARGETS_MS.get(variant)
                if limit is not None:
                    target = f"< {limit:g} ms: {'met' if gap < limit else '**not met**'}"
            r = row.result
            print(
                f"| {name} | {row.load.describe()} | {r.rps:,.0f} | {r.p50_ms:.2f} | "
                f"{r.p99_ms:.2f} | {added} | {target} | {row.cpu_ms:.3f} | {r.errors} |"
            )
    for name, value in reported.items():
        print(f"{name}: median x-gatehouse-overhead-ms over sequential requests: {value:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overhead", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="before each path")
    parser.add_argument("--connections", type=int, default=10, help="concurrent clients")
    parser.add_argument(
        "--think-ms",
        default="5,20,50",
        help="mean think times to measure besides back to back, comma-separated ('' : none)",
    )
    parser.add_argument(
        "--hooks", default=",".join(VARIANTS), help=f"variants, of: {', '.join(VARIANTS)}"
    )
    args = parser.parse_args(argv)
    variants = [v for v in args.hooks.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--hooks: unknown variant(s) {', '.join(unknown)}; expected {list(VARIANTS)}")
    loads = [Load(args.connections)] + [
        Load(args.connections, float(t)) for t in args.think_ms.split(",") if t
    ]
    body = orjson.dumps(CHAT_BODY)
    rows: dict[str, list[Row]] = {}
    reported: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp,
        Services(Path(tmp)) as services,
    ):
        workdir = Path(tmp)
        env = {**os.environ, "GATEHOUSE_ADMIN_KEY": ADMIN_KEY}
        with fake_upstream(services, env) as upstream:
            direct = Request(f"{upstream.url}/v1/chat/completions", {}, body)
            rows["direct to upstream"] = measure(loads, direct, upstream, args)
            for variant in variants:
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
                    name = f"gateway, hooks: {variant}"
                    rows[name] = measure(loads, request, gateway, args)
                    reported[name] = self_reported(request)
    report(rows, reported, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
