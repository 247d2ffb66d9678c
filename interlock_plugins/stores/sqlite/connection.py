"""The SQLite store's connection and identity (:class:`~interlock_core.store_roles.StoreConnection`)."""

from __future__ import annotations

import sqlite3

from interlock_core.errors import StoreUnavailable
from interlock_core.launch_keys import new_store_identity

from .base import SQLiteStoreBase
from .database import MEMORY
from .schema import check_schema, ensure_schema

_IDENTITY_SQL = "SELECT value FROM store_meta WHERE key = 'identity'"


class SQLiteStoreConnection(SQLiteStoreBase):
    """Open (creating or migrating the schema, or read-only), close, ping; the store identity in ``store_meta``."""

    async def start(self) -> None:
        await self._db.open(ensure_schema(self.path))

    async def start_read_only(self) -> None:
        """Open an existing database to read it: nothing is created or migrated
        (:class:`~interlock_core.errors.StoreMissing` when there is none). An in-memory database is
        private to this process and empty: it is opened as :meth:`start` opens it."""
        if self.path == MEMORY:
            await self.start()
            return
        await self._db.open(check_schema(self.path), create=False)

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> bool:
        if not self._db.is_open:
            return False
        try:
            return bool(await self._db.read(lambda conn: conn.execute("SELECT 1").fetchone()))
        except StoreUnavailable:
            return False

    async def store_identity(self) -> str:
        """Read; when absent, one ``BEGIN IMMEDIATE`` transaction inserts a fresh one unless another
        process got there first, and reads what is stored."""
        row = await self._db.read(lambda conn: conn.execute(_IDENTITY_SQL).fetchone())
        if row:
            return str(row[0])
        candidate = new_store_identity()

        def create(conn: sqlite3.Connection, now: float) -> str:
            conn.execute("INSERT INTO store_meta (key, value) VALUES ('identity', ?) ON CONFLICT (key) DO NOTHING",
                         (candidate,))
            return str(conn.execute(_IDENTITY_SQL).fetchone()[0])

        return await self._write(create)
