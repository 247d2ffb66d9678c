"""The watchdog with a fake clock: missed windows, stuck runs, recovered triggers, missing post-run
signals, SLA warnings / maxDuration / SLA met, inclusion calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from interlock_core.config import load_project
from interlock_core.engine.runs import run_key
from interlock_core.errors import ConfigError
from interlock_core.model import EventKind, RunLogEntry, RunStatus
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline
from tests.helpers.webhook import webhook_server

S = RunStatus
K = EventKind


async def kinds(engine: Any, name: str) -> list[EventKind]:
    return [e.kind for e in await engine.store.list_events(name, 1000)]


def messages(engine: Any) -> list[str]:
    return list(engine.ctx.alerts.messages())


def pushed(name: str, **extra: Any) -> dict[str, Any]:
    """A pipeline whose two traits take pushed results."""
    data = pipeline(name, **extra)
    data["traits"] = {"freshness": {"ttl": 86400}, "volume": {"ttl": 86400}}
    return data


# --------------------------------------------------------------------------- missed windows
async def test_a_window_that_closes_unseen_alerts_schedule_missed_once(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}])])
    harness.sensors.set("p1.volume", "FAIL empty")
    harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # before the window: nothing evaluated; the watchdog's start mark is 08:00
    harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))  # the watcher was away for the whole window
    await watcher.run_once()
    harness.clock.advance(30)
    await watcher.run_once()
    assert (await kinds(engine, "p1")).count(K.SCHEDULE_MISSED) == 1
    missed = [m for m in messages(engine) if "missed its schedule" in m]
    assert len(missed) == 1 and "cycle 2026-03-02/daily" in missed[0] and "no evaluation and no run" in missed[0]
    event = next(e for e in await engine.store.list_events("p1", 1000) if e.kind is K.SCHEDULE_MISSED)
    assert event.date == "2026-03-02" and event.schedule_id == "daily"
    assert event.details is not None and event.details["windowCloses"] == "2026-03-02T10:00:00Z"


async def test_no_flood_for_windows_that_closed_before_the_first_start(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}])])
    harness.sensors.set("p1.volume", "FAIL empty")
    harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    engine = await harness.engine()
    await Watcher(engine).run_once()
    assert K.SCHEDULE_MISSED not in await kinds(engine, "p1")
    # a restart next day, after that day's window: the start mark is in the store, so it is reported
    harness.clock.set(datetime(2026, 3, 3, 10, 30, tzinfo=UTC))
    restarted = await harness.engine()
    await Watcher(restarted).run_once()
    missed = [e for e in await restarted.store.list_events("p1", 1000) if e.kind is K.SCHEDULE_MISSED]
    assert [e.date for e in missed] == ["2026-03-03"]


async def test_an_excluded_day_is_never_missed(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}],
                            exclusions={"dates": ["2026-03-02"]})])
    harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    await watcher.run_once()
    assert K.SCHEDULE_MISSED not in await kinds(engine, "p1")


async def test_evaluated_but_never_ready_is_an_sla_breach_not_a_missed_window(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}])])
    harness.sensors.set("p1.volume", "FAIL empty")
    harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    for at in (9, 10):
        harness.clock.set(datetime(2026, 3, 2, at, 1, tzinfo=UTC))
        await watcher.run_once()
    seen = await kinds(engine, "p1")
    assert K.SCHEDULE_MISSED not in seen and K.SLA_BREACHED in seen


async def test_watchdog_disabled_reports_nothing(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}])],
                  config={"watcher": {"defaultInterval": "30s", "watchdog": {"enabled": False}}})
    harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    await watcher.run_once()
    assert K.SCHEDULE_MISSED not in await kinds(engine, "p1")


# --------------------------------------------------------------------------- inclusion calendars
async def test_a_pipeline_with_an_inclusion_list_runs_only_on_those_dates(harness: Harness) -> None:
    harness.write([pipeline("p1", include={"calendar": "month-ends", "dates": ["2026-03-04"]})],
                  calendars=[{"name": "month-ends", "dates": ["2026-03-06"]}])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # 2026-03-02: not an included date
    assert await engine.store.list_runs("p1") == []
    for day in (4, 5, 6):
        harness.clock.set(datetime(2026, 3, day, 12, 0, tzinfo=UTC))
        await watcher.run_once()
    assert sorted(r.date or "" for r in await engine.store.list_runs("p1")) == ["2026-03-04", "2026-03-06"]
    outcome = await engine.start_run("p1", date="2026-03-05")
    assert outcome.outcome.value == "excluded"


async def test_a_missed_included_date_alerts(harness: Harness) -> None:
    harness.write([pipeline("p1", include={"dates": ["2026-03-03"]})])
    harness.sensors.set("p1.volume", "FAIL empty")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # 2026-03-02 12:00, the start mark
    harness.clock.set(datetime(2026, 3, 4, 0, 10, tzinfo=UTC))  # nothing looked at 2026-03-03 at all
    await watcher.run_once()
    missed = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.SCHEDULE_MISSED]
    assert [e.date for e in missed] == ["2026-03-03"]


def test_an_unknown_inclusion_calendar_names_its_key(harness: Harness) -> None:
    harness.write([pipeline("p1", include={"calendar": "nope"})])
    with pytest.raises(ConfigError) as info:
        load_project(harness.root)
    assert "include.calendar" in str(info.value) and "unknown calendar 'nope'" in str(info.value)


# --------------------------------------------------------------------------- stuck runs
async def test_a_run_longer_than_its_expected_duration_is_stuck_once(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url}, sla={"expectedDuration": "10m"})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        watcher = Watcher(engine)
        await watcher.run_once()
        run = (await engine.store.list_runs("p1"))[0]
        assert run.status is S.RUNNING
        harness.clock.advance(9 * 60)
        await watcher.run_once()
        assert K.RUN_STUCK not in await kinds(engine, "p1")
        for _ in range(3):
            harness.clock.advance(60)
            await watcher.run_once()
        stuck = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.RUN_STUCK]
        assert len(stuck) == 1 and stuck[0].run_id == run.run_id and stuck[0].status == "RUNNING"
        assert [m for m in messages(engine) if "stuck" in m] == [
            f"Pipeline p1 run {run.run_id} stuck: RUNNING for 11m0s (expected duration 10m0s)"]


async def test_the_default_expected_duration_is_the_projects(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})],
                      config={"watcher": {"defaultInterval": "30s", "watchdog": {"expectedDuration": "5m"}}})
        harness.sensors.ready("p1")
        engine = await harness.engine()
        watcher = Watcher(engine)
        await watcher.run_once()
        harness.clock.advance(5 * 60 + 1)
        await watcher.run_once()
        assert K.RUN_STUCK in await kinds(engine, "p1")


# --------------------------------------------------------------------------- recovered triggers
async def test_a_lost_wake_up_is_healed_and_recorded(harness: Harness) -> None:
    harness.write([pushed("p1")])
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    other = await harness.engine()  # another process: its wake-ups never reach this watcher
    await other.push_trait("p1", "freshness", "PASS")
    await other.push_trait("p1", "volume", "PASS")
    harness.clock.advance(30)
    await watcher.run_once(all_cycles=False)
    runs = await engine.store.list_runs("p1")
    assert len(runs) == 1
    recovered = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.TRIGGER_RECOVERED]
    assert len(recovered) == 1 and recovered[0].run_id == runs[0].run_id
    assert "lost wake-up" in (recovered[0].message or "")


async def test_a_trigger_on_its_wake_up_is_not_a_recovery(harness: Harness) -> None:
    harness.write([pushed("p1")])
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    await engine.push_trait("p1", "freshness", "PASS")
    await engine.push_trait("p1", "volume", "PASS")
    harness.clock.advance(1)
    await watcher.run_once(all_cycles=False)
    assert len(await engine.store.list_runs("p1")) == 1
    assert K.TRIGGER_RECOVERED not in await kinds(engine, "p1")


async def test_a_claim_abandoned_by_a_crashed_replica_is_healed_and_recorded(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    crashed_at = harness.clock.now() - timedelta(minutes=10)
    claim = RunLogEntry(pipeline_id="p1", date="2026-03-02", schedule_id="daily", status=S.TRIGGERING,
                        attempt_number=1, run_id="never-recorded", started_at=crashed_at, updated_at=crashed_at)
    assert await engine.store.cas_run_log(claim, None)
    watcher = Watcher(engine)
    await watcher.run_once()  # the abandoned claim is released: the same attempt is claimed again
    harness.clock.advance(31)
    await watcher.run_once()
    runs = await engine.store.list_runs("p1")
    assert len(runs) == 1
    assert runs[0].run_key == run_key(await engine.store.store_identity(), "p1", "daily", "2026-03-02", 1)
    recovered = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.TRIGGER_RECOVERED]
    assert len(recovered) == 1 and "crashed replica" in (recovered[0].message or "")


# --------------------------------------------------------------------------- post-run signals
async def test_no_post_run_signal_within_sensor_timeout_alerts_once(harness: Harness) -> None:
    harness.write([pushed("p1", watch={"monitoring": {"enabled": True, "duration": "2h",
                                                      "sensorTimeout": "30m"}})])
    engine = await harness.engine()
    await engine.push_trait("p1", "freshness", "PASS")
    await engine.push_trait("p1", "volume", "PASS")
    watcher = Watcher(engine)
    await watcher.run_once()
    run = (await engine.store.list_runs("p1"))[0]
    assert run.status is S.COMPLETED_MONITORING
    harness.clock.advance(29 * 60)
    await watcher.run_once()
    assert K.POST_RUN_SENSOR_MISSING not in await kinds(engine, "p1")
    for _ in range(3):
        harness.clock.advance(60)
        await watcher.run_once()
    missing = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.POST_RUN_SENSOR_MISSING]
    assert len(missing) == 1 and missing[0].run_id == run.run_id


async def test_a_post_run_signal_in_time_silences_the_sensor_check(harness: Harness) -> None:
    harness.write([pushed("p1", watch={"monitoring": {"enabled": True, "duration": "2h",
                                                      "sensorTimeout": "30m"}})])
    engine = await harness.engine()
    await engine.push_trait("p1", "freshness", "PASS")
    await engine.push_trait("p1", "volume", "PASS")
    watcher = Watcher(engine)
    await watcher.run_once()
    harness.clock.advance(10 * 60)
    await engine.push_trait("p1", "volume", "PASS")  # the post-run validation signal
    harness.clock.advance(25 * 60)
    await watcher.run_once()
    assert K.POST_RUN_SENSOR_MISSING not in await kinds(engine, "p1")


# --------------------------------------------------------------------------- SLA at risk / met
async def test_sla_warning_at_deadline_minus_expected_duration_then_the_breach(harness: Harness) -> None:
    harness.write([pipeline("p1", sla={"completionDeadline": "12:30", "expectedDuration": "20m",
                                       "timezone": "UTC"})])
    harness.sensors.set("p1.volume", "FAIL empty")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # 12:00: 30 minutes left, 20 expected: on track
    assert K.SLA_WARNING not in await kinds(engine, "p1")
    for _ in range(4):
        harness.clock.advance(5 * 60)  # 12:05 … 12:20
        await watcher.run_once()
    assert (await kinds(engine, "p1")).count(K.SLA_WARNING) == 1
    assert any(m.startswith("Pipeline p1 SLA at risk: cycle 2026-03-02/daily NOT_STARTED") for m in messages(engine))
    harness.clock.set(datetime(2026, 3, 2, 12, 31, tzinfo=UTC))
    await watcher.run_once()
    seen = await kinds(engine, "p1")
    assert seen.count(K.SLA_WARNING) == 1 and seen.count(K.SLA_BREACHED) >= 1
    assert K.SLA_MET not in seen


async def test_a_run_started_in_time_is_not_at_risk(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                sla={"completionDeadline": "12:30", "expectedDuration": "20m", "timezone": "UTC"})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        watcher = Watcher(engine)
        await watcher.run_once()  # RUNNING from 12:00, expected done by 12:20
        harness.clock.advance(15 * 60)
        await watcher.run_once()
        assert K.SLA_WARNING not in await kinds(engine, "p1")


async def test_sla_met_once_when_the_run_completes_in_time(harness: Harness) -> None:
    harness.write([pipeline("p1", sla={"completionDeadline": "13:00", "timezone": "UTC"})])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # the command trigger runs and completes at 12:00
    harness.clock.advance(1)
    await watcher.run_once()
    harness.clock.advance(30)
    await watcher.run_once()
    assert (await kinds(engine, "p1")).count(K.SLA_MET) == 1
    assert [m for m in messages(engine) if "SLA met" in m] == [
        "Pipeline p1 SLA met: cycle 2026-03-02/daily completed at 2026-03-02T12:00:00Z, before completion 13:00"]


async def test_max_duration_is_measured_from_the_first_trait_pass(harness: Harness) -> None:
    harness.write([pipeline("p1", sla={"maxDuration": "1h", "expectedDuration": "20m"})])
    harness.sensors.set("p1.freshness", "PASS")
    harness.sensors.set("p1.volume", "FAIL empty")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # 12:00: the first trait pass
    harness.clock.set(datetime(2026, 3, 2, 12, 41, tzinfo=UTC))
    await watcher.run_once()
    assert (await kinds(engine, "p1")).count(K.SLA_WARNING) == 1
    harness.clock.set(datetime(2026, 3, 2, 13, 1, tzinfo=UTC))
    await watcher.run_once()
    await watcher.run_once()
    breaches = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.SLA_BREACHED]
    assert [e.details for e in breaches] == [{"kind": "maxDuration"}]
    assert any("maxDuration SLA breached" in m and "1h0m0s after the first trait pass" in m
               for m in messages(engine))


async def test_max_duration_met(harness: Harness) -> None:
    harness.write([pipeline("p1", sla={"maxDuration": "1h"})])
    harness.sensors.set("p1.freshness", "PASS")
    harness.sensors.set("p1.volume", "FAIL empty")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    harness.clock.advance(20 * 60)
    harness.sensors.set("p1.volume", "PASS")
    await watcher.run_once()  # triggers and completes at 12:20
    harness.clock.advance(1)
    await watcher.run_once()
    met = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.SLA_MET]
    assert len(met) == 1 and met[0].details is not None and met[0].details["kinds"] == ["maxDuration"]


# --------------------------------------------------------------------------- config bounds
@pytest.mark.parametrize(("where", "doc", "key"), [
    ("pipeline", {"sla": {"expectedDuration": "0s"}}, "sla.expectedDuration"),
    ("pipeline", {"sla": {"maxDuration": "8d"}}, "sla.maxDuration"),
    ("pipeline", {"watch": {"monitoring": {"enabled": True, "duration": "1h", "sensorTimeout": "2h"}}},
     "watch.monitoring"),
    ("project", {"watcher": {"watchdog": {"expectedDuration": "-1m"}}}, "watcher.watchdog.expectedDuration"),
    ("project", {"watcher": {"watchdog": {"recoveryGrace": "2d"}}}, "watcher.watchdog.recoveryGrace"),
])
def test_watchdog_durations_are_bounded(harness: Harness, where: str, doc: dict[str, Any], key: str) -> None:
    if where == "pipeline":
        harness.write([pipeline("p1", **doc)])
    else:
        harness.write([pipeline("p1")], config=doc)
    with pytest.raises(ConfigError) as info:
        load_project(harness.root)
    assert key in str(info.value)


async def test_a_stuck_rerun_is_reported_too(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url}, sla={"expectedDuration": "10m"})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        watcher = Watcher(engine)
        await watcher.run_once()
        first = (await engine.store.list_runs("p1"))[0]
        await engine.complete_run(first.run_id, "success")
        record, _ = await engine.request_rerun("p1", "2026-03-02", "backfill", force=True)
        harness.clock.advance(1)
        await watcher.run_once()
        rerun = await engine.store.get_rerun(record.rerun_id)
        assert rerun is not None and rerun.rerun_run_id
        harness.clock.advance(11 * 60)
        await watcher.run_once()
        stuck = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.RUN_STUCK]
        assert [e.run_id for e in stuck] == [rerun.rerun_run_id]
