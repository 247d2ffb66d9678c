"""The run-log, rerun and cascade-marker part of the store conformance suite (see ``suite.py``)."""

from __future__ import annotations

from datetime import timedelta, timezone

import anyio

from interlock_core.model import FailureCategory, RetryAttempt, RunStatus
from interlock_core.ports import Store

from .records import at, marker, rerun, run, run_log

CONCURRENCY = 50


class LedgerConformance:
    # run logs --------------------------------------------------------------------------------
    async def test_run_log_crud(self, store: Store) -> None:
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

    async def test_run_log_schedule_defaults_to_daily(self, store: Store) -> None:
        entry = run_log("ct-rl-default", "2026-02-22")
        entry.schedule_id = ""
        assert await store.cas_run_log(entry, None) is True
        got = await store.get_run_log("ct-rl-default", "2026-02-22", "daily")
        assert got is not None and got.schedule_id == "daily"

    async def test_run_log_round_trip(self, store: Store) -> None:
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

    async def test_run_logs_listed_newest_first(self, store: Store) -> None:
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

    async def test_cas_run_log(self, store: Store) -> None:
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

    async def test_run_log_claim_race_has_one_winner(self, store: Store) -> None:
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

    # reruns ----------------------------------------------------------------------------------
    async def test_rerun_crud(self, store: Store) -> None:
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

    async def test_reruns_listed_newest_first_by_requested_at(self, store: Store) -> None:
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

    async def test_rerun_round_trip(self, store: Store) -> None:
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

    async def test_cas_rerun(self, store: Store) -> None:
        assert await store.cas_rerun(rerun("ct-rerun-cas", reason="first"), None) is True
        assert await store.cas_rerun(rerun("ct-rerun-cas", reason="second"), None) is False
        running = rerun("ct-rerun-cas", status=RunStatus.RUNNING, version=2, reason="first")
        assert await store.cas_rerun(running, 1) is True
        assert await store.cas_rerun(rerun("ct-rerun-cas", status=RunStatus.FAILED, version=3), 1) is False
        got = await store.get_rerun("ct-rerun-cas")
        assert got is not None and (got.status, got.version, got.reason) == (RunStatus.RUNNING, 2, "first")
        assert await store.cas_rerun(rerun("ct-rerun-none", version=2), 1) is False
        assert await store.get_rerun("ct-rerun-none") is None

    # limits ----------------------------------------------------------------------------------
    async def test_list_limits(self, store: Store) -> None:
        for i in range(25):
            await store.put_run(run(f"ct-lim-{i:02}", "ct-lim", created=i))
            await store.put_run_log(run_log("ct-lim", f"2026-01-{i + 1:02}"))
            await store.put_rerun(rerun(f"ct-lim-rr-{i:02}", "ct-lim", requested=i))
        runs = await store.list_runs("ct-lim")
        assert len(runs) == 20 and runs[0].run_id == "ct-lim-24"
        assert [r.run_id for r in await store.list_runs("ct-lim", 2)] == ["ct-lim-24", "ct-lim-23"]
        logs = await store.list_run_logs("ct-lim")
        assert len(logs) == 20 and logs[0].date == "2026-01-25"
        assert len(await store.list_run_logs("ct-lim", 5)) == 5
        assert len(await store.list_reruns("ct-lim")) == 20
        assert len(await store.list_reruns(None, 7)) == 7
        assert len(await store.list_runs("ct-lim", 100)) == 25

    # cascade markers -------------------------------------------------------------------------
    async def test_cascade_markers(self, store: Store) -> None:
        await store.write_cascade_marker(marker("pipeline-a", "2026-02-23", "pipeline-b"))
        await store.write_cascade_marker(marker("pipeline-a", "2026-02-23", "pipeline-b"))
        await store.write_cascade_marker(marker("pipeline-a", "2026-02-23", "pipeline-c", schedule_id="h14"))
        daily = await store.list_cascade_markers("pipeline-a", "2026-02-23", "daily")
        assert daily == [marker("pipeline-a", "2026-02-23", "pipeline-b")]
        h14 = await store.list_cascade_markers("pipeline-a", "2026-02-23", "h14")
        assert [(m.source, m.schedule_id) for m in h14] == [("pipeline-c", "h14")]
        await store.write_cascade_marker(marker("pipeline-a", "2026-02-23", "pipeline-c"))
        daily = await store.list_cascade_markers("pipeline-a", "2026-02-23", "daily")
        assert sorted(m.source for m in daily) == ["pipeline-b", "pipeline-c"]
        assert await store.list_cascade_markers("pipeline-a", "2026-02-24", "daily") == []
        assert await store.list_cascade_markers("pipeline-b", "2026-02-23", "daily") == []
