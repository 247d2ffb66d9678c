"""Trait evaluations and the readiness cache: the :class:`~interlock_core.store_roles.TraitStore`
slice of the store conformance suite (see ``suite.py``)."""

from __future__ import annotations

from datetime import timedelta, timezone

from interlock_core.model import FailureCategory, ReadinessStatus
from interlock_core.store_roles import TraitStore

from .records import DAY, Advance, at, readiness, trait


class TraitStoreConformance:
    async def test_is_a_trait_store(self, store: TraitStore) -> None:
        assert isinstance(store, TraitStore)

    async def test_trait_put_get(self, store: TraitStore) -> None:
        await store.put_trait(trait("ct-trait-pg", "freshness"), 3600)
        got = await store.get_trait("ct-trait-pg", "freshness")
        assert got is not None and got.status == "PASS"
        assert len(await store.list_traits("ct-trait-pg")) == 1
        await store.put_trait(trait("ct-trait-pg", "completeness", "FAIL", reason="missing rows"), 3600)
        listed = await store.list_traits("ct-trait-pg")
        assert [(t.trait_type, t.status) for t in listed] == [("completeness", "FAIL"), ("freshness", "PASS")]
        assert listed[0].reason == "missing rows"
        await store.put_trait(trait("ct-other", "freshness"), 3600)
        assert len(await store.list_traits("ct-trait-pg")) == 2
        assert await store.get_trait("ct-trait-pg", "unknown") is None

    async def test_trait_upserts_by_pipeline_and_type(self, store: TraitStore) -> None:
        await store.put_trait(trait("ct-trait-up", "freshness", "PASS"), 3600)
        await store.put_trait(trait("ct-trait-up", "freshness", "FAIL", reason="stale"), 3600)
        listed = await store.list_traits("ct-trait-up")
        assert [(t.status, t.reason) for t in listed] == [("FAIL", "stale")]

    async def test_trait_round_trip(self, store: TraitStore) -> None:
        original = trait(
            "ct-trait-rt",
            "freshness",
            "FAIL",
            value={"lagMinutes": 42, "tables": ["a"], "ok": False, "nested": {"ratio": 0.25}},
            reason="too old",
            failure_category=FailureCategory.EVALUATOR_CRASH,
            evaluated_at=at().astimezone(timezone(timedelta(hours=2))),
            expires_at=at(3600),
            source="push",
            duration_ms=12.75,
        )
        await store.put_trait(original, 3600)
        got = await store.get_trait("ct-trait-rt", "freshness")
        assert got == original
        assert got is not None and got.evaluated_at.utcoffset() == timedelta(0)

    async def test_traits_and_readiness_expire(self, store: TraitStore, advance: Advance) -> None:
        await store.put_trait(trait("ct-ttl", "short"), 1)
        await store.put_trait(trait("ct-ttl", "forever"), None)
        await store.put_trait(trait("ct-ttl", "zero"), 0)
        await store.put_readiness(readiness("ct-ttl-short"), 1)
        await store.put_readiness(readiness("ct-ttl-forever"), None)
        assert await store.get_trait("ct-ttl", "short") is not None
        assert await store.get_readiness("ct-ttl-short") is not None
        await advance(1.5)
        assert await store.get_trait("ct-ttl", "short") is None
        assert [t.trait_type for t in await store.list_traits("ct-ttl")] == ["forever", "zero"]
        assert await store.get_readiness("ct-ttl-short") is None
        assert await store.get_readiness("ct-ttl-forever") is not None
        await store.put_trait(trait("ct-ttl", "short", "FAIL"), 3600)
        got = await store.get_trait("ct-ttl", "short")
        assert got is not None and got.status == "FAIL"

    async def test_trait_results_keep_their_cycle(self, store: TraitStore) -> None:
        evaluated = trait("ct-t", "volume", value={"rows": 12}, schedule_id="h14", date=DAY)
        pushed = trait("ct-t", "freshness", value={"lag": 3}, source="pushed")
        await store.put_trait(evaluated, None)
        await store.put_trait(pushed, None)
        assert await store.get_trait("ct-t", "volume") == evaluated
        assert await store.list_traits("ct-t") == [pushed, evaluated]

    async def test_readiness_put_get(self, store: TraitStore) -> None:
        assert await store.get_readiness("ct-ready") is None
        original = readiness(
            "ct-ready",
            traits=[trait("ct-ready", "freshness", value={"n": 1})],
            schedule_id="morning",
            date="2026-03-02",
        )
        await store.put_readiness(original, 300)
        got = await store.get_readiness("ct-ready")
        assert got == original
        assert got is not None and got.status is ReadinessStatus.READY and len(got.traits) == 1
        blocked = readiness("ct-ready", ReadinessStatus.NOT_READY, blocking=["freshness"])
        await store.put_readiness(blocked, 300)
        assert await store.get_readiness("ct-ready") == blocked
