"""Audit trail benchmark: group commit against fsync-per-event.

    python -m bench.audit_append [--dir PATH] [--seconds 3] [--clients 10 100]

For each concurrency level, ``clients`` coroutines append request events in a loop for
``--seconds``; every append returns only after the fsync covering it. The same run with
``max_batch=1`` (each event its own write + fsync) is the baseline, and a run with fsync
stubbed out shows the library's own cost. Reported: events/s, p50 and p99 append latency,
and events per fsync, after the median latency of one raw append + fsync on the disk.
``--dir`` must be on the disk you care about (a tmpfs makes fsync free and the comparison
meaningless).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import (
    AuditConfig,
    AuditTrail,
    DeploymentRef,
    FileOps,
    Principal,
    RequestEvent,
    Residency,
    Tokens,
)
from gateway.audit.keys import raw_private

KEY_ENV = "GATEHOUSE_BENCH_AUDIT_KEY"


@dataclass
class Result:
    mode: str
    clients: int
    events: int
    seconds: float
    fsyncs: int
    latencies: list[float]

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
        return (
            f"| {self.mode} | {self.clients} | {self.events / self.seconds:,.0f} | "
            f"{p50:.2f} | {p99:.2f} | {self.events / max(1, self.fsyncs):.1f} |"
        )


def event(number: int) -> RequestEvent:
    return RequestEvent(
        request_id=f"bench-{number}",
        principal=Principal(key_id="key-bench", team="payments", cost_center="cc-1"),
        model="chat-eu",
        operation="chat",
        deployment=DeploymentRef(
            id="aoai-se", provider="azure_openai", region="swedencentral", jurisdiction="SE"
        ),
        residency=Residency(decision="allowed", reason="allowed jurisdictions: SE (from the key)"),
        redaction={"EMAIL_ADDRESS": 1},
        tokens=Tokens(input=812, output=164),
        status=200,
        latency_ms=3.2,
    )


MODES = {
    "group commit": (4096, True),
    "fsync per event": (1, True),
    "group commit, fsync stubbed out": (4096, False),
}


def fsync_floor(directory: Path, samples: int = 200) -> float:
    """Median seconds of one 512-byte append + fsync on ``directory``'s disk."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    timings = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            os.write(fd, b"x" * 511 + b"\n")
            os.fsync(fd)
            timings.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(timings)


async def run(directory: Path, clients: int, seconds: float, mode: str) -> Result:
    max_batch, real_fsync = MODES[mode]
    fsyncs = 0

    def fsync(fd: int) -> None:
        nonlocal fsyncs
        fsyncs += 1
        if real_fsync:
            os.fsync(fd)

    trail = AuditTrail(
        AuditConfig(signing_key_env=KEY_ENV, segment_max_events=1_000_000),
        default_dir=directory,
        ops=FileOps(fsync=fsync),
        max_batch=max_batch,
    )
    await trail.start()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = 0

    async def client() -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            item = event(counter)
            started = time.perf_counter()
            await trail.append(item)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    await trail.aclose()
    return Result(mode, clients, len(latencies), elapsed, fsyncs, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 100])
    args = parser.parse_args()
    raw = raw_private(Ed25519PrivateKey.generate())
    os.environ[KEY_ENV] = base64.b64encode(raw).decode()
    with tempfile.TemporaryDirectory(dir=args.dir) as probe:
        floor = fsync_floor(Path(probe))
    print(f"one append + fsync on this disk: {floor * 1000:.2f} ms (median)\n")
    print("| mode | concurrent appenders | events/s | p50 ms | p99 ms | events per fsync |")
    print("|---|---|---|---|---|---|")
    for clients in args.clients:
        for mode in MODES:
            with tempfile.TemporaryDirectory(dir=args.dir) as work:
                result = asyncio.run(run(Path(work), clients, args.seconds, mode))
            print(result.row(), flush=True)


if __name__ == "__main__":
    main()
