"""The ledger's tables in the gateway store (created by the migration ``0003_usage_ledger``).

* ``usage_events``: one row per settled request, keyed by request id, so writing an event
  twice (a retried flush, a repeated settle) keeps one row. Costs are integers in
  pico-units (10⁻¹² of the currency): exact for every price with at most six decimals per
  million tokens, and summable without rounding (see :func:`exact_sum`).
* ``budgets``: budgets set through the admin API, one row per scope, subject and period.
  A deleted budget stays as a row without an amount (a tombstone), so replicas polling
  ``revision > seen`` learn of deletions too.
* ``budget_revision``: one row, bumped by every budget change; the bump serialises
  concurrent changes, so revisions are assigned in commit order.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

metadata = sa.MetaData()

COST_SCALE = 10**12
"""pico-units per currency unit: the resolution of stored costs"""

usage_events = sa.Table(
    "usage_events",
    metadata,
    sa.Column("request_id", sa.String(), primary_key=True),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("key_id", sa.String(), nullable=False),
    sa.Column("team", sa.String(), nullable=True),
    sa.Column("cost_center", sa.String(), nullable=True),
    sa.Column("model", sa.String(), nullable=False),
    sa.Column("deployment", sa.String(), nullable=True),
    sa.Column("region", sa.String(), nullable=True),
    sa.Column("input_tokens", sa.BigInteger, nullable=False),
    sa.Column("output_tokens", sa.BigInteger, nullable=False),
    sa.Column("cached_input_tokens", sa.BigInteger, nullable=False),
    sa.Column("cost_pico", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
)

budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("subject", sa.String(), primary_key=True),
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("amount_micros", sa.BigInteger, nullable=True),
    sa.Column("revision", sa.BigInteger, nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

budget_revision = sa.Table(
    "budget_revision",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("revision", sa.BigInteger, nullable=False),
)


def to_pico(amount: Decimal) -> int:
    """``amount`` in pico-units; raises if it is finer than that (it never is for a cost
    computed from prices with at most six decimals per million tokens)."""
    scaled = amount * COST_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"cost {amount} is finer than 10^-12 and cannot be stored exactly")
    return int(scaled)


def from_pico(value: int) -> Decimal:
    return Decimal(value).scaleb(-12)


_SPLIT = 10**6


def exact_sum(column: sa.ColumnElement[int], label: str) -> list[sa.Label[int]]:
    """Two aggregates whose combination (:func:`combine_sum`) is the exact sum of ``column``.

    SQLite's SUM fails on 64-bit overflow, which a pico-unit column reaches at about 9.2
    million currency units; summing the whole micro-units and the sub-micro remainders
    separately keeps the sum exact far beyond that, on SQLite and PostgreSQL alike.
    """
    return [
        sa.func.coalesce(sa.func.sum(column // _SPLIT), 0).label(f"{label}_hi"),
        sa.func.coalesce(sa.func.sum(column % _SPLIT), 0).label(f"{label}_lo"),
    ]


def combine_sum(high: int | Decimal, low: int | Decimal) -> Decimal:
    """The sum in currency units from the two parts :func:`exact_sum` selected."""
    return from_pico(int(high) * _SPLIT + int(low))


def insert_for(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``ON CONFLICT`` on the store's dialect (SQLite, PostgreSQL)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
