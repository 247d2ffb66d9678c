"""Trait evaluations and the readiness cache of the Redis store
(:class:`~interlock_core.store_roles.TraitStore`): keys with native ``PEXPIRE``, and a set of each
pipeline's trait types."""

from __future__ import annotations

from interlock_core.model import ReadinessResult, TraitEvaluation

from .base import RedisStoreBase, _decode, _ms, _texts
from .client import translate_errors


class RedisTraits(RedisStoreBase):
    """Trait keys and the readiness cache."""

    @translate_errors
    async def put_trait(self, evaluation: TraitEvaluation, ttl: float | None) -> None:
        key = self.keys.trait(evaluation.pipeline_id, evaluation.trait_type)
        async with self._redis.pipeline(transaction=True) as tx:
            tx.set(key, evaluation.to_json(), px=_ms(ttl) or None)
            tx.sadd(self.keys.traits(evaluation.pipeline_id), evaluation.trait_type)
            await tx.execute()

    @translate_errors
    async def get_trait(self, pipeline_id: str, trait_type: str) -> TraitEvaluation | None:
        raw = await self._redis.get(self.keys.trait(pipeline_id, trait_type))
        return _decode(TraitEvaluation, raw, f"trait {pipeline_id}/{trait_type}")

    @translate_errors
    async def list_traits(self, pipeline_id: str) -> list[TraitEvaluation]:
        types = sorted(_texts(await self._redis.smembers(self.keys.traits(pipeline_id))))
        if not types:
            return []
        raws = await self._redis.mget([self.keys.trait(pipeline_id, t) for t in types])
        found = (
            _decode(TraitEvaluation, raw, f"trait {pipeline_id}/{t}")
            for t, raw in zip(types, raws, strict=True)
        )
        return [e for e in found if e is not None]

    @translate_errors
    async def put_readiness(self, result: ReadinessResult, ttl: float | None) -> None:
        key = self.keys.readiness(result.pipeline_id)
        await self._redis.set(key, result.to_json(), px=_ms(ttl) or None)

    @translate_errors
    async def get_readiness(self, pipeline_id: str) -> ReadinessResult | None:
        raw = await self._redis.get(self.keys.readiness(pipeline_id))
        return _decode(ReadinessResult, raw, f"readiness of {pipeline_id}")
