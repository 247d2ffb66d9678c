"""Pipeline configurations in the SQLite store (:class:`~interlock_core.store_roles.PipelineStore`):
table ``pipelines``, never expired."""

from __future__ import annotations

from interlock_core.model import PipelineConfig

from .base import SQLiteStoreBase


class SQLitePipelines(SQLiteStoreBase):
    """Upsert, read, list and delete pipeline configurations by name."""

    async def put_pipeline(self, pipeline: PipelineConfig) -> None:
        data = pipeline.model_dump_json(by_alias=True, exclude_none=True)
        await self._write(
            lambda conn, now: conn.execute(
                "INSERT INTO pipelines (name, data) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET data = excluded.data",
                (pipeline.name, data),
            )
        )

    async def get_pipeline(self, pipeline_id: str) -> PipelineConfig | None:
        return await self._get(
            PipelineConfig, "SELECT data FROM pipelines WHERE name = ?", (pipeline_id,), live=False
        )

    async def list_pipelines(self) -> list[PipelineConfig]:
        return await self._list(PipelineConfig, "SELECT data FROM pipelines ORDER BY name", (), live=False)

    async def delete_pipeline(self, pipeline_id: str) -> bool:
        sql = "DELETE FROM pipelines WHERE name = ?"
        return await self._write(lambda conn, now: conn.execute(sql, (pipeline_id,)).rowcount > 0)
