"""The watchdog sweep (AWS mode's scheduled watchdog) with a fake clock on SQLite: the watchdog's
checks with no watcher pass, never evaluating, launching or polling."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from interlock_core.engine.runs import cycle_lease_key
from interlock_core.model import EventKind, PipelineConfig, RunLogEntry, RunStatus
from tests.helpers.project import Harness, pipeline
from tests.helpers.webhook import webhook_server

K = EventKind


async def kinds(engine: Any, name: str) -> list[EventKind]:
    return [e.kind for e in await engine.store.list_events(name, 1000)]


def pushed(name: str, **extra: Any) -> dict[str, Any]:
    data = pipeline(name, **extra)
    data["traits"] = {"freshness": {"ttl": 86400}, "volume": {"ttl": 86400}}
    return data


async def test_a_missed_window_is_reported_once_across_sweeps_without_evaluating(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}])])
    harness.sensors.ready("p1")
    harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = await harness.engine()
    first = await engine.watchdog_sweep()  # writes the watchdog's start mark
    assert first.to_json()["counts"][K.SCHEDULE_MISSED.value] == 0
    harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    second = await engine.watchdog_sweep()
    harness.clock.advance(300)
    third = await engine.watchdog_sweep()
    assert second.to_json()["counts"][K.SCHEDULE_MISSED.value] == 1
    assert third.to_json()["counts"][K.SCHEDULE_MISSED.value] == 0
    assert (await kinds(engine, "p1")).count(K.SCHEDULE_MISSED) == 1
    assert harness.sensors.calls("p1.volume") == 0  # nothing evaluated
    assert await engine.store.list_runs("p1") == []  # nothing started
    assert second.pipelines == 1 and second.cycles == 1 and second.errors == []


async def test_a_stuck_run_is_reported_once_and_not_polled(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url}, sla={"expectedDuration": "10m"})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        await engine.start_run("p1")
        run = (await engine.store.list_runs("p1"))[0]
        assert run.status is RunStatus.RUNNING
        requests = len(hook.requests)
        harness.clock.advance(9 * 60)
        assert (await engine.watchdog_sweep()).to_json()["counts"][K.RUN_STUCK.value] == 0
        harness.clock.advance(2 * 60)
        summary = await engine.watchdog_sweep()
        harness.clock.advance(60)
        again = await engine.watchdog_sweep()
        assert summary.to_json()["counts"][K.RUN_STUCK.value] == 1
        assert again.to_json()["counts"][K.RUN_STUCK.value] == 0
        stuck = [e for e in await engine.store.list_events("p1", 1000) if e.kind is K.RUN_STUCK]
        assert [e.run_id for e in stuck] == [run.run_id]
        assert len(hook.requests) == requests  # the sweep never polls: the state machine does
        assert (await engine.store.get_run(run.run_id)).updated_at == run.updated_at


async def test_a_ready_untriggered_cycle_gets_one_watchdog_marker_and_no_run(harness: Harness) -> None:
    harness.write([pushed("p1")])
    engine = await harness.engine()
    await engine.push_trait("p1", "freshness", "PASS")
    await engine.push_trait("p1", "volume", "PASS")
    harness.clock.advance(5)
    early = await engine.watchdog_sweep()  # within recoveryGrace: the marker may still be on its way
    assert early.recovered == []
    harness.clock.advance(60)
    summary = await engine.watchdog_sweep()
    again = await engine.watchdog_sweep()
    assert summary.recovered == ["p1/daily/2026-03-02"] and again.recovered == []
    assert summary.to_json()["counts"][K.TRIGGER_RECOVERED.value] == 1
    markers = await engine.store.list_cascade_markers("p1", "2026-03-02", "daily")
    assert [m.source for m in markers] == ["watchdog"]
    assert await engine.store.list_runs("p1") == []  # the execution the marker starts triggers, not the sweep
    assert (await kinds(engine, "p1")).count(K.TRIGGER_RECOVERED) == 1


async def test_a_not_ready_or_triggered_cycle_is_not_recovered(harness: Harness) -> None:
    harness.write([pushed("p1"), pushed("p2")])
    engine = await harness.engine()
    await engine.push_trait("p1", "freshness", "PASS")  # p1: one trait missing
    for trait in ("freshness", "volume"):
        await engine.push_trait("p2", trait, "PASS")
    await engine.start_run("p2")  # p2: triggered
    harness.clock.advance(120)
    summary = await engine.watchdog_sweep()
    assert summary.recovered == []
    assert await engine.store.list_cascade_markers("p1", "2026-03-02", "daily") == []


async def test_watchdog_disabled_sweeps_nothing(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}])],
                  config={"watcher": {"defaultInterval": "30s", "watchdog": {"enabled": False}}})
    harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = await harness.engine()
    await engine.watchdog_sweep()
    harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    summary = await engine.watchdog_sweep()
    assert summary.to_json()["enabled"] is False and summary.pipelines == 0
    assert K.SCHEDULE_MISSED not in await kinds(engine, "p1")


async def test_a_claim_whose_run_was_never_recorded_is_recovered_after_the_run_lease(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    engine = await harness.engine()
    claimed_at = harness.clock.now()
    claim = RunLogEntry(pipeline_id="p1", date="2026-03-02", schedule_id="daily", status=RunStatus.TRIGGERING,
                        attempt_number=1, run_id="never-recorded", started_at=claimed_at, updated_at=claimed_at)
    assert await engine.store.cas_run_log(claim, None)
    harness.clock.advance(60)  # the claimer may still be recording its run
    assert (await engine.watchdog_sweep()).recovered == []
    harness.clock.advance(5 * 60)  # past the run lease
    summary = await engine.watchdog_sweep()
    assert summary.recovered == ["p1/daily/2026-03-02"]
    event = next(e for e in await engine.store.list_events("p1", 1000) if e.kind is K.TRIGGER_RECOVERED)
    assert "never recorded (a crashed function)" in (event.message or "") and event.status == "TRIGGERING"
    assert [m.source for m in await engine.store.list_cascade_markers("p1", "2026-03-02", "daily")] == ["watchdog"]
    assert harness.sensors.calls("p1.volume") == 0


async def test_one_broken_pipeline_does_not_stop_the_sweep(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}])])
    harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = await harness.engine()
    broken = PipelineConfig.model_validate({**pipeline("p0"), "archetype": "no-such-archetype"})
    await engine.store.put_pipeline(broken)  # written past the loader, e.g. by an older version
    await engine.watchdog_sweep()
    harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    summary = await engine.watchdog_sweep()
    assert summary.pipelines == 2 and len(summary.errors) == 1 and summary.errors[0].startswith("p0/daily: ")
    assert summary.to_json()["counts"][K.SCHEDULE_MISSED.value] == 1


async def test_an_active_run_without_an_orchestration_is_handed_to_a_new_one(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        await engine.start_run("p1")
        await engine.store.acquire_lease(cycle_lease_key("p1", "daily"), "an-execution", 60)
        assert (await engine.watchdog_sweep()).adopted == []  # an orchestration holds the cycle
        harness.clock.advance(120)  # its lease lapsed: nothing is polling the run
        summary = await engine.watchdog_sweep()
        assert summary.adopted == ["p1/daily/2026-03-02"] and summary.recovered == []
        markers = await engine.store.list_cascade_markers("p1", "2026-03-02", "daily")
        assert [m.source for m in markers] == ["watchdog-adopt-2026-03-02T12:02:00Z"]
