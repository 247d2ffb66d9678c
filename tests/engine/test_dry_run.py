"""Dry run (shadow mode): ``dryRun: true`` evaluates on the normal path and records where it would
trigger — once per cycle — with no launch, no claim and no run log; SLA projections and drift are
still recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from interlock_core.engine import Outcome
from interlock_core.engine.steps import Steps
from interlock_core.model import EventKind
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline

DAY = "2026-03-02"


def shadow(name: str, marker: Path, **extra: Any) -> dict[str, Any]:
    return pipeline(name, dryRun=True, trigger={"type": "command", "argv": ["sh", "-c", f"echo x >> {marker}"]},
                    **extra)


async def events(engine: Any, name: str, kind: EventKind) -> list[Any]:
    return [e for e in await engine.store.list_events(name, 500) if e.kind is kind]


async def test_a_ready_dry_run_pipeline_records_would_trigger_once_and_launches_nothing(
        harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    harness.write([shadow("p1", marker)])
    harness.sensors.ready("p1")
    engine = await harness.engine()

    first = await engine.start_run("p1")
    assert first.outcome is Outcome.DRY_RUN and first.readiness is not None and first.readiness.ready
    assert first.would_trigger_at == harness.clock.now() and first.to_json()["dryRun"] is True
    harness.clock.advance(60)
    again = await engine.start_run("p1")
    assert again.outcome is Outcome.DRY_RUN and again.would_trigger_at == first.would_trigger_at
    await Watcher(engine).run_once()

    assert not marker.exists()
    assert await engine.store.list_runs("p1") == []
    assert await engine.store.get_run_log("p1", DAY, "daily") is None
    [would] = await events(engine, "p1", EventKind.DRY_RUN_WOULD_TRIGGER)
    assert (would.date, would.schedule_id, would.details) == (DAY, "daily", {"dryRun": True, "triggerType": "command"})
    assert "would trigger" in (would.message or "")


async def test_a_settled_dry_run_cycle_is_not_evaluated_again(harness: Harness, tmp_path: Path) -> None:
    harness.write([shadow("p1", tmp_path / "launches")])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    await engine.start_run("p1")
    calls = harness.sensors.calls("p1.freshness")
    harness.clock.advance(600)
    assert (await engine.start_run("p1")).outcome is Outcome.DRY_RUN
    assert harness.sensors.calls("p1.freshness") == calls  # done for the day, as a completed real cycle


async def test_turning_dry_run_off_runs_the_cycle_for_real(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    harness.write([shadow("p1", marker)])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    assert (await engine.start_run("p1")).outcome is Outcome.DRY_RUN
    live = (await engine.get_pipeline("p1")).model_copy(update={"dry_run": False})
    await engine.register_pipeline(live)
    real = await engine.start_run("p1")  # no claim was left behind to block it
    assert real.outcome is Outcome.TRIGGERED and real.run is not None and real.run.attempt == 1
    assert marker.read_text().count("x") == 1


async def test_a_not_ready_dry_run_pipeline_records_no_would_trigger(harness: Harness, tmp_path: Path) -> None:
    harness.write([shadow("p1", tmp_path / "launches")])
    harness.sensors.set("p1.freshness", "PASS")
    harness.sensors.set("p1.volume", "FAIL empty")
    engine = await harness.engine()
    outcome = await engine.start_run("p1")
    assert outcome.outcome is Outcome.NOT_READY and outcome.readiness is not None
    assert await events(engine, "p1", EventKind.DRY_RUN_WOULD_TRIGGER) == []


async def test_sla_projection_of_a_dry_run_cycle(harness: Harness, tmp_path: Path) -> None:
    """Completion SLA judged on the would-trigger: in time is met, never is a breach (marked dry run);
    a validation timeout force-fails nothing (no run log is written)."""
    sla = {"completionDeadline": "14:00", "validationTimeout": "13:00", "timezone": "UTC"}
    harness.write([shadow("early", tmp_path / "a", sla=sla), shadow("never", tmp_path / "b", sla=sla)])
    harness.sensors.ready("early")
    harness.sensors.set("never.freshness", "FAIL late")
    harness.sensors.set("never.volume", "PASS")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # 12:00: early would trigger
    harness.clock.set(datetime(2026, 3, 2, 14, 30, tzinfo=UTC))
    await watcher.run_once()
    assert await events(engine, "early", EventKind.SLA_BREACHED) == []
    breaches = await events(engine, "never", EventKind.SLA_BREACHED)
    assert sorted((b.details or {}).get("kind") for b in breaches) == ["completion", "validation"]
    assert all("dry run" in (b.message or "") for b in breaches)
    assert await engine.store.get_run_log("never", DAY, "daily") is None
    alerts = engine.ctx.alerts.messages()  # type: ignore[attr-defined]
    assert any("completion SLA breached (dry run)" in m for m in alerts)


async def test_drift_after_a_would_trigger_is_recorded_once_without_a_rerun(harness: Harness, tmp_path: Path) -> None:
    harness.write([shadow("p1", tmp_path / "launches", watch={"monitoring": {"enabled": True, "duration": "2h"}})])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    assert (await engine.start_run("p1")).outcome is Outcome.DRY_RUN
    harness.sensors.set("p1.volume", "FAIL rows vanished")
    harness.clock.advance(timedelta(minutes=30))
    for _ in range(2):
        assert (await engine.start_run("p1")).outcome is Outcome.NOT_READY
        harness.clock.advance(timedelta(minutes=5))
    [drift] = await events(engine, "p1", EventKind.MONITORING_DRIFT_DETECTED)
    assert drift.details == {"dryRun": True, "blocking": ["volume"]} and drift.date == DAY
    assert await engine.store.list_reruns("p1") == []
    harness.clock.advance(timedelta(hours=2))  # the window is over: the cycle is settled
    assert (await engine.start_run("p1")).outcome is Outcome.DRY_RUN


async def test_the_aws_launch_step_of_a_dry_run_pipeline_launches_nothing(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    harness.write([shadow("p1", marker)])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    steps = Steps(engine)
    cycle = await steps.resolve_cycle("p1")
    assert (await steps.acquire_lease(cycle, "exec-1")).proceed
    assert (await steps.check_run_log(cycle, "exec-1")).proceed
    launched = await steps.launch(cycle, "exec-1", run_log_version=None)
    assert not launched.proceed and launched.payload["outcome"] == "dry_run" and launched.payload["dryRun"]
    assert not marker.exists() and await engine.store.list_runs("p1") == []
    settled = await steps.check_run_log(cycle, "exec-1")
    assert not settled.proceed and settled.payload["outcome"] == "dry_run"
    assert len(await events(engine, "p1", EventKind.DRY_RUN_WOULD_TRIGGER)) == 1
