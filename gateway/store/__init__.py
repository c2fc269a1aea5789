"""The gateway's store: SQLite (default, embedded) or PostgreSQL (shared by replicas).

One interface, :class:`Store`, over SQLAlchemy Core; the schema is created and upgraded by
the Alembic migrations shipped in ``gateway/store/migrations`` when the gateway starts.
Nothing on the request hot path reads the store: callers cache what they need.
"""

from __future__ import annotations

from sqlalchemy import text

from gateway.store.engine import create_engine
from gateway.store.keys import KeyRecord, KeyStore, NewKey
from gateway.store.migrate import migrate

__all__ = ["KeyRecord", "KeyStore", "NewKey", "Store"]


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.keys = KeyStore(self.engine)

    async def migrate(self) -> None:
        await migrate(self.engine, self.url)

    async def ping(self) -> None:
        """Raise unless the store answers a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def aclose(self) -> None:
        await self.engine.dispose()
