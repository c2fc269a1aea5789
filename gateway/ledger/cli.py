"""``gatehouse chargeback --month 2026-11 [--format csv|json] [--config gateway.yaml]``

One row per cost center, team and model (and currency) with requests, input, output and
cached input tokens and cost, for one calendar month in UTC, read from the store the gateway
config names. The costs are the recorded usage events, so they equal the costs in the audit
trail's request events for the same period.

Exit status: 0 with the report on stdout (or in ``--output``), 1 when the store cannot be
read, 2 when the arguments or the config are wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from gateway.config import ConfigError, load_config
from gateway.ledger.reports import Report, ReportError, month_range
from gateway.ledger.usage_log import Dimension, UsageLog
from gateway.store.engine import create_engine, sqlite_path

CONFIG_ENV = "GATEHOUSE_CONFIG"
CHARGEBACK_GROUPS: tuple[Dimension, ...] = ("cost_center", "team", "model")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatehouse chargeback",
        description="Monthly chargeback: spend per cost center, team and model.",
    )
    parser.add_argument("--month", required=True, help="the calendar month (UTC), as YYYY-MM")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument(
        "--config",
        default=os.environ.get(CONFIG_ENV, "gateway.yaml"),
        help=f"the gateway's YAML config (default: ${CONFIG_ENV} or ./gateway.yaml)",
    )
    parser.add_argument("--output", help="write the report to this file (default: stdout)")
    return parser


async def chargeback(store_url: str, month: str) -> Report:
    """The chargeback report of ``month`` (``YYYY-MM``) from the store at ``store_url``."""
    start, end = month_range(month)
    engine = create_engine(store_url)
    try:
        rows = await UsageLog(engine).totals(CHARGEBACK_GROUPS, start=start, end=end)
    finally:
        await engine.dispose()
    return Report(CHARGEBACK_GROUPS, start, end, rows)


def render(report: Report, fmt: str, month: str) -> str:
    if fmt == "csv":
        return report.as_csv()
    document = {"month": month, **report.as_json()}
    document["object"] = "chargeback"
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chargeback CLI; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        month_range(args.month, "--month")
        config = load_config(args.config)
    except (ReportError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hint = "(the gateway creates its tables when it first starts)"
    path = sqlite_path(config.store)
    if path is not None and not Path(path).is_file():
        print(
            f"error: cannot read the usage events from the store {config.store}: "
            f"the file {path} does not exist {hint}",
            file=sys.stderr,
        )
        return 1
    try:
        report = asyncio.run(chargeback(config.store, args.month))
    except Exception as exc:
        print(
            f"error: cannot read the usage events from the store {config.store}: {exc} {hint}",
            file=sys.stderr,
        )
        return 1
    text = render(report, args.format, args.month)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
