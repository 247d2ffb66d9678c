"""Conformance of what rerun budgets, the no-new-data breaker, late data and numeric drift keep in
the store: a run's inputs (fingerprint, trait digests, upstream runs) and drift baseline, a rerun's
source, an attempt's job failure, a trait result's cycle — and the counts the engine reads back
from them, computed by the engine's own code over each backend."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from interlock_core.engine.budgets import Budgets, code_retries
from interlock_core.engine.inputs import Inputs, completed_run_id
from interlock_core.model import (
    DriftBaseline,
    RerunSource,
    RetryAttempt,
    RetryPolicy,
    RunInputs,
    RunStatus,
)
from interlock_core.ports import Store

from .records import at, rerun, run, run_log, trait

S = RunStatus
DAY = "2026-02-20"


def _ctx(store: Store) -> Any:
    return SimpleNamespace(store=store)


def _inputs() -> RunInputs:
    return RunInputs(fingerprint="0123456789abcdef", traits={"freshness": "aa11", "volume": "bb22"},
                     upstream_runs={"upstream-dependency": "raw-sales-1234"}, captured_at=at(1))


class RerunLedgerConformance:
    async def test_run_inputs_and_drift_baseline_round_trip(self, store: Store) -> None:
        launched = run("ct-in-1", "ct-in", S.TRIGGERING, inputs=_inputs())
        assert await store.create_run(launched) is True
        assert await store.get_run("ct-in-1") == launched
        completed = launched.model_copy(update={
            "status": S.COMPLETED_MONITORING, "version": 2,
            "drift_baseline": DriftBaseline(trait_type="volume", field="$.rows", value=1000.5, captured_at=at(2))})
        assert await store.cas_run(completed, 1) is True  # recorded in the write that records the completion
        got = await store.get_run("ct-in-1")
        assert got == completed and got is not None and got.inputs == _inputs()
        missing = completed.model_copy(update={
            "run_id": "ct-in-2", "drift_baseline": DriftBaseline(trait_type="volume", field="$['row count']",
                                                                 value=None, captured_at=at(3))})
        await store.put_run(missing)
        assert await store.get_run("ct-in-2") == missing
        assert [r.inputs for r in await store.list_runs("ct-in")] == [_inputs(), _inputs()]

    async def test_rerun_sources_are_kept_and_counted_per_cycle_and_budget(self, store: Store) -> None:
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
        budgets = Budgets(_ctx(store), cast(Inputs, None))
        # a cancelled rerun never ran: not counted; another schedule or date is another cycle
        assert await budgets.used("ct-b", "daily", DAY, "maxManualReruns") == 2
        assert await budgets.used("ct-b", "daily", DAY, "maxDriftReruns") == 2
        assert await budgets.used("ct-b", "h14", DAY, "maxDriftReruns") == 1
        assert await budgets.used("ct-b", "daily", "2026-02-21", "maxDriftReruns") == 1
        assert await budgets.used("ct-b", "daily", "2026-02-22", "maxManualReruns") == 0

    async def test_a_record_written_before_sources_reads_as_manual(self, store: Store) -> None:
        old = rerun("ct-old-rr", "ct-old")
        data = old.model_dump(mode="json", by_alias=True, exclude_none=True)
        data.pop("source")
        await store.put_rerun(type(old).model_validate(data))
        got = await store.get_rerun("ct-old-rr")
        assert got is not None and got.source is RerunSource.MANUAL and got.forced is None

    async def test_job_failures_are_kept_and_counted_for_max_code_retries(self, store: Store) -> None:
        history = [
            RetryAttempt(attempt=1, status=S.FAILED, run_id="ct-c-1", started_at=at(), job_failure=False),
            RetryAttempt(attempt=2, status=S.FAILED, run_id="ct-c-2", started_at=at(1), job_failure=True),
            RetryAttempt(attempt=3, status=S.FAILED, run_id="ct-c-3", started_at=at(2), job_failure=True),
        ]
        entry = run_log("ct-c", DAY, status=S.FAILED, attempt_number=3, run_id="ct-c-3", retry_history=history)
        assert await store.cas_run_log(entry, None) is True
        got = await store.get_run_log("ct-c", DAY, "daily")
        assert got == entry
        assert code_retries(RetryPolicy(max_attempts=5, max_code_retries=2), got) == (True, 2, 2)
        assert code_retries(RetryPolicy(max_attempts=5, max_code_retries=1), got) == (False, 2, 1)
        assert code_retries(RetryPolicy(max_attempts=5), got) is None

    async def test_trait_results_keep_their_cycle(self, store: Store) -> None:
        evaluated = trait("ct-t", "volume", value={"rows": 12}, schedule_id="h14", date=DAY)
        pushed = trait("ct-t", "freshness", value={"lag": 3}, source="pushed")
        await store.put_trait(evaluated, None)
        await store.put_trait(pushed, None)
        assert await store.get_trait("ct-t", "volume") == evaluated
        assert await store.list_traits("ct-t") == [pushed, evaluated]

    async def test_the_runs_a_cycle_consumed_are_read_back(self, store: Store) -> None:
        """What the breaker and late data look up: the cycle's newest run, and the run of an
        upstream that last completed the cycle (its scheduled run, or a later completed rerun)."""
        await store.put_run_log(run_log("ct-up", DAY, status=S.COMPLETED, run_id="ct-up-1", completed_at=at(10)))
        assert await completed_run_id(store, "ct-up", "daily", DAY) == "ct-up-1"
        await store.put_rerun(rerun("ct-up-rr1", "ct-up", S.COMPLETED, requested=20, original_date=DAY,
                                    rerun_run_id="ct-up-2", completed_at=at(30)))
        await store.put_rerun(rerun("ct-up-rr2", "ct-up", S.RUNNING, requested=40, original_date=DAY,
                                    rerun_run_id="ct-up-3"))
        assert await completed_run_id(store, "ct-up", "daily", DAY) == "ct-up-2"
        assert await completed_run_id(store, "ct-up", "h14", DAY) is None
        for run_id, created in (("ct-up-1", 0), ("ct-up-2", 20), ("ct-up-3", 40)):
            await store.put_run(run(run_id, "ct-up", S.COMPLETED, created=created))
        inputs = Inputs(_ctx(store))
        latest = await inputs.latest_run("ct-up", "daily", DAY)
        assert latest is not None and latest.run_id == "ct-up-3"
        assert await inputs.latest_run("ct-up", "daily", "2026-02-01") is None
