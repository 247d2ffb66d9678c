"""Trait evaluations and the readiness cache of the SQLite store
(:class:`~interlock_core.store_roles.TraitStore`): tables ``traits`` and ``readiness`` with expiry timestamps."""

from __future__ import annotations

from interlock_core.model import ReadinessResult, TraitEvaluation

from .base import SQLiteStoreBase, _expiry
from .schema import LIVE, READINESS, TRAITS


class SQLiteTraits(SQLiteStoreBase):
    """Trait rows and the readiness cache, written without a sync to disk (they are re-evaluated anyway)."""

    async def put_trait(self, evaluation: TraitEvaluation, ttl: float | None) -> None:
        row = (evaluation.pipeline_id, evaluation.trait_type, evaluation.to_json())
        await self._write(lambda conn, now: TRAITS.put(conn, row, _expiry(ttl, now)), durable=False)

    async def get_trait(self, pipeline_id: str, trait_type: str) -> TraitEvaluation | None:
        sql = f"SELECT data FROM traits WHERE pipeline_id = ? AND trait_type = ? AND {LIVE}"
        return await self._get(TraitEvaluation, sql, (pipeline_id, trait_type))

    async def list_traits(self, pipeline_id: str) -> list[TraitEvaluation]:
        sql = f"SELECT data FROM traits WHERE pipeline_id = ? AND {LIVE} ORDER BY trait_type"
        return await self._list(TraitEvaluation, sql, (pipeline_id,))

    async def put_readiness(self, result: ReadinessResult, ttl: float | None) -> None:
        row = (result.pipeline_id, result.to_json())
        await self._write(lambda conn, now: READINESS.put(conn, row, _expiry(ttl, now)), durable=False)

    async def get_readiness(self, pipeline_id: str) -> ReadinessResult | None:
        sql = f"SELECT data FROM readiness WHERE pipeline_id = ? AND {LIVE}"
        return await self._get(ReadinessResult, sql, (pipeline_id,))
