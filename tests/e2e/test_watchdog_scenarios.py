"""The watchdog against a real ``interlock serve`` (SQLite and Redis): a window that closes with
nothing looked at, a run stuck past its expected duration, a crashed replica's claim healed.
Seconds-scale windows: the evaluation deadline is written as a duration after midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from interlock_core.clock import SystemClock
from interlock_core.config import load_project
from interlock_core.engine.factory import create_store
from interlock_core.model import RunLogEntry, RunStatus
from interlock_core.plugins import load_plugins

from .support import Deployment, batch_pipeline, today

pytestmark = pytest.mark.e2e


async def dashboard_lists(d: Deployment, pipeline: str, heading: str) -> bool:
    page = await d.client.get(f"/pipelines/{pipeline}")
    assert page.status_code == 200, page.text
    return heading in page.text


async def test_a_window_nobody_looked_at_is_schedule_missed(deployment: Deployment) -> None:
    d, name = deployment, "e2e-missed"
    now = datetime.now(UTC)
    opens = now + timedelta(minutes=2)
    if opens.date() != now.date():
        pytest.skip("too close to midnight UTC for a same-day window")
    closes_in = (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() + 2
    d.sensors.ready(name)
    # the window closes 2 s from now, before its schedule even opens: nothing evaluates it
    await d.register(batch_pipeline(name, d.orchestrator,
                                    schedules=[{"name": "daily", "after": opens.strftime("%H:%M")}],
                                    sla={"evaluationDeadline": f"{closes_in:.0f}s", "timezone": "UTC"}))
    missed = await d.wait_event(name, "SCHEDULE_MISSED")
    assert missed["date"] == today() and missed["scheduleId"] == "daily"
    alert = await d.wait_alert(name, "missed its schedule")
    assert "no evaluation and no run" in alert["message"]
    await d.wait_intervals(2)
    assert len(await d.events(name, "SCHEDULE_MISSED")) == 1
    assert await dashboard_lists(d, name, "Schedule missed")


async def test_a_run_past_its_expected_duration_is_stuck(deployment: Deployment) -> None:
    d, name = deployment, "e2e-stuck"
    d.sensors.ready(name)
    await d.register(batch_pipeline(name, d.orchestrator, sla={"expectedDuration": "2s"}))
    run = await d.wait_run(name, "RUNNING")  # the orchestrator never calls back
    stuck = await d.wait_event(name, "RUN_STUCK")
    assert stuck["runId"] == run["runId"] and stuck["status"] == "RUNNING"
    await d.wait_alert(name, f"run {run['runId']} stuck: RUNNING")
    await d.wait_intervals(2)
    assert len(await d.events(name, "RUN_STUCK")) == 1
    assert await dashboard_lists(d, name, "Run stuck")


async def test_a_claim_left_by_a_crashed_replica_is_recovered(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-recovered", today()
    project = load_project(d.served.root)
    store = create_store(project, SystemClock(), project.plugins or load_plugins())
    await store.start()
    try:  # a replica claimed today's cycle ten minutes ago and died before recording its run
        crashed = datetime.now(UTC) - timedelta(minutes=10)
        claim = RunLogEntry(pipeline_id=name, date=day, schedule_id="daily", status=RunStatus.TRIGGERING,
                            attempt_number=1, run_id="lost-with-its-replica", started_at=crashed,
                            updated_at=crashed)
        assert await store.cas_run_log(claim, None)
    finally:
        await store.close()
    d.sensors.ready(name)
    await d.register(batch_pipeline(name, d.orchestrator,
                                    retry={"maxAttempts": 3, "backoffSeconds": 1, "backoffMultiplier": 1.0}))
    recovered = await d.wait_event(name, "TRIGGER_RECOVERED")
    [launch] = await d.wait_launch(name)
    assert recovered["runId"] == launch.run_id and "crashed replica" in recovered["message"]
    assert await dashboard_lists(d, name, "Trigger recovered")
