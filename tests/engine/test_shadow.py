"""Dry run speaks the whole lifecycle, with a fake clock: the scheduler in place is seen running the
cycle (looked up through the trigger, or pushed) — DRY_RUN_COMPLETED, DRY_RUN_WOULD_RETRY when
Interlock's retry policy would have retried its failure —, drift says whether a rerun would have been
made (DRY_RUN_WOULD_RERUN), a value that changes after the cycle settled is DRY_RUN_LATE_DATA, and the
shadow report puts it together cycle by cycle."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interlock_core.engine import Outcome
from interlock_core.engine.shadow_report import Verdict
from interlock_core.errors import ConflictError, TriggerError, ValidationError
from interlock_core.model import EventKind, FailureCategory, SchedulerRun
from interlock_core.ports import CycleWindow
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline

DAY = "2026-03-02"


def shadow(name: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return pipeline(name, dryRun=True, trigger={"type": "command", "argv": ["sh", "-c", f"echo x >> {tmp_path}/x"]},
                    **extra)


def at(hh_mm: str, day: str = DAY) -> datetime:
    return datetime.fromisoformat(f"{day}T{hh_mm}:00+00:00")


async def events(engine: Any, name: str, kind: EventKind) -> list[Any]:
    return [e for e in await engine.store.list_events(name, 500) if e.kind is kind]


class ScriptedScheduler:
    """The scheduler already in place, as the trigger's lookup sees it: the runs a test scripts per date."""

    def __init__(self) -> None:
        self.runs: dict[str, list[SchedulerRun]] = {}
        self.asked: list[str] = []
        self.failing = False

    async def find_runs(self, config: Any, cycle: CycleWindow) -> list[SchedulerRun]:
        self.asked.append(cycle.date)
        assert cycle.start == at("00:00", cycle.date) and cycle.end == cycle.start + timedelta(days=1)
        if self.failing:
            raise TriggerError("orchestrator down")
        return list(self.runs.get(cycle.date, []))


def scheduler_on(engine: Any) -> ScriptedScheduler:
    scripted = ScriptedScheduler()
    engine.ctx.triggers._instances["command"] = scripted  # the command trigger cannot look runs up: this can
    return scripted


async def test_a_scheduler_run_seen_finishing_records_dry_run_completed_once(harness: Harness, tmp_path: Path) -> None:
    harness.write([shadow("p1", tmp_path)])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    scheduler = scheduler_on(engine)
    watcher = Watcher(engine)
    await watcher.run_once()  # 12:00: it would trigger
    scheduler.runs[DAY] = [SchedulerRun(run_id="scheduled__1", state="running", started_at=at("12:30"))]
    harness.clock.set(at("12:40"))
    await watcher.run_once()
    assert await events(engine, "p1", EventKind.DRY_RUN_COMPLETED) == []
    record = await engine.store.get_shadow_cycle("p1", DAY, "daily")
    assert [r.state for r in record.scheduler_runs] == ["running"] and record.scheduler_runs[0].source == "lookup"

    scheduler.runs[DAY] = [SchedulerRun(run_id="scheduled__1", state="succeeded", started_at=at("12:30"),
                                        finished_at=at("12:50"))]
    harness.clock.set(at("13:00"))
    await watcher.run_once()
    scheduler.failing = True  # a problem with the orchestrator later breaks nothing
    harness.clock.set(at("13:30"))
    await watcher.run_once()
    [done] = await events(engine, "p1", EventKind.DRY_RUN_COMPLETED)
    assert (done.date, done.status) == (DAY, "COMPLETED")
    assert done.details == {"dryRun": True, "schedulerRunId": "scheduled__1", "outcome": "succeeded",
                            "source": "lookup", "startedAt": "2026-03-02T12:30:00Z",
                            "finishedAt": "2026-03-02T12:50:00Z", "wouldTriggerAt": "2026-03-02T12:00:00Z",
                            "verdict": "earlier", "leadSeconds": 1800.0}
    assert "Interlock 30m0s earlier" in (done.message or "")
    today_asks = scheduler.asked.count(DAY)
    await watcher.run_once()
    assert scheduler.asked.count(DAY) == today_asks  # it succeeded: today's cycle is not looked up again
    assert scheduler.asked.count("2026-03-01") >= 3  # yesterday's is (a nightly run may end after midnight)
    assert not (tmp_path / "x").exists() and await engine.store.list_runs("p1") == []


async def test_the_aws_watchdog_sweep_looks_the_scheduler_runs_up_too(harness: Harness, tmp_path: Path) -> None:
    harness.write([shadow("p1", tmp_path)])
    engine = await harness.engine()
    scheduler = scheduler_on(engine)
    scheduler.runs[DAY] = [SchedulerRun(run_id="scheduled__1", state="failed", started_at=at("06:00"),
                                        finished_at=at("06:30"))]
    await engine.watchdog_sweep()
    assert [e.details["schedulerRunId"] for e in await events(engine, "p1", EventKind.DRY_RUN_COMPLETED)] == [
        "scheduled__1"]
    assert len(await events(engine, "p1", EventKind.DRY_RUN_WOULD_RETRY)) == 1


async def test_a_failed_scheduler_run_says_when_interlock_would_retry_it(harness: Harness, tmp_path: Path) -> None:
    retry = {"maxAttempts": 2, "backoffSeconds": 60, "backoffMultiplier": 2.0}
    harness.write([shadow("p1", tmp_path, retry=retry), shadow("p2", tmp_path)])
    engine = await harness.engine()
    first = SchedulerRun(run_id="run-1", state="failed", started_at=at("06:00"), finished_at=at("06:10"),
                         failure_category=FailureCategory.TRANSIENT)
    await engine.report_scheduler_run("p1", DAY, first)
    await engine.report_scheduler_run("p1", DAY, first)  # pushed twice: recorded once
    [retrying] = await events(engine, "p1", EventKind.DRY_RUN_WOULD_RETRY)
    assert retrying.details == {"dryRun": True, "schedulerRunId": "run-1", "attempt": 2,
                                "retryAt": "2026-03-02T06:11:00Z"}
    assert "attempt 2 at 2026-03-02T06:11:00Z" in (retrying.message or "")

    second = SchedulerRun(run_id="run-2", state="failed", started_at=at("06:11"), finished_at=at("06:20"))
    record = await engine.report_scheduler_run("p1", DAY, second)
    assert [r.run_id for r in record.scheduler_runs] == ["run-1", "run-2"] and record.would_retries == 1
    completed = await events(engine, "p1", EventKind.DRY_RUN_COMPLETED)
    assert [(e.status, e.details["schedulerRunId"]) for e in completed] == [("FAILED", "run-1"), ("FAILED", "run-2")]
    assert "would not retry it: all 2 attempts would have been spent" in (completed[1].message or "")
    assert len(await events(engine, "p1", EventKind.DRY_RUN_WOULD_RETRY)) == 1

    permanent = SchedulerRun(run_id="run-9", state="failed", started_at=at("07:00"),
                             failure_category=FailureCategory.PERMANENT)
    await engine.report_scheduler_run("p2", DAY, permanent)  # finishedAt: when it was pushed
    [ended] = await events(engine, "p2", EventKind.DRY_RUN_COMPLETED)
    assert ended.details["finishedAt"] == "2026-03-02T12:00:00Z"
    assert "a PERMANENT failure is not retried" in (ended.message or "")
    assert await events(engine, "p2", EventKind.DRY_RUN_WOULD_RETRY) == []


async def test_a_pushed_scheduler_run_is_refused_for_a_pipeline_that_runs_for_real(
        harness: Harness, tmp_path: Path) -> None:
    harness.write([pipeline("live"), shadow("p1", tmp_path)])
    engine = await harness.engine()
    run = SchedulerRun(run_id="r", state="succeeded", started_at=at("06:00"), finished_at=at("06:10"))
    with pytest.raises(ConflictError, match="not a dry-run pipeline"):
        await engine.report_scheduler_run("live", DAY, run)
    backwards = run.model_copy(update={"finished_at": at("05:00")})
    with pytest.raises(ValidationError) as caught:
        await engine.report_scheduler_run("p1", DAY, backwards)
    assert caught.value.details["field"] == "finishedAt"


async def test_drift_after_a_would_trigger_says_whether_a_rerun_would_be_made(harness: Harness, tmp_path: Path) -> None:
    watch = {"monitoring": {"enabled": True, "duration": "2h"}}
    held = {"monitoring": {"enabled": True, "duration": "2h", "autoRerun": False}}
    harness.write([shadow("p1", tmp_path, watch=watch), shadow("p2", tmp_path, watch=held)])
    for name in ("p1", "p2"):
        harness.sensors.ready(name)
    engine = await harness.engine()
    for name in ("p1", "p2"):
        assert (await engine.start_run(name)).outcome is Outcome.DRY_RUN
        harness.sensors.set(f"{name}.volume", "FAIL rows vanished")
    harness.clock.advance(timedelta(minutes=30))
    for _ in range(2):
        for name in ("p1", "p2"):
            assert (await engine.start_run(name)).outcome is Outcome.NOT_READY
        harness.clock.advance(timedelta(minutes=5))
    [rerun] = await events(engine, "p1", EventKind.DRY_RUN_WOULD_RERUN)
    assert (rerun.status, rerun.date) == ("ACCEPTED", DAY)
    assert rerun.details == {"dryRun": True, "reason": "monitoring_drift_detected", "accepted": True, "held": False,
                             "decision": "a rerun would be requested and started when ready",
                             "blockingTraits": ["volume"]}
    [waiting] = await events(engine, "p2", EventKind.DRY_RUN_WOULD_RERUN)
    assert waiting.details["held"] is True and "autoRerun is off" in waiting.details["decision"]
    assert (await engine.store.get_shadow_cycle("p1", DAY, "daily")).would_reruns == 1
    assert await engine.store.list_reruns("p1") == []


async def test_a_value_pushed_after_the_cycle_settled_is_late_data_once(harness: Harness, tmp_path: Path) -> None:
    harness.write([shadow("p1", tmp_path)])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # 12:00: it would trigger (no monitoring: settled at once)
    harness.clock.advance(timedelta(minutes=10))
    await watcher.run_once()
    assert await events(engine, "p1", EventKind.DRY_RUN_LATE_DATA) == []
    await engine.push_trait("p1", "volume", "PASS", value={"rows": 120})
    await watcher.run_once()
    await engine.push_trait("p1", "volume", "PASS", value={"rows": 130})
    await watcher.run_once()
    [late] = await events(engine, "p1", EventKind.DRY_RUN_LATE_DATA)
    assert late.details == {"dryRun": True, "traits": ["volume"], "wouldTriggerAt": "2026-03-02T12:00:00Z"}
    assert "late data is alerted, not rerun (watch.onLateData: alert)" in (late.message or "")
    assert await events(engine, "p1", EventKind.DRY_RUN_WOULD_RERUN) == []  # onLateData: alert asks for none
    record = await engine.store.get_shadow_cycle("p1", DAY, "daily")
    assert record.late_data_at == at("12:10")


async def test_late_data_says_a_rerun_would_be_made_by_the_lifecycles_rules(harness: Harness,
                                                                            tmp_path: Path) -> None:
    """With ``onLateData: rerun`` the dry run answers as the lifecycle would: a rerun, within the
    pipeline's drift budget (``retry.maxDriftReruns``)."""
    harness.write([shadow("p1", tmp_path, watch={"onLateData": "rerun"}),
                   shadow("p2", tmp_path, watch={"onLateData": "rerun"}, retry={"maxDriftReruns": 0})])
    for name in ("p1", "p2"):
        harness.sensors.ready(name)
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    harness.clock.advance(timedelta(minutes=10))
    for name in ("p1", "p2"):
        await engine.push_trait(name, "volume", "PASS", value={"rows": 120})
    await watcher.run_once()
    [accepted] = await events(engine, "p1", EventKind.DRY_RUN_WOULD_RERUN)
    assert (accepted.status, accepted.details["accepted"]) == ("ACCEPTED", True)
    [refused] = await events(engine, "p2", EventKind.DRY_RUN_WOULD_RERUN)
    assert (refused.status, refused.details["accepted"]) == ("REJECTED", False)
    assert "budget exhausted: 0 of 0 (retry.maxDriftReruns)" in refused.details["decision"]
    assert await engine.store.list_reruns("p1") == [] and await engine.store.list_reruns("p2") == []


async def test_the_shadow_report_over_several_cycles(harness: Harness, tmp_path: Path) -> None:
    """An earlier cycle, a not-ready cycle the scheduler ran anyway, a cycle the scheduler ran before
    the data was ready (an SLA miss), and one the scheduler never ran."""
    sla = {"evaluationDeadline": "10:00", "completionDeadline": "12:00", "timezone": "UTC"}
    harness.write([shadow("p1", tmp_path, sla=sla)])
    engine = await harness.engine()
    watcher = Watcher(engine)

    async def day(date: str, ready_at: str | None, scheduler: tuple[str, str] | None) -> None:
        harness.sensors.set("p1.freshness", "PASS")
        harness.sensors.set("p1.volume", "FAIL not loaded")
        harness.clock.set(at("05:00", date))
        await watcher.run_once()
        if ready_at is not None:
            harness.sensors.set("p1.volume", "PASS")
            harness.clock.set(at(ready_at, date))
            await watcher.run_once()
        if scheduler is not None:
            started, finished = scheduler
            await engine.report_scheduler_run("p1", date, SchedulerRun(
                run_id=f"scheduled__{date}", state="succeeded", started_at=at(started, date),
                finished_at=at(finished, date)))

    await day("2026-03-02", "08:00", ("09:00", "09:30"))
    await day("2026-03-03", None, ("09:00", "09:20"))
    await day("2026-03-04", "11:30", ("06:00", "06:45"))
    await day("2026-03-05", "07:00", None)
    harness.clock.set(at("13:00", "2026-03-05"))

    report = await engine.shadow_report("p1", since="2026-03-02", until="2026-03-05")
    assert (report.from_date, report.to_date, report.dry_run, report.lookup) == ("2026-03-02", "2026-03-05", True,
                                                                                 False)
    rows = {r.date: r for r in report.cycles}
    assert [r.verdict for r in report.cycles] == [Verdict.EARLIER, Verdict.HELD, Verdict.LATER, Verdict.NOT_RUN]
    early, held, late, unrun = (rows[d] for d in ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"))
    assert (early.would_trigger_at, early.lead_seconds, early.difference) == (at("08:00"), 3600.0,
                                                                             "Interlock 1h0m0s earlier")
    assert early.scheduler is not None and early.scheduler.started_at == at("09:00")
    assert early.sla.held is True
    assert [(c.kind, c.interlock_at, c.interlock_met) for c in early.sla.checks] == [
        ("evaluation", at("08:00"), True), ("completion", at("08:30"), True)]  # + the scheduler's 30 min

    assert (held.would_trigger_at, held.blocking, held.evaluated) == (None, ["volume"], True)
    assert held.difference == ("Interlock would have held it: not ready (blocked by volume); the scheduler ran on "
                               "data Interlock considered not ready")
    assert held.sla.held is False and held.sla.checks[1].scheduler_met is True

    assert late.lead_seconds == -5.5 * 3600 and "the scheduler ran on data Interlock considered not ready" in \
        late.difference
    assert late.sla.held is False  # ready at 11:30: past the 10:00 evaluation deadline
    assert [(c.kind, c.interlock_at, c.interlock_met, c.scheduler_met) for c in late.sla.checks] == [
        ("evaluation", at("11:30", "2026-03-04"), False, True),
        ("completion", at("12:15", "2026-03-04"), False, True)]

    assert (unrun.scheduler, unrun.sla.held) == (None, True)
    summary = report.summary
    assert (summary.cycles, summary.earlier, summary.later, summary.held, summary.not_run) == (4, 1, 1, 1, 1)
    assert (summary.sla_held, summary.sla_missed, summary.median_lead_seconds) == (2, 2, (3600 - 19800) / 2)

    assert [r.date for r in (await engine.shadow_report("p1")).cycles] == [
        "2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    with pytest.raises(ValidationError, match="after"):
        await engine.shadow_report("p1", since="2026-03-05", until="2026-03-01")
    with pytest.raises(ValidationError, match="at most 92 days"):
        await engine.shadow_report("p1", since="2025-01-01", until="2026-03-01")


async def test_the_shadow_report_of_a_sub_daily_schedule_has_one_row_per_cycle(
        harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.write([shadow("hourly", tmp_path, schedules=[{"name": "s", "cron": "0 * * * *"}])])
    harness.sensors.ready("hourly")
    engine = await harness.engine()
    watcher = Watcher(engine)
    for hour in ("10:00", "11:00"):
        harness.clock.set(at(hour) + timedelta(seconds=5))
        await watcher.run_once()
    await engine.report_scheduler_run("hourly", f"{DAY}T10:00", SchedulerRun(
        run_id="scheduled__10", state="succeeded", started_at=at("10:30"), finished_at=at("10:40")))
    harness.clock.set(at("11:30"))

    report = await engine.shadow_report("hourly", since=DAY, until=DAY)  # a date: every fire time of that day
    assert [r.date for r in report.cycles] == [f"{DAY}T{h:02d}:00" for h in range(24)]
    rows = {r.date: r for r in report.cycles}
    ten, eleven = rows[f"{DAY}T10:00"], rows[f"{DAY}T11:00"]
    assert (ten.verdict, ten.lead_seconds) == (Verdict.EARLIER, 1795.0)
    assert (eleven.verdict, eleven.would_trigger_at) == (Verdict.NOT_RUN, at("11:00") + timedelta(seconds=5))
    assert report.summary.cycles == 24 and report.summary.earlier == 1 and report.summary.not_run == 1

    keyed = await engine.shadow_report("hourly", since=f"{DAY}T10:00", until=f"{DAY}T11:00")  # fire times
    assert [(r.date, r.verdict) for r in keyed.cycles] == [(f"{DAY}T10:00", Verdict.EARLIER),
                                                          (f"{DAY}T11:00", Verdict.NOT_RUN)]

    monkeypatch.setattr("interlock_core.engine.shadow_report.MAX_REPORT_CYCLES", 5)
    latest = await engine.shadow_report("hourly")  # the default range keeps the latest cycles
    assert [r.date for r in latest.cycles] == [f"{DAY}T{h}:00" for h in (19, 20, 21, 22, 23)]
    with pytest.raises(ValidationError, match="at most 5 cycles"):
        await engine.shadow_report("hourly", since=DAY, until=DAY)
