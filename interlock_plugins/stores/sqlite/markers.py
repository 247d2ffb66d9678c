"""Cascade markers in the SQLite store (:class:`~interlock_core.store_roles.MarkerStore`): table
``cascade_markers``, one row per (pipeline, date, schedule, source)."""

from __future__ import annotations

from interlock_core.model import DEFAULT_SCHEDULE_ID, CascadeMarker

from .base import SQLiteStoreBase
from .schema import CASCADE_MARKERS, LIVE


class SQLiteCascadeMarkers(SQLiteStoreBase):
    """Write (idempotently) and list a cycle's cascade markers."""

    async def write_cascade_marker(self, marker: CascadeMarker) -> None:
        schedule_id = marker.schedule_id or DEFAULT_SCHEDULE_ID
        data = marker.model_copy(update={"schedule_id": schedule_id}).to_json()
        row = (marker.pipeline_id, marker.date, schedule_id, marker.source, data)
        await self._write(lambda conn, now: CASCADE_MARKERS.put(conn, row, self._retained(None, now)))

    async def list_cascade_markers(
        self, pipeline_id: str, date: str, schedule_id: str
    ) -> list[CascadeMarker]:
        sql = (
            "SELECT data FROM cascade_markers WHERE pipeline_id = ? AND date = ? AND schedule_id = ?"
            f" AND {LIVE} ORDER BY source"
        )
        return await self._list(CascadeMarker, sql, (pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID))
