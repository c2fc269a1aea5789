"""Table definitions, shared by the store and its Alembic migrations' autogenerate."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("team", sa.String(200), nullable=False),
    sa.Column("cost_center", sa.String(200), nullable=True),
    sa.Column("jurisdictions", sa.JSON, nullable=False),
    sa.Column("models", sa.JSON, nullable=True),
    sa.Column("redaction", sa.String(16), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revision", sa.BigInteger, nullable=False, index=True),
)
"""API keys; only the SHA-256 of a key is stored, never the key."""

store_revision = sa.Table(
    "store_revision",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("revision", sa.BigInteger, nullable=False),
)
"""One row (id 1): bumped by every key change, so replicas poll one integer."""
