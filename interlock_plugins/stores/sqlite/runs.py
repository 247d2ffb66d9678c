"""Runs and run logs in the SQLite store (:class:`~interlock_core.store_roles.RunStore`): tables
``runs`` and ``run_logs``, written by compare-and-set in ``BEGIN IMMEDIATE`` transactions."""

from __future__ import annotations

from typing import Any

from interlock_core.model import DEFAULT_SCHEDULE_ID, RunLogEntry, RunState

from .base import SQLiteStoreBase, _limit
from .schema import LIVE, RUN_LOGS, RUNS


class SQLiteRuns(SQLiteStoreBase):
    """Runs by run id, run logs by (pipeline, date, schedule)."""

    async def create_run(self, run: RunState) -> bool:
        return await self._claim(RUNS, _run_row(run), run.status, None)

    async def put_run(self, run: RunState) -> None:
        await self._put(RUNS, _run_row(run), run.status)

    async def get_run(self, run_id: str) -> RunState | None:
        return await self._get(RunState, f"SELECT data FROM runs WHERE run_id = ? AND {LIVE}", (run_id,))

    async def list_runs(self, pipeline_id: str, limit: int = 20) -> list[RunState]:
        sql = f"SELECT data FROM runs WHERE pipeline_id = ? AND {LIVE} ORDER BY created_at DESC, rowid DESC"
        return await self._list(RunState, sql, (pipeline_id,), limit=_limit(limit, 20))

    async def cas_run(self, run: RunState, expected_version: int) -> bool:
        return await self._claim(RUNS, _run_row(run), run.status, expected_version)

    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None:
        sql = f"SELECT data FROM run_logs WHERE pipeline_id = ? AND date = ? AND schedule_id = ? AND {LIVE}"
        return await self._get(RunLogEntry, sql, (pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID))

    async def cas_run_log(self, entry: RunLogEntry, expected_version: int | None) -> bool:
        return await self._claim(RUN_LOGS, _run_log_row(entry), entry.status, expected_version)

    async def put_run_log(self, entry: RunLogEntry) -> None:
        await self._put(RUN_LOGS, _run_log_row(entry), entry.status)

    async def list_run_logs(self, pipeline_id: str, limit: int = 20) -> list[RunLogEntry]:
        sql = (
            f"SELECT data FROM run_logs WHERE pipeline_id = ? AND {LIVE}"
            " ORDER BY date DESC, started_at DESC, rowid DESC"
        )
        return await self._list(RunLogEntry, sql, (pipeline_id,), limit=_limit(limit, 20))


def _run_row(run: RunState) -> tuple[Any, ...]:
    return (run.run_id, run.pipeline_id, run.version, run.created_at.timestamp(), run.to_json())


def _run_log_row(entry: RunLogEntry) -> tuple[Any, ...]:
    """An empty schedule is stored (and read back) as ``daily``."""
    if not entry.schedule_id:
        entry = entry.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})
    key = (entry.pipeline_id, entry.date, entry.schedule_id)
    return (*key, entry.version, entry.started_at.timestamp(), entry.to_json())
