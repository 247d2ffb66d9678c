"""Runs and run logs: the :class:`~interlock_core.store_roles.RunStore` slice of the store
conformance suite (see ``suite.py``), with what rerun budgets and the no-new-data breaker keep in
them (a run's inputs and drift baseline, an attempt's job failure) and read back through the
engine's own code."""

from __future__ import annotations

from datetime import timedelta, timezone

import anyio

from interlock_core.engine.budgets import code_retries
from interlock_core.model import DriftBaseline, FailureCategory, RetryAttempt, RetryPolicy, RunInputs, RunStatus
from interlock_core.store_roles import RunStore

from .records import CONCURRENCY, DAY, at, run, run_log

S = RunStatus


def _inputs() -> RunInputs:
    return RunInputs(fingerprint="0123456789abcdef", traits={"freshness": "aa11", "volume": "bb22"},
                     upstream_runs={"upstream-dependency": "raw-sales-1234"}, captured_at=at(1))


class RunStoreConformance:
    async def test_is_a_run_store(self, store: RunStore) -> None:
        assert isinstance(store, RunStore)

    async def test_run_put_get(self, store: RunStore) -> None:
        await store.put_run(run("ct-direct", pipeline_id="ct-pipe", status=RunStatus.RUNNING))
        got = await store.get_run("ct-direct")
        assert got is not None
        assert (got.run_id, got.pipeline_id, got.status) == ("ct-direct", "ct-pipe", RunStatus.RUNNING)
        assert await store.get_run("ct-nonexistent-run") is None

    async def test_run_round_trip(self, store: RunStore) -> None:
        original = run(
            "ct-run-rt",
            status=RunStatus.FAILED,
            version=7,
            schedule_id="morning",
            date="2026-03-01",
            attempt=3,
            run_key="ct-pipe:morning:2026-03-01:3",
            trigger_type="http",
            rerun_id="ct-rerun-1",
            failure_message="exit 2",
            failure_category=FailureCategory.PERMANENT,
            owner="replica-a",
            lease_expires_at=at(300),
            completed_at=at(60).astimezone(timezone(timedelta(hours=-5))),
            metadata={"jobId": "j-1", "attempts": [1, 2], "nested": {"ok": True, "none": None}},
        )
        await store.put_run(original)
        got = await store.get_run("ct-run-rt")
        assert got == original
        assert got is not None and got.completed_at is not None
        assert got.completed_at.utcoffset() == timedelta(0)

    async def test_runs_listed_newest_first_by_created_at(self, store: RunStore) -> None:
        for i in (2, 0, 4, 1, 3):
            await store.put_run(run(f"ct-list-{i}", "ct-list-pipe", RunStatus.COMPLETED, created=i))
        await store.put_run(run("ct-list-other", "ct-other-pipe", created=10))
        listed = await store.list_runs("ct-list-pipe", limit=3)
        assert [r.run_id for r in listed] == ["ct-list-4", "ct-list-3", "ct-list-2"]
        assert len(await store.list_runs("ct-list-pipe")) == 5

    async def test_run_listed_once_however_often_written(self, store: RunStore) -> None:
        await store.put_run(run("ct-once", "ct-once-pipe"))
        await store.put_run(run("ct-once", "ct-once-pipe", RunStatus.TRIGGERING))
        assert await store.cas_run(run("ct-once", "ct-once-pipe", RunStatus.RUNNING, version=2), 1)
        listed = await store.list_runs("ct-once-pipe")
        assert [(r.run_id, r.status) for r in listed] == [("ct-once", RunStatus.RUNNING)]

    async def test_create_run_inserts_only_if_absent(self, store: RunStore) -> None:
        assert await store.create_run(run("ct-create")) is True
        assert await store.create_run(run("ct-create", status=RunStatus.FAILED, version=9)) is False
        got = await store.get_run("ct-create")
        assert got is not None and (got.status, got.version) == (RunStatus.PENDING, 1)
        assert [r.run_id for r in await store.list_runs("ct-pipe")] == ["ct-create"]

    async def test_cas_run(self, store: RunStore) -> None:
        await store.put_run(run("ct-cas"))
        assert await store.cas_run(run("ct-cas", status=RunStatus.TRIGGERING, version=2), 1) is True
        assert await store.cas_run(run("ct-cas", status=RunStatus.RUNNING, version=3), 1) is False
        got = await store.get_run("ct-cas")
        assert got is not None and (got.status, got.version) == (RunStatus.TRIGGERING, 2)
        assert await store.cas_run(run("ct-cas-missing", version=2), 1) is False
        assert await store.get_run("ct-cas-missing") is None

    async def test_cas_run_race_has_one_winner(self, store: RunStore) -> None:
        await store.put_run(run("ct-race"))
        winners: list[int] = []

        async def attempt(i: int) -> None:
            new = run("ct-race", status=RunStatus.TRIGGERING, version=2, metadata={"winner": i})
            if await store.cas_run(new, 1):
                winners.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(CONCURRENCY):
                tg.start_soon(attempt, i)
        assert len(winners) == 1
        got = await store.get_run("ct-race")
        assert got is not None and got.version == 2 and got.metadata == {"winner": winners[0]}

    async def test_run_inputs_and_drift_baseline_round_trip(self, store: RunStore) -> None:
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

    async def test_run_log_crud(self, store: RunStore) -> None:
        await store.put_run_log(
            run_log("ct-runlog", "2026-02-21", status=RunStatus.COMPLETED, run_id="ct-rl-run-1")
        )
        got = await store.get_run_log("ct-runlog", "2026-02-21", "daily")
        assert got is not None and (got.run_id, got.schedule_id) == ("ct-rl-run-1", "daily")
        await store.put_run_log(run_log("ct-runlog", "2026-02-21", "morning", RunStatus.RUNNING))
        assert len(await store.list_run_logs("ct-runlog", 10)) == 2
        assert await store.get_run_log("ct-runlog", "2026-01-01", "daily") is None
        await store.put_run_log(run_log("ct-runlog", "2026-02-22", schedule_id=""))
        got = await store.get_run_log("ct-runlog", "2026-02-22", "daily")
        assert got is not None and got.schedule_id == "daily"
        assert await store.get_run_log("ct-runlog", "2026-02-22", "") == got

    async def test_run_log_schedule_defaults_to_daily(self, store: RunStore) -> None:
        entry = run_log("ct-rl-default", "2026-02-22")
        entry.schedule_id = ""
        assert await store.cas_run_log(entry, None) is True
        got = await store.get_run_log("ct-rl-default", "2026-02-22", "daily")
        assert got is not None and got.schedule_id == "daily"

    async def test_run_log_round_trip(self, store: RunStore) -> None:
        original = run_log(
            "ct-rl-rt",
            "2026-02-21",
            "h14",
            RunStatus.FAILED,
            version=4,
            attempt_number=2,
            run_id="ct-run-2",
            failure_message="boom",
            failure_category=FailureCategory.TIMEOUT,
            alert_sent=True,
            retry_history=[
                RetryAttempt(
                    attempt=1, status=RunStatus.FAILED, run_id="ct-run-1", started_at=at(), completed_at=at(5)
                ),
                RetryAttempt(
                    attempt=2,
                    status=RunStatus.FAILED,
                    run_id="ct-run-2",
                    failure_message="boom",
                    failure_category=FailureCategory.TIMEOUT,
                    started_at=at(60),
                ),
            ],
            completed_at=at(90),
            not_before=at(600).astimezone(timezone(timedelta(hours=9))),
        )
        await store.put_run_log(original)
        assert await store.get_run_log("ct-rl-rt", "2026-02-21", "h14") == original

    async def test_run_logs_listed_newest_first(self, store: RunStore) -> None:
        entries = [
            run_log("ct-rl-list", "2026-02-21", "daily", started=3),
            run_log("ct-rl-list", "2026-02-20", "daily", started=0),
            run_log("ct-rl-list", "2026-02-22", "daily", started=5),
            run_log("ct-rl-list", "2026-02-21", "morning", started=10),
        ]
        for entry in entries:
            await store.put_run_log(entry)
        listed = [(e.date, e.schedule_id) for e in await store.list_run_logs("ct-rl-list")]
        assert listed == [
            ("2026-02-22", "daily"),
            ("2026-02-21", "morning"),
            ("2026-02-21", "daily"),
            ("2026-02-20", "daily"),
        ]
        assert len(await store.list_run_logs("ct-rl-list", limit=2)) == 2

    async def test_cas_run_log(self, store: RunStore) -> None:
        first = run_log("ct-rl-cas", "2026-02-21", run_id="ct-first")
        assert await store.cas_run_log(first, None) is True
        assert await store.cas_run_log(run_log("ct-rl-cas", "2026-02-21", run_id="ct-second"), None) is False
        got = await store.get_run_log("ct-rl-cas", "2026-02-21", "daily")
        assert got is not None and got.run_id == "ct-first"
        done = run_log("ct-rl-cas", "2026-02-21", status=RunStatus.COMPLETED, version=2, run_id="ct-first")
        assert await store.cas_run_log(done, 1) is True
        stale = run_log("ct-rl-cas", "2026-02-21", status=RunStatus.FAILED, version=3)
        assert await store.cas_run_log(stale, 1) is False
        got = await store.get_run_log("ct-rl-cas", "2026-02-21", "daily")
        assert got is not None and (got.status, got.version) == (RunStatus.COMPLETED, 2)
        assert await store.cas_run_log(run_log("ct-rl-cas", "2026-02-22", version=2), 1) is False
        assert await store.get_run_log("ct-rl-cas", "2026-02-22", "daily") is None

    async def test_run_log_claim_race_has_one_winner(self, store: RunStore) -> None:
        winners: list[str] = []

        async def claim(i: int) -> None:
            if await store.cas_run_log(run_log("ct-rl-race", "2026-03-02", run_id=f"ct-claimer-{i}"), None):
                winners.append(f"ct-claimer-{i}")

        async with anyio.create_task_group() as tg:
            for i in range(CONCURRENCY):
                tg.start_soon(claim, i)
        assert len(winners) == 1
        got = await store.get_run_log("ct-rl-race", "2026-03-02", "daily")
        assert got is not None and got.run_id == winners[0]

    async def test_job_failures_are_kept_and_counted_for_max_code_retries(self, store: RunStore) -> None:
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
