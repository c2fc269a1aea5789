"""The ledger: usage events (idempotent by request id), budgets set by the admin API.

Revision ID: 0003_usage_ledger
Revises: 0002_webhook_dead_letters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_usage_ledger"
down_revision = "0002_webhook_dead_letters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("request_id", sa.String(), primary_key=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
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
    op.create_index("ix_usage_events_time", "usage_events", ["time"])
    op.create_table(
        "budgets",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("amount_micros", sa.BigInteger, nullable=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_budgets_revision", "budgets", ["revision"])
    revisions = op.create_table(
        "budget_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(revisions, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    op.drop_table("budget_revision")
    op.drop_index("ix_budgets_revision", table_name="budgets")
    op.drop_table("budgets")
    op.drop_index("ix_usage_events_time", table_name="usage_events")
    op.drop_table("usage_events")
