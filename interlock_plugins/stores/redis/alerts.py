"""The alert outbox of the Redis store (keys ``{alerts}:*`` in ``keys``).

An alert is written by one script together with the event that raised it and the "alert once"
claim guarding it (``RECORD_ALERTS``); a record changes state by a version check in a script
that also moves it between the status indexes (``CAS_ALERT``). Index entries whose record has
expired are dropped as lists come across them, and past the retention by the next state change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError
from redis.commands.core import AsyncScript

from interlock_core.model import AlertClaim, AlertRecord, AlertStatus, Event

from . import scripts
from .client import translate_errors
from .keys import RedisKeys

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from interlock_core.clock import Clock

    from .client import RedisConfig

_FINAL_INDEXES = (AlertStatus.PENDING, AlertStatus.DELIVERED, AlertStatus.FAILED, AlertStatus.GROUPED)


def _decode(raw: bytes | str | None) -> AlertRecord | None:
    if raw is None:
        return None
    try:
        return AlertRecord.model_validate_json(raw)
    except PydanticValidationError:
        return None


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class RedisAlertOutbox:
    """The outbox methods of :class:`~interlock_plugins.stores.redis.RedisStore`."""

    keys: RedisKeys
    config: RedisConfig
    clock: Clock
    _redis: aioredis.Redis

    if TYPE_CHECKING:  # provided by the store
        async def _append_event_alone(self, event: Event) -> str: ...

    def _register_outbox_scripts(self) -> None:
        self._record_alerts: AsyncScript = self._redis.register_script(scripts.RECORD_ALERTS)
        self._cas_alert: AsyncScript = self._redis.register_script(scripts.CAS_ALERT)

    def _event_args(self, event: Event | None) -> list[str | int]:
        if event is None:
            return ["0", 0, 0, "", ""]
        retention = _ms(self.config.retention_ttl.total_seconds())
        return ["1", self.config.event_stream_max, retention, event.kind.value, event.to_json()]

    def _record_ttl(self, record: AlertRecord) -> int:
        return 0 if record.status is AlertStatus.PENDING else _ms(self.config.retention_ttl.total_seconds())

    async def _write_alerts(self, alerts: Sequence[AlertRecord], event: Event | None,
                            claim: AlertClaim | None) -> str | None:
        keys = [self.keys.lease(claim.lease_key) if claim else self.keys.all_alerts,
                self.keys.events(event.pipeline_id) if event else self.keys.all_alerts,
                self.keys.all_alerts]
        args: list[str | int] = ["1" if claim else "0", uuid.uuid4().hex, _ms(claim.ttl) if claim else 0,
                                 *self._event_args(event), len(alerts)]
        for record in alerts:
            keys += [self.keys.alert(record.id), self.keys.alerts_in(record.status.value),
                     self.keys.pending_alerts(record.sink)]
            args += [record.id, record.to_json(), record.status.value, self._record_ttl(record)]
        written = await self._record_alerts(keys, args)
        if written is None:
            return None
        cursor = written[1]
        return cursor.decode() if isinstance(cursor, bytes) else str(cursor)

    @translate_errors
    async def append_event(self, event: Event, alerts: Sequence[AlertRecord] = ()) -> str:
        if not alerts:
            return await self._append_event_alone(event)
        return await self._write_alerts(alerts, event, None) or ""

    @translate_errors
    async def record_alerts(self, alerts: Sequence[AlertRecord], *, event: Event | None = None,
                            claim: AlertClaim | None = None) -> bool:
        return await self._write_alerts(alerts, event, claim) is not None

    @translate_errors
    async def get_alert(self, alert_id: str) -> AlertRecord | None:
        return _decode(await self._redis.get(self.keys.alert(alert_id)))

    @translate_errors
    async def list_alerts(self, status: AlertStatus | None = None, *, limit: int = 50,
                          before: str | None = None) -> list[AlertRecord]:
        index = self.keys.all_alerts if status is None else self.keys.alerts_in(status.value)
        top = f"({before}" if before else "+"
        return await self._from_index(index, limit, lambda start, n: self._redis.zrevrangebylex(
            index, top, "-", start, n), status)

    @translate_errors
    async def pending_alerts(self, sink: str, limit: int = 100) -> list[AlertRecord]:
        index = self.keys.pending_alerts(sink)
        return await self._from_index(index, limit, lambda start, n: self._redis.zrangebylex(
            index, "-", "+", start, n), AlertStatus.PENDING)

    @translate_errors
    async def cas_alert(self, record: AlertRecord, expected_version: int, *, event: Event | None = None) -> bool:
        retention = self.config.retention_ttl.total_seconds()
        cutoff = (self.clock.now() - timedelta(seconds=retention)).timestamp() if retention > 0 else 0.0
        oldest = f"{max(0, int(cutoff * 1000)):013d}" if retention > 0 else ""
        keys = [self.keys.alert(record.id), self.keys.all_alerts,
                *(self.keys.alerts_in(s.value) for s in _FINAL_INDEXES),
                self.keys.pending_alerts(record.sink),
                self.keys.events(event.pipeline_id) if event else self.keys.all_alerts]
        args: list[str | int] = [expected_version, record.to_json(), record.status.value, self._record_ttl(record),
                                 record.id, oldest]
        event_args = self._event_args(event)
        args += [event_args[0], event_args[1], event_args[2], event_args[3], event_args[4]]
        return bool(await self._cas_alert(keys, args))

    async def _from_index(self, index: str, limit: int, page: Any, status: AlertStatus | None) -> list[AlertRecord]:
        """Records named by an index, in its order, skipping (and dropping) ids whose record expired."""
        out: list[AlertRecord] = []
        start = 0
        while len(out) < limit:
            size = max(limit - len(out), 20)
            ids = [i.decode() if isinstance(i, bytes) else str(i) for i in await page(start, size)]
            if not ids:
                break
            start += len(ids)
            raws = await self._redis.mget([self.keys.alert(i) for i in ids])
            gone = []
            for alert_id, raw in zip(ids, raws, strict=True):
                record = _decode(raw)
                if record is None:
                    gone.append(alert_id)
                elif status is None or record.status is status:
                    out.append(record)
            if gone:
                await self._redis.zrem(index, *gone)
                start -= len(gone)
            if len(ids) < size:
                break
        return out[:limit]
