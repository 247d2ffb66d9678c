"""Dry run against a real ``interlock serve`` (SQLite and Redis): the watcher shadows the gate on
live sensors, records the would-trigger once, and the orchestrator hears nothing; the shadow report
compares it with the scheduler in place, cycle by cycle."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from .support import Deployment, batch_pipeline, today

pytestmark = pytest.mark.e2e


async def test_the_watcher_shadows_a_dry_run_pipeline(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-shadow", today()
    d.sensors.set(name, "freshness", 30)
    d.sensors.set(name, "record-count", 1500)
    d.sensors.set(name, "upstream", True)
    stored = await d.register(batch_pipeline(name, d.orchestrator, dryRun=True))
    assert stored["dryRun"] is True

    would = await d.wait_event(name, "DRY_RUN_WOULD_TRIGGER")  # the watcher (1 s interval) got there
    assert (would["date"], would["details"]["dryRun"]) == (day, True)
    asked = await d.post(f"/api/pipelines/{name}/run")
    assert (asked["outcome"], asked["dryRun"]) == ("dry_run", True)
    assert len(await d.events(name, "DRY_RUN_WOULD_TRIGGER")) == 1
    assert d.orchestrator.launches(name) == []
    assert await d.runs(name) == [] and await d.run_log(name, day) is None


async def test_a_shadow_report_over_three_cycles(deployment: Deployment) -> None:
    """Two days back the data was never ready, yet the scheduler in place ran it; yesterday it ran an hour
    before the data was; today Interlock would have triggered ten minutes before it. Its runs are pushed,
    as for any trigger that cannot look them up."""
    d, name = deployment, "e2e-shadow-report"
    day = today()
    yesterday, before = ((date.fromisoformat(day) - timedelta(days=n)).isoformat() for n in (1, 2))
    d.sensors.set(name, "freshness", 30)
    d.sensors.set(name, "record-count", 10)  # below the threshold: not ready
    d.sensors.set(name, "upstream", True)
    await d.register(batch_pipeline(name, d.orchestrator, dryRun=True,
                                    sla={"completionDeadline": "23:59", "timezone": "UTC"}))
    held = await d.post(f"/api/pipelines/{name}/run", {"date": before}, expect=412)
    assert held["blocking"]
    d.sensors.set(name, "record-count", 1500)
    would = {}
    for cycle in (yesterday, day):
        asked = await d.post(f"/api/pipelines/{name}/run", {"date": cycle})
        assert asked["outcome"] == "dry_run"
        would[cycle] = datetime.fromisoformat(asked["wouldTriggerAt"])

    def at(when: datetime) -> str:
        return when.isoformat()

    ran = {before: (would[yesterday] - timedelta(hours=3), timedelta(minutes=20)),
           yesterday: (would[yesterday] - timedelta(hours=1), timedelta(minutes=30)),
           day: (would[day] + timedelta(minutes=10), timedelta(minutes=15))}
    for cycle, (started, took) in ran.items():
        await d.post(f"/api/pipelines/{name}/scheduler-runs", {
            "date": cycle, "runId": f"scheduled__{cycle}", "status": "success", "startedAt": at(started),
            "finishedAt": at(started + took)})

    report = await d.get(f"/api/pipelines/{name}/shadow-report", **{"from": before, "to": day})
    rows = {row["date"]: row for row in report["cycles"]}
    assert [rows[c]["verdict"] for c in (before, yesterday, day)] == ["held", "later", "earlier"]
    assert rows[before]["blocking"] and rows[before]["sla"]["held"] is False
    assert rows[yesterday]["leadSeconds"] == -3600.0 and rows[day]["leadSeconds"] == 600.0
    projected = datetime.fromisoformat(rows[day]["sla"]["checks"][0]["interlockAt"])
    assert projected == would[day] + timedelta(minutes=15)  # the would-trigger plus the scheduler's run time
    summary = report["summary"]
    assert (summary["cycles"], summary["held"], summary["later"], summary["earlier"]) == (3, 1, 1, 1)
    assert len(await d.events(name, "DRY_RUN_COMPLETED")) == 3
    assert d.orchestrator.launches(name) == [] and await d.runs(name) == []
