"""Spend reports: the rows of :meth:`UsageLog.totals` as JSON or CSV, and their parameters.

Shared by ``GET /admin/spend`` and ``gatehouse chargeback``. Money is written as a decimal
string (never a float), exactly as recorded. CSV cells that a spreadsheet would run as a
formula (text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) are prefixed
with a single quote, so a team named ``=HYPERLINK(...)`` cannot run in finance's Excel
(https://owasp.org/www-community/attacks/CSV_Injection).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from gateway.ledger.budgets import period_end
from gateway.ledger.usage_log import DIMENSIONS, Dimension, SpendRow

MEASURES = ("requests", "input_tokens", "output_tokens", "cached_input_tokens", "cost")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class ReportError(ValueError):
    """A bad report parameter; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def money_text(amount: Decimal) -> str:
    """``12.5``, ``0.000042``, ``100``: exact, without exponent or trailing zeros."""
    return f"{amount.normalize():f}"


def parse_group_by(value: str, field: str = "group_by") -> list[Dimension]:
    """``cost_center`` or a comma-separated list such as ``cost_center,team``."""
    names = [v.strip() for v in value.split(",")]
    found: list[Dimension] = []
    for name in names:
        dimension = next((d for d in DIMENSIONS if d == name), None)
        if dimension is None or dimension in found:
            raise ReportError(
                field,
                f"got {value!r}; expected one or more of {', '.join(DIMENSIONS)}, "
                "comma-separated, each at most once",
            )
        found.append(dimension)
    return found


def parse_time(value: str, field: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or a time with its UTC offset."""
    expected = "expected an ISO 8601 date (2026-11-01, midnight UTC) or a time with an offset "
    expected += "(2026-11-01T08:00:00Z)"
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ReportError(field, f"got {value!r}; {expected}") from None
    if parsed.tzinfo is None:
        raise ReportError(field, f"got {value!r} without a UTC offset; {expected}")
    return parsed.astimezone(UTC)


def month_range(value: str, field: str = "month") -> tuple[datetime, datetime]:
    """``2026-11`` → [2026-11-01T00:00Z, 2026-12-01T00:00Z)."""
    match = _MONTH.match(value)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ReportError(field, f"got {value!r}; expected a month as YYYY-MM (e.g. 2026-11)")
    start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
    return start, period_end("monthly", start)


@dataclass(frozen=True, slots=True)
class Report:
    group_by: Sequence[Dimension]
    start: datetime
    end: datetime | None
    rows: Sequence[SpendRow]

    def _row(self, row: SpendRow) -> dict[str, Any]:
        return {
            **{d: row.group[d] for d in self.group_by},
            "currency": row.currency,
            "requests": row.requests,
            "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens,
            "cached_input_tokens": row.cached_input_tokens,
            "cost": money_text(row.cost),
        }

    def totals(self) -> list[dict[str, Any]]:
        """One total per currency (a gateway normally has only one)."""
        sums: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            total = sums.setdefault(row.currency, dict.fromkeys(MEASURES, 0))
            for measure in MEASURES:
                total[measure] += getattr(row, measure)
        return [
            {"currency": currency, **total, "cost": money_text(Decimal(total["cost"]))}
            for currency, total in sorted(sums.items())
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "object": "spend",
            "group_by": list(self.group_by),
            "from": self.start.isoformat(),
            "to": None if self.end is None else self.end.isoformat(),
            "data": [self._row(r) for r in self.rows],
            "totals": self.totals(),
        }

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([*self.group_by, "currency", *MEASURES])
        for row in self.rows:
            writer.writerow([_cell(v) for v in self._row(row).values()])
        return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value
