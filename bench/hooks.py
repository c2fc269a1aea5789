"""Per-hook cost on the request path, measured in process, without HTTP.

    python -m bench.hooks [--requests 3000] [--rounds 5] [--config all|registered]

The gateway is built by ``create_app`` from the production-like config of
:mod:`bench.gateways` (``all``: API keys, redaction, audit, ledger with a team budget, rate
limits, metrics) or with only the registered defaults (``registered``: no limits, no
budgets), and started (store migrated, audit trail opened, outbox running). Then the same
chat request as the HTTP benchmarks is driven through the hooks exactly as
:class:`gateway.proxy.Proxy` calls them (``on_admitted`` and ``transform_request`` in order,
``transform_response`` and ``on_complete`` in reverse order), with the fake upstream's
answer in place of the upstream exchange.

For each hook and phase it reports the CPU time (``time.thread_time``, the event loop's
thread only) and the wall-clock time per request, best of ``--rounds`` rounds. Work a hook
hands to other threads (the audit trail's ``fdatasync``, aiosqlite) is in the wall time
only. Sequential requests: there is no queueing in these figures, and no HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench._fake_upstream import CHAT_BODY, COMPLETION
from bench.gateways import gatehouse_config
from gateway.app import GatewayApp, create_app
from gateway.config import GatewayConfig
from gateway.context import Identity, RequestContext
from gateway.hooks import Hook
from gateway.routing import decide

ADMIN_KEY = "bench-admin-key-0123456789abcdef0123"
PHASES = ("on_admitted", "transform_request", "transform_response", "on_complete")
Timings = dict[tuple[str, str], list[float]]


def build(variant: str, workdir: Path) -> GatewayApp:
    config = gatehouse_config("http://127.0.0.1:9/unused", workdir)
    if variant == "registered":
        config.pop("limits")
        config.pop("budgets")
    return create_app(
        GatewayConfig.model_validate(config),
        environ={**os.environ, "GATEHOUSE_ADMIN_KEY": ADMIN_KEY},
    )


def new_context(app: GatewayApp, identity: Identity) -> RequestContext:
    """A context as the proxy leaves it after authentication, parsing and residency."""
    ctx = RequestContext("POST", "/v1/chat/completions")
    ctx.op = "chat"
    ctx.identity = identity
    ctx.body = orjson.loads(orjson.dumps(CHAT_BODY))
    ctx.model = "chat"
    targets = app.routes["chat"]
    ctx.residency = decide(identity, targets, frozenset({"eu"}))
    return ctx


async def timed(
    timings: Timings, hook: Hook, phase: str, call: Callable[..., Awaitable[Any]], *args: Any
) -> Any:
    cpu, wall = time.thread_time(), time.perf_counter()
    result = await call(*args)
    timings[(hook.name, phase)].append(time.thread_time() - cpu)
    timings[(hook.name, phase + " (wall)")].append(time.perf_counter() - wall)
    return result


def _overrides(hook: Hook, method: str) -> bool:
    return getattr(type(hook), method) is not getattr(Hook, method)


async def one_request(app: GatewayApp, identity: Identity, timings: Timings) -> None:
    hooks = app.hooks.hooks
    ctx = new_context(app, identity)
    for hook in hooks:
        if _overrides(hook, "on_admitted"):
            await timed(timings, hook, "on_admitted", hook.on_admitted, ctx)
    for hook in hooks:
        if _overrides(hook, "transform_request"):
            await timed(timings, hook, "transform_request", hook.transform_request, ctx)
    target = app.routes["chat"][0]
    ctx.deployment_id, ctx.deployment = target.id, target.deployment
    body = orjson.loads(COMPLETION)
    ctx.usage = body["usage"]
    body["model"] = ctx.model
    for hook in hooks[::-1]:
        if _overrides(hook, "transform_response"):
            body = await timed(
                timings,
                hook,
                "transform_response",
                hook.transform_response,
                ctx,
                body,
            )
    ctx.status = 200
    for hook in hooks[::-1]:
        if _overrides(hook, "on_complete"):
            await timed(timings, hook, "on_complete", hook.on_complete, ctx)


async def run(args: argparse.Namespace) -> dict[tuple[str, str], float]:
    with tempfile.TemporaryDirectory(prefix="gatehouse-hooks-") as tmp:
        app = build(args.config, Path(tmp))
        await app.startup()
        try:
            identity = Identity(kind="api_key", subject="key-1", team="bench")
            best: dict[tuple[str, str], float] = {}
            for _ in range(args.rounds):
                timings: Timings = defaultdict(list)
                for _ in range(args.requests):
                    await one_request(app, identity, timings)
                for name, values in timings.items():
                    per_request = sum(values) / args.requests
                    best[name] = min(best.get(name, per_request), per_request)
            return best
        finally:
            await app.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hooks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=3000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is reported")
    parser.add_argument("--config", choices=["all", "registered"], default="all")
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        best = runner.run(run(args))
    print(f"{args.requests} sequential requests per round, best of {args.rounds}; µs per request")
    print("| hook | " + " | ".join(f"{p} CPU" for p in PHASES) + " | total CPU | total wall |")
    print("|---|" + "---:|" * (len(PHASES) + 2))
    grand_cpu = grand_wall = 0.0
    for hook in sorted({h for h, _ in best}):
        cells = [best.get((hook, p)) for p in PHASES]
        cpu = sum(c for c in cells if c is not None)
        wall = sum(best.get((hook, p + " (wall)"), 0.0) for p in PHASES)
        grand_cpu += cpu
        grand_wall += wall
        shown = " | ".join("" if c is None else f"{c * 1e6:.0f}" for c in cells)
        print(f"| {hook} | {shown} | {cpu * 1e6:.0f} | {wall * 1e6:.0f} |")
    print(f"| all hooks |{' |' * len(PHASES)} {grand_cpu * 1e6:.0f} | {grand_wall * 1e6:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
