"""The event log of the Redis store (:class:`~interlock_core.store_roles.EventStore`): one stream per
pipeline, whose ids are the cursors. ``append_event`` is in ``alerts.py``: an event that raised
alerts is written by one script with them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from interlock_core.errors import ValidationError
from interlock_core.model import Event, EventRecord

from .base import RedisStoreBase, ScriptArgs, _decode, _text
from .client import translate_errors

_STREAM_ID = re.compile(r"^\d+(-\d+)?$")


class RedisEvents(RedisStoreBase):
    """Append an event alone, read the event log."""

    @translate_errors
    async def _append_event_alone(self, event: Event) -> str:
        args: ScriptArgs = [
            self.config.event_stream_max, self._retention_ms, event.kind.value, event.to_json()
        ]
        return str(await self._append_event([self.keys.events(event.pipeline_id)], args))

    @translate_errors
    async def list_events(self, pipeline_id: str, limit: int = 50) -> list[Event]:
        if limit <= 0:
            return []
        entries = await self._redis.xrevrange(self.keys.events(pipeline_id), "+", "-", count=limit)
        return [record.event for record in _event_records(reversed(entries or []))]

    @translate_errors
    async def read_events_since(
        self, pipeline_id: str, cursor: str | None, count: int = 100
    ) -> list[EventRecord]:
        if count <= 0:
            return []
        if cursor in (None, "", "0-0", "0"):
            start = "-"
        elif cursor is not None and _STREAM_ID.match(cursor):
            start = "(" + cursor
        else:
            raise ValidationError(
                f"invalid event cursor {cursor!r}: expected a stream id like 1700000000000-0", field="cursor"
            )
        entries = await self._redis.xrange(self.keys.events(pipeline_id), start, "+", count=count)
        return _event_records(entries or [])


def _event_records(entries: Iterable[Any]) -> list[EventRecord]:
    """Stream entries ``(id, {kind, data})`` as event records; unreadable entries are skipped."""
    out: list[EventRecord] = []
    for stream_id, fields in entries:
        event = _decode(Event, (fields or {}).get("data"), f"event {stream_id}")
        if event is not None:
            out.append(EventRecord(stream_id=_text(stream_id), event=event))
    return out
