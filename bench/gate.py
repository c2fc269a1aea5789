"""The policy gate at scale: ``python -m bench.gate [--sizes 100,1000,5000]``.

Builds synthetic environments of about N resources from copies of every shipped
environment's shapes, then times the gate end to end in a fresh process per size, as
``gatehouse gate`` runs it: the offline render under the mock runtime, with each resource
sent to the pack process (Analyzer protocol) as it is registered, then ``AnalyzeStack``,
then the text report. Peak memory is the maximum RSS of the gate process and of the pack.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ENVIRONMENTS = ("dev-eu", "prod-eu", "byoc-eu", "onprem-eu")


def _copies_program(copies: int) -> Callable[[], None]:
    """A program instantiating every shipped environment's shapes ``copies`` times."""
    from stacks.environments import load_stack_config, to_engine_config
    from stacks.gate import Project
    from stacks.shapes import SHAPES
    from stacks.spec import spec_from_config

    project = Project(ROOT)
    specs = [
        (env, spec_from_config(to_engine_config(load_stack_config(project.stacks_dir, env))))
        for env in ENVIRONMENTS
    ]

    def program() -> None:
        for i in range(copies):
            for env, spec in specs:
                ctx = spec.context(env)
                built: dict[str, Any] = {}
                for shape in SHAPES:
                    args = spec.section(shape.section)
                    if args is None or not args.enabled:
                        continue
                    name = f"{shape.component}-{env}-{i}"
                    built[shape.section] = shape.build(name, args, ctx, built)

    return program


def _engine_config() -> dict[str, str]:
    from stacks.environments import load_stack_config, to_engine_config
    from stacks.gate import Project

    merged: dict[str, str] = {}
    for env in ENVIRONMENTS:
        config = to_engine_config(load_stack_config(Project(ROOT).stacks_dir, env))
        merged.update({k: v for k, v in config.items() if not k.startswith("gatehouse:")})
    return merged


def run_one(target: int) -> dict[str, Any]:
    """Gate a synthetic environment of about ``target`` resources; runs in its own process."""
    from stacks import report
    from stacks.analyzer import Analysis, PackProcess
    from stacks.render import render

    config = _engine_config()
    per_copy = len(render(_copies_program(1), stack="bench", config=config).resources)
    copies = max(1, math.ceil(target / per_copy))

    started = time.perf_counter()
    with PackProcess(ROOT / "policies") as pack:
        analysis = Analysis(pack, settings={"zone": "eu"}, stack_config=config, stack="bench")
        rendering = render(
            _copies_program(copies), stack="bench", config=config, on_resource=analysis.submit
        )
        rendered = time.perf_counter()
        diagnostics = analysis.finish()
    analysed = time.perf_counter()
    text = report.text("bench", diagnostics, len(rendering.resources))
    finished = time.perf_counter()
    return {
        "target": target,
        "resources": len(rendering.resources),
        "copies": copies,
        "render_s": round(rendered - started, 3),
        "analyze_after_render_s": round(analysed - rendered, 3),
        "report_s": round(finished - analysed, 4),
        "total_s": round(finished - started, 3),
        "violations": len(diagnostics),
        "mandatory": sum(d.mandatory for d in diagnostics),
        "report_lines": text.count("\n") + 1,
        "peak_rss_mb_gate": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mb_pack": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| resources | render (Analyze overlapped) s | rest of Analyzer protocol s | report s "
        "| total s | s per 1,000 "
        "| peak RSS gate MB | peak RSS pack MB | violations |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_k = r["total_s"] / r["resources"] * 1000
        lines.append(
            f"| {r['resources']:,} | {r['render_s']} | {r['analyze_after_render_s']} "
            f"| {r['report_s']} "
            f"| {r['total_s']} | {per_k:.2f} | {r['peak_rss_mb_gate']} "
            f"| {r['peak_rss_mb_pack']} | {r['violations']} ({r['mandatory']} mandatory) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gate", description=__doc__)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, "-m", "bench.gate", "--one", str(size)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    document = {
        "date": stamp,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "rows": rows,
    }
    (RESULTS / f"gate-{stamp}.json").write_text(json.dumps(document, indent=2) + "\n")
    print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
