"""The event log of the SQLite store (:class:`~interlock_core.store_roles.EventStore`): table
``events``, whose row ids are the cursors. ``append_event`` is in ``alerts.py``: an event is written
in one transaction with the alerts it raised."""

from __future__ import annotations

from interlock_core.errors import ValidationError
from interlock_core.model import Event, EventRecord

from .base import SQLiteStoreBase, _limit, _load
from .schema import LIVE


class SQLiteEvents(SQLiteStoreBase):
    """Read the event log (appending it is the alert outbox's, ``alerts.py``)."""

    async def list_events(self, pipeline_id: str, limit: int = 50) -> list[Event]:
        sql = f"SELECT data FROM events WHERE pipeline_id = ? AND {LIVE} ORDER BY id DESC"
        events = await self._list(Event, sql, (pipeline_id,), limit=_limit(limit, 50))
        return events[::-1]

    async def read_events_since(
        self, pipeline_id: str, cursor: str | None, count: int = 100
    ) -> list[EventRecord]:
        sql = f"SELECT id, data FROM events WHERE pipeline_id = ? AND id > ? AND {LIVE} ORDER BY id LIMIT ?"
        params = (pipeline_id, _event_cursor(cursor), self._now(), _limit(count, 100))
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        loaded = ((row_id, _load(Event, data)) for row_id, data in rows)
        return [EventRecord(stream_id=str(row_id), event=event) for row_id, event in loaded if event]


def _event_cursor(cursor: str | None) -> int:
    if cursor is None or cursor in ("", "0", "0-0"):
        return 0
    try:
        value = int(cursor)
    except ValueError:
        value = -1
    if value < 0:
        raise ValidationError(
            f"invalid event cursor {cursor!r}: expected a stream id returned by the store", field="cursor"
        )
    return value
