"""The alert outbox of the SQLite store (table ``alerts``, schema version 4).

An alert is written in the same ``BEGIN IMMEDIATE`` transaction as the event that raised it and
the "alert once" claim that guards it, so a crash keeps all of them or none. A pending row never
expires; a delivered, grouped or failed one is kept for the store's retention.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from interlock_core.model import AlertClaim, AlertRecord, AlertStatus, Event

from .database import SQLiteDatabase
from .schema import LIVE

T = TypeVar("T")

_CLAIM_SQL = (
    "INSERT INTO leases (key, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
    " SET owner = excluded.owner, expires_at = excluded.expires_at"
    " WHERE leases.expires_at IS NOT NULL AND leases.expires_at <= ?"
)
_INSERT_SQL = (
    "INSERT INTO alerts (id, sink, status, version, data, expires_at) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO NOTHING"
)
_SWAP_SQL = (
    "UPDATE alerts SET sink = ?, status = ?, version = ?, data = ?, expires_at = ?"
    f" WHERE id = ? AND version = ? AND {LIVE}"
)


def insert_event(conn: sqlite3.Connection, event: Event, expires: float | None) -> str:
    cursor = conn.execute("INSERT INTO events (pipeline_id, data, expires_at) VALUES (?, ?, ?)",
                          (event.pipeline_id, event.to_json(), expires))
    return str(cursor.lastrowid)


class SQLiteAlertOutbox:
    """The outbox methods of :class:`~interlock_plugins.stores.sqlite.SQLiteStore`."""

    _db: SQLiteDatabase

    if TYPE_CHECKING:  # provided by the store
        def _now(self) -> float: ...

        def _retained(self, status: Any, now: float) -> float | None: ...

        async def _write(self, body: Callable[[sqlite3.Connection, float], T], *, durable: bool = True) -> T: ...

    def _alert_expiry(self, record: AlertRecord, now: float) -> float | None:
        return None if record.status is AlertStatus.PENDING else self._retained(None, now)

    def _put_alerts(self, conn: sqlite3.Connection, now: float, alerts: Sequence[AlertRecord]) -> None:
        for record in alerts:
            conn.execute(_INSERT_SQL, (record.id, record.sink, record.status.value, record.version,
                                       record.to_json(), self._alert_expiry(record, now)))

    async def append_event(self, event: Event, alerts: Sequence[AlertRecord] = ()) -> str:
        def append(conn: sqlite3.Connection, now: float) -> str:
            cursor = insert_event(conn, event, self._retained(None, now))
            self._put_alerts(conn, now, alerts)
            return cursor

        # an event alone may be lost with the machine's power; one that raised alerts is synced
        return await self._write(append, durable=bool(alerts))

    async def record_alerts(self, alerts: Sequence[AlertRecord], *, event: Event | None = None,
                            claim: AlertClaim | None = None) -> bool:
        owner = uuid.uuid4().hex

        def record(conn: sqlite3.Connection, now: float) -> bool:
            if claim is not None:
                expires = now + claim.ttl if claim.ttl > 0 else None
                if conn.execute(_CLAIM_SQL, (claim.lease_key, owner, expires, now)).rowcount != 1:
                    return False
            if event is not None:
                insert_event(conn, event, self._retained(None, now))
            self._put_alerts(conn, now, alerts)
            return True

        return await self._write(record)

    async def get_alert(self, alert_id: str) -> AlertRecord | None:
        sql = f"SELECT data FROM alerts WHERE id = ? AND {LIVE}"
        rows = await self._alert_rows(sql, (alert_id,))
        return rows[0] if rows else None

    async def list_alerts(self, status: AlertStatus | None = None, *, limit: int = 50,
                          before: str | None = None) -> list[AlertRecord]:
        if limit <= 0:
            return []
        where: list[str] = [LIVE]
        params: list[Any] = [self._now()]
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if before:
            where.append("id < ?")
            params.append(before)
        sql = f"SELECT data FROM alerts WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        return await self._alert_rows(sql, (*params, limit), live=False)

    async def pending_alerts(self, sink: str, limit: int = 100) -> list[AlertRecord]:
        if limit <= 0:
            return []
        sql = "SELECT data FROM alerts WHERE status = 'pending' AND sink = ? ORDER BY id LIMIT ?"
        return await self._alert_rows(sql, (sink, limit), live=False)

    async def cas_alert(self, record: AlertRecord, expected_version: int, *, event: Event | None = None) -> bool:
        def swap(conn: sqlite3.Connection, now: float) -> bool:
            row = (record.sink, record.status.value, record.version, record.to_json(),
                   self._alert_expiry(record, now), record.id, expected_version, now)
            if conn.execute(_SWAP_SQL, row).rowcount != 1:
                return False
            if event is not None:
                insert_event(conn, event, self._retained(None, now))
            return True

        return await self._write(swap)

    async def _alert_rows(self, sql: str, params: tuple[Any, ...], *, live: bool = True) -> list[AlertRecord]:
        args = (*params, self._now()) if live else params
        rows = await self._db.read(lambda conn: conn.execute(sql, args).fetchall())
        out = []
        for (data,) in rows:
            try:
                out.append(AlertRecord.model_validate_json(data))
            except ValueError:
                continue
        return out
