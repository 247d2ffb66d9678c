"""Runs and run logs in the Redis store (:class:`~interlock_core.store_roles.RunStore`): one key per
record written by the ``WRITE_RECORD`` script (create, put or compare-and-set), listed through
time-scored indexes."""

from __future__ import annotations

from interlock_core.model import DEFAULT_SCHEDULE_ID, RunLogEntry, RunState

from .base import RedisStoreBase, ScriptArgs, _decode, _score, _texts
from .client import translate_errors
from .keys import cycle_member, split_cycle_member


class RedisRuns(RedisStoreBase):
    """Runs by run id, run logs by (pipeline, date, schedule)."""

    @translate_errors
    async def create_run(self, run: RunState) -> bool:
        args: ScriptArgs = ["create", 0, run.to_json(), self._record_ttl_ms(run.status)]
        created = await self._write_record([self.keys.run(run.run_id)], args)
        if created:
            await self._index(self.keys.runs(run.pipeline_id), run.run_id, _score(run.created_at))
        return bool(created)

    @translate_errors
    async def put_run(self, run: RunState) -> None:
        args: ScriptArgs = ["put", 0, run.to_json(), self._record_ttl_ms(run.status)]
        await self._write_record([self.keys.run(run.run_id)], args)
        await self._index(self.keys.runs(run.pipeline_id), run.run_id, _score(run.created_at))

    @translate_errors
    async def get_run(self, run_id: str) -> RunState | None:
        return _decode(RunState, await self._redis.get(self.keys.run(run_id)), f"run {run_id!r}")

    @translate_errors
    async def list_runs(self, pipeline_id: str, limit: int = 20) -> list[RunState]:
        return await self._list_indexed(self.keys.runs(pipeline_id), self.keys.run, RunState, limit)

    @translate_errors
    async def cas_run(self, run: RunState, expected_version: int) -> bool:
        args: ScriptArgs = ["cas", expected_version, run.to_json(), self._record_ttl_ms(run.status)]
        return bool(await self._write_record([self.keys.run(run.run_id)], args))

    @translate_errors
    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None:
        key = self.keys.run_log(pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID)
        return _decode(RunLogEntry, await self._redis.get(key), f"run log {pipeline_id}/{date}")

    @translate_errors
    async def cas_run_log(self, entry: RunLogEntry, expected_version: int | None) -> bool:
        if expected_version is None:
            return await self._write_run_log(entry, "create", 0)
        return await self._write_run_log(entry, "cas", expected_version)

    @translate_errors
    async def put_run_log(self, entry: RunLogEntry) -> None:
        await self._write_run_log(entry, "put", 0)

    async def _write_run_log(self, entry: RunLogEntry, mode: str, expected: int) -> bool:
        if not entry.schedule_id:
            entry = entry.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})
        keys = [self.keys.run_log(entry.pipeline_id, entry.date, entry.schedule_id),
                self.keys.run_logs(entry.pipeline_id)]
        args: ScriptArgs = [
            mode, expected, entry.to_json(), self._record_ttl_ms(entry.status),
            _score(entry.started_at), cycle_member(entry.date, entry.schedule_id),
            self.config.run_index_limit, self._index_ttl_ms,
        ]
        return bool(await self._write_record(keys, args))

    @translate_errors
    async def list_run_logs(self, pipeline_id: str, limit: int = 20) -> list[RunLogEntry]:
        if limit <= 0:
            return []
        members = _texts(await self._redis.zrange(self.keys.run_logs(pipeline_id), 0, -1))
        if not members:
            return []
        keys = [self.keys.run_log(pipeline_id, *split_cycle_member(m)) for m in members]
        raws = await self._redis.mget(keys)
        found = [
            _decode(RunLogEntry, raw, f"run log {pipeline_id}/{m}")
            for m, raw in zip(members, raws, strict=True)
        ]
        entries = [e for e in found if e is not None]
        entries.sort(key=lambda e: (e.date, e.started_at), reverse=True)
        return entries[:limit]
