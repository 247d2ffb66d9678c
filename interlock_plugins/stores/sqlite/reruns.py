"""Rerun records in the SQLite store (:class:`~interlock_core.store_roles.RerunStore`): table ``reruns``."""

from __future__ import annotations

from typing import Any

from interlock_core.model import RerunRecord

from .base import SQLiteStoreBase, _limit
from .schema import LIVE, RERUNS


class SQLiteReruns(SQLiteStoreBase):
    """Rerun records by rerun id, written by compare-and-set."""

    async def cas_rerun(self, record: RerunRecord, expected_version: int | None) -> bool:
        return await self._claim(RERUNS, _rerun_row(record), record.status, expected_version)

    async def put_rerun(self, record: RerunRecord) -> None:
        await self._put(RERUNS, _rerun_row(record), record.status)

    async def get_rerun(self, rerun_id: str) -> RerunRecord | None:
        return await self._get(
            RerunRecord, f"SELECT data FROM reruns WHERE rerun_id = ? AND {LIVE}", (rerun_id,)
        )

    async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]:
        where, params = ("pipeline_id = ? AND ", (pipeline_id,)) if pipeline_id is not None else ("", ())
        sql = f"SELECT data FROM reruns WHERE {where}{LIVE} ORDER BY requested_at DESC, rowid DESC"
        return await self._list(RerunRecord, sql, params, limit=_limit(limit, 20))


def _rerun_row(record: RerunRecord) -> tuple[Any, ...]:
    return (
        record.rerun_id,
        record.pipeline_id,
        record.version,
        record.requested_at.timestamp(),
        record.to_json(),
    )
