"""The watchdog against a real ``interlock serve`` (SQLite and Redis): a window that closes with
nothing looked at, a run stuck past its expected duration, a crashed replica's claim healed, no
post-run signal within sensorTimeout, an SLA warning then SLA met, an inclusion calendar.
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


def seconds_after_midnight(delta: timedelta) -> str | None:
    """``now + delta`` written as a duration after midnight UTC (a same-day deadline), or None
    when that would cross midnight."""
    now = datetime.now(UTC)
    if (now + delta).date() != now.date():
        return None
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{(now + delta - midnight).total_seconds():.0f}s"


async def dashboard_mentions(d: Deployment, pipeline: str, text: str) -> bool:
    page = await d.client.get(f"/pipelines/{pipeline}")
    assert page.status_code == 200, page.text
    return text.lower() in page.text.lower()


async def test_no_post_run_signal_within_sensor_timeout(deployment: Deployment) -> None:
    d, name = deployment, "e2e-sensor"
    data = batch_pipeline(name, d.orchestrator,
                          watch={"monitoring": {"enabled": True, "duration": "60s", "sensorTimeout": "2s"}})
    data["traits"] = {trait: {"ttl": 300} for trait in data["traits"]}  # pushed: nothing evaluates them
    await d.register(data)
    for trait in data["traits"]:
        await d.post(f"/api/pipelines/{name}/traits/{trait}", {"status": "PASS"}, expect=201)
    [launch] = await d.wait_launch(name)
    assert (await d.orchestrator.call_back(launch)).json()["status"] == "COMPLETED_MONITORING"
    missing = await d.wait_event(name, "POST_RUN_SENSOR_MISSING")
    assert missing["runId"] == launch.run_id and missing["details"]["sensorTimeout"] == "2s"
    await d.wait_alert(name, "no post-run trait signal within 2s")
    await d.wait_intervals(2)
    assert len(await d.events(name, "POST_RUN_SENSOR_MISSING")) == 1
    assert await dashboard_mentions(d, name, "sensor missing")


async def test_sla_warning_before_the_deadline_then_sla_met(deployment: Deployment) -> None:
    d, name = deployment, "e2e-sla-risk"
    deadline = seconds_after_midnight(timedelta(minutes=10))
    if deadline is None:
        pytest.skip("too close to midnight UTC for a same-day deadline")
    d.sensors.ready(name)
    d.sensors.set(name, "freshness", 9999)  # blocked by a stale source: nothing runs yet
    await d.register(batch_pipeline(name, d.orchestrator,
                                    sla={"completionDeadline": deadline, "expectedDuration": "15m",
                                         "timezone": "UTC"}))
    warning = await d.wait_event(name, "SLA_WARNING")  # 10 min left, the job takes 15: at risk now
    assert warning["date"] == today()
    await d.wait_intervals(2)
    assert len(await d.events(name, "SLA_WARNING")) == 1
    assert await d.events(name, "SLA_BREACHED") == []
    d.sensors.set(name, "freshness", 30)  # the source catches up: the run goes, well before the deadline
    [launch] = await d.wait_launch(name)
    await d.orchestrator.call_back(launch)
    met = await d.wait_event(name, "SLA_MET")
    assert met["date"] == today()
    await d.wait_intervals(2)
    assert len(await d.events(name, "SLA_MET")) == 1
    assert await dashboard_mentions(d, name, "sla warning") and await dashboard_mentions(d, name, "sla met")


async def test_inclusion_calendar_runs_only_on_its_dates_and_a_missed_one_alerts(deployment: Deployment) -> None:
    d, included, elsewhere = deployment, "e2e-included", "e2e-not-today"
    now = datetime.now(UTC)
    opens = now + timedelta(minutes=2)
    closes = seconds_after_midnight(timedelta(seconds=2))
    if closes is None or opens.date() != now.date():
        pytest.skip("too close to midnight UTC for a same-day window")
    tomorrow = (now + timedelta(days=1)).date().isoformat()
    for name in (included, elsewhere):
        d.sensors.ready(name)
    await d.register(batch_pipeline(elsewhere, d.orchestrator, include={"dates": [tomorrow]}))
    # included today, but its window closes 2 s from now, before its schedule opens: missed
    await d.register(batch_pipeline(included, d.orchestrator, include={"dates": [today()]},
                                    schedules=[{"name": "daily", "after": opens.strftime("%H:%M")}],
                                    sla={"evaluationDeadline": closes, "timezone": "UTC"}))
    missed = await d.wait_event(included, "SCHEDULE_MISSED")
    assert missed["date"] == today()
    await d.wait_intervals(2)
    assert d.orchestrator.launches(elsewhere) == []  # today is not one of its dates
    assert await d.events(elsewhere, "SCHEDULE_MISSED") == []
    refused = await d.post(f"/api/pipelines/{elsewhere}/run", expect=409)
    assert refused["outcome"] == "excluded"
