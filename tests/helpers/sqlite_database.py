"""The SQLite store's database layer, opened on a real file for a test."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from interlock_plugins.stores.sqlite.database import SQLiteDatabase


@asynccontextmanager
async def opened_database(path: Path, init: Callable[[sqlite3.Connection], None],
                          busy_timeout: float = 5.0) -> AsyncIterator[SQLiteDatabase]:
    """A :class:`SQLiteDatabase` on ``path`` (created, ``init`` run), closed after the block."""
    database = SQLiteDatabase(str(path), busy_timeout=busy_timeout)
    await database.open(init)
    try:
        yield database
    finally:
        await database.close()
