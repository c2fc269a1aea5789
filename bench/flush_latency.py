"""How long one durable append takes after the disk and the CPU were idle for a while.

    python -m bench.flush_latency [--dir PATH] [--samples 100] [--gaps-ms 0,1,2,5,10,20,50]

The audit trail answers a request only after the ``write`` + ``fdatasync`` covering its
event returned. Under load those flushes follow each other closely; with a few requests per
second each one comes after an idle gap. This benchmark appends one 700-byte line and
flushes it ``--samples`` times per gap, pausing the gap between flushes in two ways:

* ``sleep``: the thread sleeps, so the CPU (a VM's virtual CPU) can go idle, as the
  gateway's threads do between paced requests;
* ``spin``: the thread busy-waits, so the CPU stays awake and only the device is idle;

and, for comparison, bursts of flushes back to back (gap 0), as under load.

Every sample takes one flush of each gap and pause in a shuffled order, so a slow minute
of a shared machine falls on all rows alike. The difference between the two pauses is the
time the machine takes to wake up for the flush's completion; the difference between a gap
with ``spin`` and the bursts is the device's own. Both are properties of the machine, not of
the gateway, and they bound what "no answer before its event is durable" costs at low load
there. ``--dir`` must be on the disk the trail uses.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

LINE = b"x" * 699 + b"\n"


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


Case = tuple[float, str]
"""(idle gap in seconds, pause: ``none``, ``sleep`` or ``spin``)"""

BURST = 20
"""flushes measured per sample of the back-to-back case"""

PAUSES: dict[str, Callable[[float], None]] = {"sleep": time.sleep, "spin": _spin}


def flush_once(fd: int) -> float:
    """Seconds of one ``write`` + ``fdatasync``."""
    started = time.perf_counter()
    os.write(fd, LINE)
    os.fdatasync(fd)
    return time.perf_counter() - started


def flush_times(fd: int, cases: Sequence[Case], samples: int, seed: int) -> dict[Case, list[float]]:
    """``samples`` flushes per case, each preceded by its case's pause, cases shuffled."""
    rng = random.Random(seed)
    times: dict[Case, list[float]] = {case: [] for case in cases}
    order = list(cases)
    for _ in range(samples):
        rng.shuffle(order)
        for case in order:
            gap, pause = case
            if gap:
                PAUSES[pause](gap)
                times[case].append(flush_once(fd))
            else:  # back to back: a burst, its first flush (after the previous case) left out
                flush_once(fd)
                times[case] += [flush_once(fd) for _ in range(BURST)]
    return {case: sorted(values) for case, values in times.items()}


def _quantile_ms(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.flush_latency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="a directory on the disk")
    parser.add_argument("--samples", type=int, default=100, help="flushes per gap and pause")
    parser.add_argument("--gaps-ms", default="0,1,2,5,10,20,50", help="idle gaps, comma-separated")
    parser.add_argument("--seed", type=int, default=7, help="of the shuffled order")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error(f"--samples: {args.samples}; expected 1 or more")
    try:
        gaps = [float(g) / 1000 for g in args.gaps_ms.split(",") if g]
    except ValueError:
        parser.error(f"--gaps-ms: {args.gaps_ms!r}; expected numbers of milliseconds")
    cases: list[Case] = []
    for gap in gaps:
        cases += [(gap, "sleep"), (gap, "spin")] if gap else [(0.0, "none")]
    with tempfile.TemporaryDirectory(prefix="gatehouse-flush-", dir=args.dir) as tmp:
        fd = os.open(Path(tmp) / "segment", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            times = flush_times(fd, cases, args.samples, args.seed)
        finally:
            os.close(fd)
    print("| gap between flushes ms | pause | flush p50 ms | flush p90 ms |")
    print("|---:|---|---:|---:|")
    for case in cases:
        ordered = times[case]
        print(
            f"| {case[0] * 1000:g} | {case[1]} | {_quantile_ms(ordered, 0.5):.3f} "
            f"| {_quantile_ms(ordered, 0.9):.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
