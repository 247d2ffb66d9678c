"""What every role of the SQLite store builds on: the clock, the retention of history, one write
transaction with the lazy purge of expired rows, and the generic put, claim, get and list."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as ModelError

from interlock_core.clock import Clock
from interlock_core.model import RunStatus
from interlock_core.model.parsed import ParsedRecords

from .database import SQLiteDatabase
from .schema import Table, purge_expired

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

T = TypeVar("T")

UNFINISHED_GRACE = 86400.0  # unfinished runs, run logs and reruns outlive retention by a day

PURGE_INTERVAL = 60.0  # seconds of clock time between lazy purges of expired rows


class SQLiteStoreBase:
    """The state and helpers the role mixins of :class:`~interlock_plugins.stores.sqlite.SQLiteStore` share
    (set by its ``__init__``)."""

    path: str
    _clock: Clock
    _retention: float | None
    _db: SQLiteDatabase
    _last_purge: float | None

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _retained(self, status: RunStatus | None, now: float) -> float | None:
        """When a run, run log, rerun, event or cascade marker written now expires."""
        if self._retention is None:
            return None
        grace = UNFINISHED_GRACE if status is not None and not status.is_terminal else 0.0
        return now + self._retention + grace

    async def _write(self, body: Callable[[sqlite3.Connection, float], T], *, durable: bool = True) -> T:
        """One write transaction; expired rows are purged now and then along the way."""
        now, mono = self._now(), self._clock.monotonic()
        purge = self._last_purge is None or abs(mono - self._last_purge) >= PURGE_INTERVAL
        if purge:
            self._last_purge = mono

        def run(conn: sqlite3.Connection) -> T:
            if purge:
                purge_expired(conn, now)
            return body(conn, now)

        return await self._db.write(run, durable=durable)

    async def _put(self, table: Table, row: tuple[Any, ...], status: RunStatus) -> None:
        await self._write(lambda conn, now: table.put(conn, row, self._retained(status, now)))

    async def _claim(
        self, table: Table, row: tuple[Any, ...], status: RunStatus, expected: int | None
    ) -> bool:
        """Write iff the stored version is ``expected`` (``None``: iff nothing live is stored)."""

        def claim(conn: sqlite3.Connection, now: float) -> bool:
            expires = self._retained(status, now)
            if expected is None:
                return table.insert_if_absent(conn, row, expires, now)
            return table.swap(conn, row, expires, expected, now)

        return await self._write(claim)

    async def _get(self, model: type[M], sql: str, params: tuple[Any, ...], *, live: bool = True) -> M | None:
        args = (*params, self._now()) if live else params
        row = await self._db.read(lambda conn: conn.execute(sql, args).fetchone())
        return _load(model, row[0]) if row else None

    async def _list(
        self,
        model: type[M],
        sql: str,
        params: tuple[Any, ...],
        *,
        live: bool = True,
        limit: int | None = None,
    ) -> list[M]:
        args = (*params, self._now()) if live else params
        if limit is not None:
            sql, args = sql + " LIMIT ?", (*args, limit)
        rows = await self._db.read(lambda conn: conn.execute(sql, args).fetchall())
        return [item for item in (_load(model, row[0]) for row in rows) if item is not None]


def _expiry(ttl: float | None, now: float) -> float | None:
    return now + ttl if ttl is not None and ttl > 0 else None


def _limit(value: int, default: int) -> int:
    return value if value > 0 else default


def _load(model: type[M] | ParsedRecords[M], data: str) -> M | None:
    """The record ``data`` holds (through records kept by their text when ``model`` keeps them);
    None, with a warning, for an unreadable row."""
    parse, name = (model.load, model.model.__name__) if isinstance(model, ParsedRecords) else \
        (model.model_validate_json, model.__name__)
    try:
        return parse(data)
    except ModelError as exc:
        log.warning("skipping an unreadable %s row: %s", name, exc.errors()[:1])
        return None
