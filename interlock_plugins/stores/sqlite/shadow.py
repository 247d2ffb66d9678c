"""Dry-run shadow records in the SQLite store (:class:`~interlock_core.store_roles.ShadowStore`):
table ``shadow_cycles``."""

from __future__ import annotations

import sqlite3

from interlock_core.model import DEFAULT_SCHEDULE_ID, ShadowCycle

from .base import SQLiteStoreBase
from .schema import LIVE, SHADOW_CYCLES


class SQLiteShadowCycles(SQLiteStoreBase):
    """A dry-run pipeline's shadow record of each cycle, written by compare-and-set."""

    async def get_shadow_cycle(self, pipeline_id: str, date: str, schedule_id: str) -> ShadowCycle | None:
        sql = f"SELECT data FROM shadow_cycles WHERE pipeline_id = ? AND date = ? AND schedule_id = ? AND {LIVE}"
        return await self._get(ShadowCycle, sql, (pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID))

    async def cas_shadow_cycle(self, record: ShadowCycle, expected_version: int | None) -> bool:
        schedule_id = record.schedule_id or DEFAULT_SCHEDULE_ID
        data = record.model_copy(update={"schedule_id": schedule_id}).to_json()
        row = (record.pipeline_id, record.date, schedule_id, record.version, data)

        def claim(conn: sqlite3.Connection, now: float) -> bool:
            expires = self._retained(None, now)
            if expected_version is None:
                return SHADOW_CYCLES.insert_if_absent(conn, row, expires, now)
            return SHADOW_CYCLES.swap(conn, row, expires, expected_version, now)

        return await self._write(claim)

    async def list_shadow_cycles(self, pipeline_id: str, since: str, until: str) -> list[ShadowCycle]:
        sql = (
            "SELECT data FROM shadow_cycles WHERE pipeline_id = ? AND date >= ? AND date <= ?"
            f" AND {LIVE} ORDER BY date, schedule_id"
        )
        return await self._list(ShadowCycle, sql, (pipeline_id, since, until))
