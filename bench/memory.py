"""Resident memory of one gateway worker as it serves requests: does it level off?

    python -m bench.memory [--hooks all] [--connections 100] [--rounds 8] [--seconds 8]
                           [--stream]

It starts the fake upstream and one gateway of the ``--hooks`` variant exactly as
:mod:`bench.overhead` does, then drives it with wrk, ``--connections`` clients back to back,
for ``--rounds`` rounds of ``--seconds``. After each round it prints the requests served so
far, the worker's resident memory (``VmRSS`` in ``/proc/<pid>/status``) and its anonymous
part (``RssAnon``): a cache fills and then stays, a leak keeps growing with the requests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

import orjson

from bench._fake_upstream import CHAT_BODY
from bench._load import Request, wrk
from bench._procs import Services, fake_upstream
from bench.overhead import ADMIN_KEY, VARIANTS, start_gateway

PROC = Path("/proc")


def memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``RssAnon`` of one process, in MB of 2^20 bytes."""
    found = {}
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon"):
            found[name] = int(value.split()[0]) / 1024
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--hooks", default="all", choices=list(VARIANTS), help="the variant")
    parser.add_argument("--connections", type=int, default=100, help="clients back to back")
    parser.add_argument("--rounds", type=int, default=8, help="measurements (default 8)")
    parser.add_argument("--seconds", type=float, default=8.0, help="per round (default 8)")
    parser.add_argument("--stream", action="store_true", help="streamed requests")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds: {args.rounds}; expected 1 or more")
    with (
        tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp,
        Services(Path(tmp)) as services,
        contextlib.ExitStack() as stack,
    ):
        env = {**os.environ, "GATEHOUSE_ADMIN_KEY": ADMIN_KEY}
        upstream = stack.enter_context(fake_upstream(services, env))
        target = start_gateway(services, stack, upstream, Path(tmp), args.hooks)
        body = orjson.dumps({**CHAT_BODY, "stream": args.stream})
        request = Request(target.request.url, target.request.headers, body)
        pid = target.service.pid
        print(
            f"hooks {args.hooks}, {args.connections} clients back to back, "
            f"{'streamed' if args.stream else 'non-streaming'} requests"
        )
        print("| requests served | VmRSS MB | RssAnon MB |")
        print("|---:|---:|---:|")
        start = memory_mb(pid)
        print(f"| 0 | {start['VmRSS']:.0f} | {start['RssAnon']:.0f} |")
        served = 0
        for _ in range(args.rounds):
            served += wrk(request, args.connections, args.seconds).requests
            now = memory_mb(pid)
            print(f"| {served:,} | {now['VmRSS']:.0f} | {now['RssAnon']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
