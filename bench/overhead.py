"""Gateway overhead: the latency and throughput the gateway adds in front of a fast upstream.

    python -m bench.overhead [--seconds 5] [--rounds 3] [--connections 10]
                             [--think-ms 5,20,50] [--hooks none,redaction+audit,all]

It starts, each in its own process on loopback and all at once:

* the fake OpenAI upstream of :mod:`bench._fake_upstream`;
* one gateway with one worker per ``--hooks`` variant, built by ``create_app`` and served
  like ``python -m gateway`` (``gateway.server.for_serving``, uvloop, httptools, no access
  log), all with the production-like config of :func:`bench.gateways.gatehouse_config`:

  * ``none``: the core request path alone (API-key auth, parsing, routing, the adapter, the
    pooled upstream client), no governance hook;
  * ``redaction+audit``: the core with the redaction hook (mode ``redact``) and the audit
    hook (each event durable in the write-ahead file before the answer leaves);
  * ``all``: every hook of ``gateway.hooks.HOOK_FACTORIES``: audit, redaction, rate limits
    (key and team), the ledger with a team budget (reserve, settle, usage outbox to SQLite),
    telemetry and webhooks;
  * ``audit``, ``ledger``, ``limits``, ``redaction``, ``telemetry``, ``webhooks``: that one
    hook alone (not measured unless asked for), to tell the hooks' costs apart.

It then drives ``POST /v1/chat/completions`` with wrk (:mod:`bench._load`), directly against
the upstream and through each gateway: ``--connections`` clients back to back (the worker
saturated: latency is then queueing, clients / throughput), and the same clients each
pausing a random think time between requests, exponentially distributed with each mean of
``--think-ms`` (independent clients, arrivals close to a Poisson stream).

The machine's speed drifts by tens of percent over minutes (a shared VM), so the rows are
measured in ``--rounds`` rounds: in each round every load runs against every target in
turn, the targets' order rotating from round to round. The p50 latency a gateway adds is
its p50 minus the direct upstream's p50 of the same round and load; the report gives the
median over the rounds and each round's figure, and says in how many rounds the issue's
target held. Requests per second, p50, p99 and the gateway's CPU time per request (from
``/proc``) are medians over the rounds. Finally, the median ``x-gatehouse-overhead-ms``
header over sequential requests.
"""

from __future__ import annotations

import argparse
import contextlib
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
from gateway.hooks import HOOK_FACTORIES

ADMIN_KEY = "bench-admin-key-0123456789abcdef0123"
CONFIG_ENV = "BENCH_GATEWAY_CONFIG"
HOOKS_ENV = "BENCH_GATEWAY_HOOKS"
PROC = Path("/proc")
AUDIT_HOOK = "gateway.audit.hook:build_audit_hook"
REDACTION_HOOK = "gateway.redaction.hook:build_redaction_hook"
VARIANTS: dict[str, tuple[str, ...] | None] = {
    "none": (),
    "redaction+audit": (AUDIT_HOOK, REDACTION_HOOK),
    "all": None,  # gateway.hooks.HOOK_FACTORIES
    # one hook alone, to tell the hooks' costs apart
    **{ref.split(".")[1]: (ref,) for ref in HOOK_FACTORIES},
}
"""``--hooks`` variants: which hook factories the gateway is built with"""
ISSUE_VARIANTS = ("none", "redaction+audit", "all")
"""the variants the gateway issues set targets for, measured by default"""
TARGETS_MS = {"none": 1.0, "redaction+audit": 1.5, "all": 1.5}
"""the issues' targets for the p50 added latency at 10 concurrent clients"""


def gateway_app() -> Any:
    """uvicorn factory: the gateway from ``$BENCH_GATEWAY_CONFIG`` with the hooks of the
    variant named by ``$BENCH_GATEWAY_HOOKS`` (see :data:`VARIANTS`)."""
    from gateway.app import create_app
    from gateway.config import load_config
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


def run_load(load: Load, request: Request, service: Service, seconds: float) -> Row:
    """One wrk run of ``load`` against ``service``, with the CPU time it spent per request."""
    before = cpu_seconds(service.pid)
    result = wrk(request, load.connections, seconds, think_ms=load.think_ms)
    spent = cpu_seconds(service.pid) - before
    return Row(load, result, spent * 1000 / max(1, result.requests))


@dataclass(frozen=True)
class Target:
    """Where the load goes: the upstream itself or one gateway variant."""

    name: str
    variant: str | None
    """``None`` for the upstream itself"""
    request: Request
    service: Service


def measure_rounds(
    targets: Sequence[Target], loads: Sequence[Load], args: argparse.Namespace
) -> dict[tuple[str, Load], list[Row]]:
    """``args.rounds`` rounds; in each, every load against every target in turn.

    The targets take turns within each load, and their order rotates from round to round, so
    a slow minute of the machine falls on all of them alike instead of on whichever variant
    happened to run then."""
    for target in targets:
        wrk(target.request, loads[0].connections, args.warmup)
    rows: dict[tuple[str, Load], list[Row]] = {
        (t.name, load): [] for t in targets for load in loads
    }
    for index in range(args.rounds):
        order = list(targets[index % len(targets) :]) + list(targets[: index % len(targets)])
        for load in loads:
            for target in order:
                row = run_load(load, target.request, target.service, args.seconds)
                rows[(target.name, load)].append(row)
    return rows


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def report(
    targets: Sequence[Target],
    loads: Sequence[Load],
    rows: dict[tuple[str, Load], list[Row]],
    reported: dict[str, float],
    args: argparse.Namespace,
) -> None:
    load_avg = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"wrk; {args.rounds} rounds of {args.seconds:g} s per row; {os.cpu_count()} cores; "
        f"load average after the run: {load_avg}"
    )
    print(
        "| path | load | requests/s | p50 ms | p99 ms | added p50 ms | added p50, each round | "
        "target | CPU ms per request | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---|---|---:|---:|")
    direct = targets[0].name
    for target in targets:
        for load in loads:
            runs = rows[(target.name, load)]
            added = each = verdict = ""
            if target.variant is not None:
                gaps = [
                    r.result.p50_ms - d.result.p50_ms
                    for r, d in zip(runs, rows[(direct, load)], strict=True)
                ]
                added = f"{_median(gaps):.2f}"
                each = " / ".join(f"{g:.2f}" for g in gaps)
                limit = TARGETS_MS.get(target.variant)
                if limit is not None:
                    met = sum(g < limit for g in gaps)
                    word = "met" if _median(gaps) < limit else "**not met**"
                    verdict = f"< {limit:g} ms: {word} ({met} of {len(gaps)} rounds)"
            print(
                f"| {target.name} | {load.describe()} "
                f"| {_median([r.result.rps for r in runs]):,.0f} "
                f"| {_median([r.result.p50_ms for r in runs]):.2f} "
                f"| {_median([r.result.p99_ms for r in runs]):.2f} | {added} | {each} "
                f"| {verdict} | {_median([r.cpu_ms for r in runs]):.3f} "
                f"| {sum(r.result.errors for r in runs)} |"
            )
    for name, value in reported.items():
        print(f"{name}: median x-gatehouse-overhead-ms over sequential requests: {value:.3f}")


def start_gateway(
    services: Services, stack: contextlib.ExitStack, upstream: Service, workdir: Path, variant: str
) -> Target:
    """Start the gateway of ``variant`` (stopped when ``stack`` closes) and create its key."""
    config = gateway_config(upstream.url, workdir, variant)
    env = {
        **os.environ,
        "GATEHOUSE_ADMIN_KEY": ADMIN_KEY,
        CONFIG_ENV: str(config),
        HOOKS_ENV: variant,
    }
    port = free_port()
    command = uvicorn_command("bench.overhead:gateway_app", port, "--factory")
    gateway = stack.enter_context(
        services.running(f"gateway-{variant}", command, port, env=env, probe=http_ok("/healthz"))
    )
    key = create_key(gateway.url)
    request = Request(
        f"{gateway.url}/v1/chat/completions",
        {"Authorization": f"Bearer {key}"},
        orjson.dumps(CHAT_BODY),
    )
    return Target(f"gateway, hooks: {variant}", variant, request, gateway)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overhead", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per row and round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every row (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="before each path")
    parser.add_argument("--connections", type=int, default=10, help="concurrent clients")
    parser.add_argument(
        "--think-ms",
        default="5,20,50",
        help="mean think times to measure besides back to back, comma-separated ('' : none)",
    )
    parser.add_argument(
        "--hooks",
        default=",".join(ISSUE_VARIANTS),
        help=f"variants, of: {', '.join(VARIANTS)} (default: {', '.join(ISSUE_VARIANTS)})",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds: {args.rounds}; expected 1 or more")
    variants = [v for v in args.hooks.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--hooks: unknown variant(s) {', '.join(unknown)}; expected {list(VARIANTS)}")
    loads = [Load(args.connections)] + [
        Load(args.connections, float(t)) for t in args.think_ms.split(",") if t
    ]
    with (
        tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp,
        Services(Path(tmp)) as services,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        env = {**os.environ, "GATEHOUSE_ADMIN_KEY": ADMIN_KEY}
        upstream = stack.enter_context(fake_upstream(services, env))
        direct = Request(f"{upstream.url}/v1/chat/completions", {}, orjson.dumps(CHAT_BODY))
        targets = [Target("direct to upstream", None, direct, upstream)]
        targets += [start_gateway(services, stack, upstream, workdir, v) for v in variants]
        rows = measure_rounds(targets, loads, args)
        reported = {t.name: self_reported(t.request) for t in targets[1:]}
    report(targets, loads, rows, reported, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
