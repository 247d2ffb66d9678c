"""Rerun records: the :class:`~interlock_core.store_roles.RerunStore` slice of the store conformance
suite (see ``suite.py``), with a rerun's source and the per-cycle budget counts the engine reads
back from them, computed by the engine's own code over each backend."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import cast

from interlock_core.engine.budgets import Budgets
from interlock_core.engine.inputs import Inputs
from interlock_core.model import RerunSource, RunStatus
from interlock_core.store_roles import RerunStore

from .records import DAY, at, engine_ctx, rerun

S = RunStatus


class RerunStoreConformance:
    async def test_is_a_rerun_store(self, store: RerunStore) -> None:
        assert isinstance(store, RerunStore)

    async def test_rerun_crud(self, store: RerunStore) -> None:
        await store.put_rerun(rerun("ct-rerun-1", original_run_id="ct-run-0"))
        got = await store.get_rerun("ct-rerun-1")
        assert got is not None
        assert (got.rerun_id, got.pipeline_id, got.reason) == ("ct-rerun-1", "ct-rerun-pipe", "late data")
        await store.put_rerun(rerun("ct-rerun-2", status=RunStatus.COMPLETED, requested=1))
        assert [r.rerun_id for r in await store.list_reruns("ct-rerun-pipe", 10)] == [
            "ct-rerun-2",
            "ct-rerun-1",
        ]
        await store.put_rerun(rerun("ct-rerun-3", "ct-rerun-pipe2", requested=0.5))
        everything = await store.list_reruns(None, 50)
        assert [r.rerun_id for r in everything] == ["ct-rerun-2", "ct-rerun-3", "ct-rerun-1"]
        assert await store.get_rerun("ct-rerun-unknown") is None

    async def test_reruns_listed_newest_first_by_requested_at(self, store: RerunStore) -> None:
        for rerun_id, requested in (("ct-r2", 2), ("ct-r3", 3), ("ct-r1", 1)):
            await store.put_rerun(rerun(rerun_id, "ct-rr-pipe", requested=requested))
        await store.put_rerun(rerun("ct-r-other", "ct-rr-other", requested=2.5))
        assert [r.rerun_id for r in await store.list_reruns("ct-rr-pipe")] == ["ct-r3", "ct-r2", "ct-r1"]
        assert [r.rerun_id for r in await store.list_reruns(None)] == [
            "ct-r3",
            "ct-r-other",
            "ct-r2",
            "ct-r1",
        ]
        assert [r.rerun_id for r in await store.list_reruns(None, limit=2)] == ["ct-r3", "ct-r-other"]
        await store.put_rerun(rerun("ct-r1", "ct-rr-pipe", RunStatus.COMPLETED, requested=1))
        assert len(await store.list_reruns("ct-rr-pipe")) == 3

    async def test_rerun_round_trip(self, store: RerunStore) -> None:
        original = rerun(
            "ct-rerun-rt",
            status=RunStatus.COMPLETED,
            version=3,
            original_date="2026-02-19",
            schedule_id="h14",
            original_run_id="ct-run-a",
            reason="data correction",
            description="reload after fix",
            rerun_run_id="ct-run-b",
            requested_at=at().astimezone(timezone(timedelta(hours=5, minutes=30))),
            completed_at=at(120),
            metadata={"requestedBy": "user@example.com", "drift": {"traits": ["freshness"]}},
        )
        await store.put_rerun(original)
        assert await store.get_rerun("ct-rerun-rt") == original

    async def test_cas_rerun(self, store: RerunStore) -> None:
        assert await store.cas_rerun(rerun("ct-rerun-cas", reason="first"), None) is True
        assert await store.cas_rerun(rerun("ct-rerun-cas", reason="second"), None) is False
        running = rerun("ct-rerun-cas", status=RunStatus.RUNNING, version=2, reason="first")
        assert await store.cas_rerun(running, 1) is True
        assert await store.cas_rerun(rerun("ct-rerun-cas", status=RunStatus.FAILED, version=3), 1) is False
        got = await store.get_rerun("ct-rerun-cas")
        assert got is not None and (got.status, got.version, got.reason) == (RunStatus.RUNNING, 2, "first")
        assert await store.cas_rerun(rerun("ct-rerun-none", version=2), 1) is False
        assert await store.get_rerun("ct-rerun-none") is None

    async def test_rerun_sources_are_kept_and_counted_per_cycle_and_budget(self, store: RerunStore) -> None:
        records = [
            rerun("ct-b-1", "ct-b", S.COMPLETED, requested=1, original_date=DAY, source=RerunSource.MANUAL),
            rerun("ct-b-2", "ct-b", S.FAILED, requested=2, original_date=DAY, source=RerunSource.MANUAL, forced=True),
            rerun("ct-b-3", "ct-b", S.CANCELLED, requested=3, original_date=DAY, source=RerunSource.MANUAL),
            rerun("ct-b-4", "ct-b", S.PENDING, requested=4, original_date=DAY, source=RerunSource.DRIFT),
            rerun("ct-b-5", "ct-b", S.COMPLETED, requested=5, original_date=DAY, source=RerunSource.LATE_DATA),
            rerun("ct-b-6", "ct-b", S.COMPLETED, requested=6, original_date=DAY, source=RerunSource.CASCADE,
                  schedule_id="h14"),
            rerun("ct-b-7", "ct-b", S.COMPLETED, requested=7, original_date="2026-02-21", source=RerunSource.DRIFT),
        ]
        for record in records:
            assert await store.cas_rerun(record, None) is True
        for record in records:
            assert await store.get_rerun(record.rerun_id) == record
        stored = {r.rerun_id: r for r in await store.list_reruns("ct-b", 50)}
        assert stored["ct-b-2"].forced is True and stored["ct-b-1"].forced is None
        assert stored["ct-b-6"].source is RerunSource.CASCADE
        budgets = Budgets(engine_ctx(store), cast(Inputs, None))
        # a cancelled rerun never ran: not counted; another schedule or date is another cycle
        assert await budgets.used("ct-b", "daily", DAY, "maxManualReruns") == 2
        assert await budgets.used("ct-b", "daily", DAY, "maxDriftReruns") == 2
        assert await budgets.used("ct-b", "h14", DAY, "maxDriftReruns") == 1
        assert await budgets.used("ct-b", "daily", "2026-02-21", "maxDriftReruns") == 1
        assert await budgets.used("ct-b", "daily", "2026-02-22", "maxManualReruns") == 0

    async def test_a_record_written_before_sources_reads_as_manual(self, store: RerunStore) -> None:
        old = rerun("ct-old-rr", "ct-old")
        data = old.model_dump(mode="json", by_alias=True, exclude_none=True)
        data.pop("source")
        await store.put_rerun(type(old).model_validate(data))
        got = await store.get_rerun("ct-old-rr")
        assert got is not None and got.source is RerunSource.MANUAL and got.forced is None
