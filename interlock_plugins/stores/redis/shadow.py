"""Dry-run shadow records in the Redis store (:class:`~interlock_core.store_roles.ShadowStore`): one key
per cycle and an index scored by the day."""

from __future__ import annotations

from datetime import date as Date

from interlock_core.model import DEFAULT_SCHEDULE_ID, ShadowCycle

from .base import RedisStoreBase, ScriptArgs, _decode, _texts
from .client import translate_errors
from .keys import cycle_member, split_cycle_member

SHADOW_INDEX_FACTOR = 10
"""A pipeline's shadow-record index keeps this many times ``runIndexLimit`` cycles (they expire with
the retention long before that for a daily schedule)."""


class RedisShadowCycles(RedisStoreBase):
    """A dry-run pipeline's shadow record of each cycle, written by compare-and-set."""

    @translate_errors
    async def get_shadow_cycle(self, pipeline_id: str, date: str, schedule_id: str) -> ShadowCycle | None:
        key = self.keys.shadow(pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID)
        return _decode(ShadowCycle, await self._redis.get(key), f"shadow record {pipeline_id}/{date}")

    @translate_errors
    async def cas_shadow_cycle(self, record: ShadowCycle, expected_version: int | None) -> bool:
        if not record.schedule_id:
            record = record.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})
        mode, expected = ("create", 0) if expected_version is None else ("cas", expected_version)
        keys = [self.keys.shadow(record.pipeline_id, record.date, record.schedule_id),
                self.keys.shadows(record.pipeline_id)]
        args: ScriptArgs = [
            mode, expected, record.to_json(), self._retention_ms, Date.fromisoformat(record.date[:10]).toordinal(),
            cycle_member(record.date, record.schedule_id), self.config.run_index_limit * SHADOW_INDEX_FACTOR,
            self._index_ttl_ms,
        ]
        return bool(await self._write_record(keys, args))

    @translate_errors
    async def list_shadow_cycles(self, pipeline_id: str, since: str, until: str) -> list[ShadowCycle]:
        low, high = Date.fromisoformat(since[:10]).toordinal(), Date.fromisoformat(until[:10]).toordinal()
        members = _texts(await self._redis.zrangebyscore(self.keys.shadows(pipeline_id), low, high))
        if not members:
            return []
        keys = [self.keys.shadow(pipeline_id, *split_cycle_member(m)) for m in members]
        raws = await self._redis.mget(keys)
        found = [_decode(ShadowCycle, raw, f"shadow record {pipeline_id}/{m}")
                 for m, raw in zip(members, raws, strict=True)]
        return sorted((r for r in found if r is not None), key=lambda r: (r.date, r.schedule_id))
