"""Cascade markers in the Redis store (:class:`~interlock_core.store_roles.MarkerStore`): one hash per
cycle, one field per source."""

from __future__ import annotations

from interlock_core.model import DEFAULT_SCHEDULE_ID, CascadeMarker

from .base import RedisStoreBase, _decode
from .client import translate_errors


class RedisCascadeMarkers(RedisStoreBase):
    """Write (idempotently) and list a cycle's cascade markers."""

    @translate_errors
    async def write_cascade_marker(self, marker: CascadeMarker) -> None:
        schedule_id = marker.schedule_id or DEFAULT_SCHEDULE_ID
        if schedule_id != marker.schedule_id:
            marker = marker.model_copy(update={"schedule_id": schedule_id})
        key = self.keys.cascade(marker.pipeline_id, marker.date, schedule_id)
        await self._write_marker([key], [marker.source, marker.to_json(), self._retention_ms])

    @translate_errors
    async def list_cascade_markers(
        self, pipeline_id: str, date: str, schedule_id: str
    ) -> list[CascadeMarker]:
        key = self.keys.cascade(pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID)
        entries = await self._redis.hgetall(key)
        found = (_decode(CascadeMarker, raw, f"cascade marker {key}") for raw in entries.values())
        return sorted((m for m in found if m is not None), key=lambda m: (m.timestamp, m.source))
