"""Shadow records, the :class:`~interlock_core.store_roles.ShadowStore` slice of the store
conformance suite (see ``suite.py``): a dry-run pipeline's record of each cycle, written by CAS and
listed by date range."""

from __future__ import annotations

import anyio

from interlock_core.model import FailureCategory, SchedulerRun, ShadowCycle
from interlock_core.store_roles import ShadowStore

from .records import CONCURRENCY, at


def shadow(pipeline_id: str, date: str, schedule_id: str = "daily", version: int = 1, **fields: object) -> ShadowCycle:
    fields.setdefault("updated_at", at())
    return ShadowCycle.model_validate({"pipeline_id": pipeline_id, "date": date, "schedule_id": schedule_id,
                                       "version": version, **fields})


class ShadowStoreConformance:
    async def test_is_a_shadow_store(self, store: ShadowStore) -> None:
        assert isinstance(store, ShadowStore)

    async def test_shadow_cycle_round_trip_and_cas(self, store: ShadowStore) -> None:
        original = shadow(
            "ct-shadow", "2026-03-02", "h07", first_evaluated_at=at(), would_trigger_at=at(60),
            blocking=["freshness"], inputs={"volume": "0123456789abcdef"}, would_retries=1, would_reruns=2,
            late_data_at=at(7200),
            scheduler_runs=[
                SchedulerRun(run_id="scheduled__1", state="failed", started_at=at(30), finished_at=at(90),
                             failure_category=FailureCategory.TRANSIENT, message="task x failed", source="lookup",
                             seen_at=at(95)),
                SchedulerRun(run_id="scheduled__2", state="succeeded", started_at=at(200), finished_at=at(500),
                             source="pushed", seen_at=at(501)),
            ])
        assert await store.get_shadow_cycle("ct-shadow", "2026-03-02", "h07") is None
        assert await store.cas_shadow_cycle(original, None) is True
        assert await store.cas_shadow_cycle(original, None) is False  # only one creation
        assert await store.get_shadow_cycle("ct-shadow", "2026-03-02", "h07") == original
        newer = original.model_copy(update={"version": 2, "would_reruns": 3})
        assert await store.cas_shadow_cycle(newer, 5) is False
        assert await store.cas_shadow_cycle(newer, 1) is True
        assert await store.get_shadow_cycle("ct-shadow", "2026-03-02", "h07") == newer
        assert await store.get_shadow_cycle("ct-shadow", "2026-03-02", "daily") is None

    async def test_shadow_cycle_schedule_defaults_to_daily(self, store: ShadowStore) -> None:
        assert await store.cas_shadow_cycle(shadow("ct-shadow-default", "2026-03-02", ""), None) is True
        got = await store.get_shadow_cycle("ct-shadow-default", "2026-03-02", "daily")
        assert got is not None and got.schedule_id == "daily"
        assert await store.get_shadow_cycle("ct-shadow-default", "2026-03-02", "") == got

    async def test_shadow_cycles_are_listed_by_date_range(self, store: ShadowStore) -> None:
        for date, schedule in [("2026-03-03", "daily"), ("2026-02-28", "daily"), ("2026-03-01", "h07"),
                               ("2026-03-01", "daily"), ("2026-03-05", "daily")]:
            assert await store.cas_shadow_cycle(shadow("ct-shadow-list", date, schedule), None)
        assert await store.cas_shadow_cycle(shadow("ct-shadow-other", "2026-03-02"), None)
        listed = await store.list_shadow_cycles("ct-shadow-list", "2026-03-01", "2026-03-03")
        assert [(r.date, r.schedule_id) for r in listed] == [
            ("2026-03-01", "daily"), ("2026-03-01", "h07"), ("2026-03-03", "daily")]
        assert [r.date for r in await store.list_shadow_cycles("ct-shadow-list", "2026-03-05", "2026-03-05")] == [
            "2026-03-05"]
        assert await store.list_shadow_cycles("ct-shadow-list", "2026-04-01", "2026-04-30") == []
        assert await store.list_shadow_cycles("ct-shadow-none", "2026-01-01", "2026-12-31") == []

    async def test_one_concurrent_creation_of_a_shadow_cycle_wins(self, store: ShadowStore) -> None:
        winners: list[int] = []

        async def create(i: int) -> None:
            if await store.cas_shadow_cycle(shadow("ct-shadow-race", "2026-03-02", would_retries=i), None):
                winners.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(CONCURRENCY):
                tg.start_soon(create, i)
        assert len(winners) == 1
        got = await store.get_shadow_cycle("ct-shadow-race", "2026-03-02", "daily")
        assert got is not None and got.would_retries == winners[0]
