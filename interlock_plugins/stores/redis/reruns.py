"""Rerun records in the Redis store (:class:`~interlock_core.store_roles.RerunStore`): one key per
record, a per-pipeline index and one across pipelines."""

from __future__ import annotations

from interlock_core.model import RerunRecord

from .base import RedisStoreBase, ScriptArgs, _decode, _score
from .client import translate_errors

ALL_RERUNS_FACTOR = 5
"""The cross-pipeline rerun index keeps this many times ``runIndexLimit`` entries."""


class RedisReruns(RedisStoreBase):
    """Rerun records by rerun id, written by compare-and-set."""

    @translate_errors
    async def cas_rerun(self, record: RerunRecord, expected_version: int | None) -> bool:
        mode, expected = ("create", 0) if expected_version is None else ("cas", expected_version)
        return await self._write_rerun(record, mode, expected)

    @translate_errors
    async def put_rerun(self, record: RerunRecord) -> None:
        await self._write_rerun(record, "put", 0)

    async def _write_rerun(self, record: RerunRecord, mode: str, expected: int) -> bool:
        args: ScriptArgs = [mode, expected, record.to_json(), self._record_ttl_ms(record.status)]
        if not await self._write_record([self.keys.rerun(record.rerun_id)], args):
            return False
        score = _score(record.requested_at)
        await self._index(self.keys.reruns(record.pipeline_id), record.rerun_id, score)
        await self._index(self.keys.all_reruns, record.rerun_id, score, ALL_RERUNS_FACTOR)
        return True

    @translate_errors
    async def get_rerun(self, rerun_id: str) -> RerunRecord | None:
        return _decode(RerunRecord, await self._redis.get(self.keys.rerun(rerun_id)), f"rerun {rerun_id!r}")

    @translate_errors
    async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]:
        index = self.keys.all_reruns if pipeline_id is None else self.keys.reruns(pipeline_id)
        return await self._list_indexed(index, self.keys.rerun, RerunRecord, limit)
