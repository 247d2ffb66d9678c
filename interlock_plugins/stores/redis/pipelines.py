"""Pipeline configurations in the Redis store (:class:`~interlock_core.store_roles.PipelineStore`):
one hash, never expired."""

from __future__ import annotations

from interlock_core.model import PipelineConfig

from .base import RedisStoreBase, _decode, _text
from .client import translate_errors


class RedisPipelines(RedisStoreBase):
    """Upsert, read, list and delete pipeline configurations by name."""

    @translate_errors
    async def put_pipeline(self, pipeline: PipelineConfig) -> None:
        await self._redis.hset(self.keys.pipelines, pipeline.name, pipeline.model_dump_json(by_alias=True))

    @translate_errors
    async def get_pipeline(self, pipeline_id: str) -> PipelineConfig | None:
        raw = await self._redis.hget(self.keys.pipelines, pipeline_id)
        return _decode(PipelineConfig, raw, f"pipeline {pipeline_id!r}")

    @translate_errors
    async def list_pipelines(self) -> list[PipelineConfig]:
        entries = await self._redis.hgetall(self.keys.pipelines)
        ordered = sorted((_text(name), raw) for name, raw in entries.items())
        found = (_decode(PipelineConfig, raw, f"pipeline {name!r}") for name, raw in ordered)
        return [p for p in found if p is not None]

    @translate_errors
    async def delete_pipeline(self, pipeline_id: str) -> bool:
        return bool(await self._redis.hdel(self.keys.pipelines, pipeline_id))
