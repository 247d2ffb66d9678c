"""The lifecycle cut into steps (interlock_core.engine.steps), as the AWS state machine drives it:
same gate, same records and events as start_run, plus the cycle lease held by an execution."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from interlock_core.engine import Engine
from interlock_core.engine.steps import CycleLeaseLost, CycleRef, Step, Steps
from interlock_core.errors import NotFoundError
from interlock_core.model import RunState, RunStatus
from tests.helpers.project import Harness, MemoryAlerts, pipeline, store_key

S = RunStatus
DAY = "2026-03-02"


async def setup(harness: Harness, *pipelines: dict[str, Any]) -> tuple[Engine, Steps]:
    harness.write(list(pipelines))
    engine = await harness.engine()
    return engine, Steps(engine)


async def evaluate_all(steps: Steps, cycle: CycleRef) -> Step:
    traits = (await steps.resolve_traits(cycle)).payload["traits"]
    results = [(await steps.evaluate_trait(cycle, t["traitType"])).payload for t in traits]
    return await steps.check_readiness(cycle, results)


async def kinds(engine: Engine, name: str) -> list[str]:
    return [e.kind.value for e in await engine.store.list_events(name, 500)]


async def test_a_cycle_step_by_step_matches_start_run(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    engine, steps = await setup(harness, pipeline("p1", trigger={"type": "command",
                                                                 "argv": ["sh", "-c", f"echo x >> {marker}"]}))
    harness.sensors.ready("p1")
    cycle = await steps.resolve_cycle("p1")
    assert cycle == CycleRef("p1", "daily", DAY)
    assert (await steps.check_exclusion(cycle)).proceed
    assert (await steps.acquire_lease(cycle, "exec-1")).proceed
    gate = await steps.check_run_log(cycle, "exec-1")
    assert gate.to_json() == {"result": "proceed", "payload": {"outcome": "evaluate", "attemptNumber": 1,
                                                               "runLogVersion": None, "rerunId": None}}
    readiness = await evaluate_all(steps, cycle)
    assert readiness.proceed and readiness.payload == {"status": "READY", "blocking": []}
    launched = await steps.launch(cycle, "exec-1", run_log_version=None)
    assert launched.payload["state"] == "succeeded" and launched.payload["status"] == "COMPLETED"
    run = await engine.store.get_run(launched.payload["runId"])
    assert run is not None and run.metadata["execution"] == "exec-1"
    assert run.run_key == await store_key(engine, "p1:daily:2026-03-02:1")
    outcome = await steps.record_outcome(cycle, run.run_id, "exec-1")
    assert outcome.proceed and outcome.payload["retryable"] is False and outcome.payload["attemptNumber"] == 1
    assert (await steps.notify_downstream(cycle, run.run_id)).payload == {"notified": []}
    assert (await steps.release_lease(cycle, "exec-1")).payload == {"released": True}

    log = await engine.store.get_run_log("p1", DAY, "daily")
    assert log is not None and log.status is S.COMPLETED and log.attempt_number == 1
    assert marker.read_text().count("x") == 1
    events = await kinds(engine, "p1")
    assert events.count("TRAIT_EVALUATED") == 2
    assert events.index("READINESS_CHECKED") < events.index("TRIGGER_FIRED")
    again = await steps.check_run_log(cycle, "exec-2")
    assert not again.proceed and again.payload["outcome"] == "duplicate"


async def test_the_cycle_lease_is_exclusive_renewable_and_bounded(harness: Harness) -> None:
    _, steps = await setup(harness, pipeline("p1"))
    cycle = await steps.resolve_cycle("p1")
    assert (await steps.acquire_lease(cycle, "a")).proceed
    held = await steps.acquire_lease(cycle, "b")
    assert not held.proceed and held.payload["reason"] == "cycle lease held by a"
    with pytest.raises(CycleLeaseLost):
        await steps.renew_lease(cycle, "b")
    harness.clock.advance(timedelta(minutes=14))
    await steps.renew_lease(cycle, "a", wait_seconds=3600)  # before a long wait
    harness.clock.advance(timedelta(minutes=70))
    assert not (await steps.acquire_lease(cycle, "b")).proceed
    harness.clock.advance(timedelta(minutes=10))  # a crashed owner's lease runs out by itself
    assert (await steps.acquire_lease(cycle, "b")).proceed
    assert (await steps.release_lease(cycle, "a")).payload == {"released": False}


async def test_launch_is_claimed_once_and_a_repeated_call_returns_the_same_run(harness: Harness,
                                                                                tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    engine, steps = await setup(harness, pipeline("p1", trigger={"type": "command",
                                                                 "argv": ["sh", "-c", f"echo x >> {marker}"]}))
    harness.sensors.ready("p1")
    cycle = await steps.resolve_cycle("p1")
    first = await steps.launch(cycle, "exec-1", run_log_version=None)
    repeated = await steps.launch(cycle, "exec-1", run_log_version=None)  # a Lambda retry of the same task
    assert repeated.proceed and repeated.payload["runId"] == first.payload["runId"]
    with pytest.raises(CycleLeaseLost):  # every step renews the lease: another execution cannot act
        await steps.launch(cycle, "exec-2", run_log_version=None)
    await steps.release_lease(cycle, "exec-1")
    other = await steps.launch(cycle, "exec-2", run_log_version=None)
    assert not other.proceed and other.payload["outcome"] == "claim_lost"
    assert marker.read_text().count("x") == 1
    assert len(await engine.store.list_runs("p1")) == 1


async def test_a_launch_step_that_died_before_recording_is_relaunched_under_the_same_key(
        harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "keys"
    engine, steps = await setup(harness, pipeline("p1", trigger={
        "type": "command", "argv": ["sh", "-c", f"echo $INTERLOCK_RUN_KEY >> {marker}"]}))
    harness.sensors.ready("p1")
    cycle = await steps.resolve_cycle("p1")
    # the trigger Lambda claimed the attempt and timed out mid-launch: the run stays TRIGGERING
    run = await engine.runs._claim(await engine.get_pipeline("p1"), "daily", DAY, None, None)
    assert run is not None
    harness.clock.advance(timedelta(minutes=10))  # the run lease and the cycle lease lapse
    assert (await steps.acquire_lease(cycle, "exec-2")).proceed
    gate = await steps.check_run_log(cycle, "exec-2")
    assert not gate.proceed and gate.payload["outcome"] == "in_progress" and gate.payload["runId"] == run.run_id
    polled = await steps.poll(cycle, run.run_id, "exec-2")
    assert polled.payload["status"] == "COMPLETED" and polled.payload["attemptNumber"] == 1
    key = await store_key(engine, "p1:daily:2026-03-02:1")
    assert marker.read_text().split() == [key]
    assert [r.run_key for r in await engine.store.list_runs("p1")] == [key]
    assert "RETRY_SCHEDULED" not in await kinds(engine, "p1")


async def test_a_failure_is_retried_after_its_backoff_as_the_policy_says(harness: Harness) -> None:
    engine, steps = await setup(harness, pipeline("p1", trigger={"type": "command", "argv": ["false"]},
                                                  retry={"maxAttempts": 2, "backoffSeconds": 60}))
    harness.sensors.ready("p1")
    cycle = await steps.resolve_cycle("p1")
    failed = await steps.launch(cycle, "x", run_log_version=None)
    assert failed.payload["state"] == "failed"
    decision = await steps.record_outcome(cycle, failed.payload["runId"], "x")
    assert not decision.proceed
    assert (decision.payload["retryable"], decision.payload["retryBackoffSeconds"]) == (True, 60)
    assert decision.payload["failureCategory"] == "TRANSIENT"
    waiting = await steps.check_run_log(cycle, "x")
    assert waiting.payload["outcome"] == "backoff" and waiting.payload["retryInSeconds"] == 60
    harness.clock.advance(60)
    gate = await steps.check_run_log(cycle, "x")
    assert gate.proceed and gate.payload["attemptNumber"] == 2
    second = await steps.launch(cycle, "x", run_log_version=gate.payload["runLogVersion"])
    assert second.payload["attemptNumber"] == 2
    final = await steps.record_outcome(cycle, second.payload["runId"], "x")
    assert final.payload["retryable"] is False
    assert "RETRY_EXHAUSTED" in await kinds(engine, "p1")


async def test_readiness_from_partial_results_marks_the_missing_trait_stale(harness: Harness) -> None:
    engine, steps = await setup(harness, pipeline("p1"))
    cycle = await steps.resolve_cycle("p1")
    result = await steps.check_readiness(cycle, [{"traitType": "freshness", "status": "PASS"}, "junk"])
    assert not result.proceed and result.payload["blocking"] == ["volume (STALE)"]
    cached = await engine.store.get_readiness("p1")
    assert cached is not None and cached.status == "NOT_READY"
    alerts = engine.ctx.alerts
    assert isinstance(alerts, MemoryAlerts) and any("blocked by" in m for m in alerts.messages())


async def test_stop_polling_leaves_the_run_running_and_alerts_once(harness: Harness) -> None:
    engine, steps = await setup(harness, pipeline("p1"))
    cycle = await steps.resolve_cycle("p1")
    now = harness.clock.now()
    await engine.store.create_run(RunState(run_id="r1", pipeline_id="p1", status=S.RUNNING, created_at=now,
                                           updated_at=now, date=DAY, trigger_type="command"))
    for _ in range(2):
        step = await steps.stop_polling(cycle, "r1", 120)
        assert not step.proceed and step.payload["status"] == "RUNNING"
    alerts = engine.ctx.alerts
    assert isinstance(alerts, MemoryAlerts)
    assert sum("still RUNNING after 120 status polls" in m for m in alerts.messages()) == 1


async def test_monitoring_step_reports_drift_with_its_rerun(harness: Harness) -> None:
    engine, steps = await setup(harness, pipeline("p1", watch={"interval": "30s",
                                                               "monitoring": {"enabled": True, "duration": "1h"}}))
    harness.sensors.ready("p1")
    cycle = await steps.resolve_cycle("p1")
    launched = await steps.launch(cycle, "m", run_log_version=None)
    assert launched.payload["status"] == "COMPLETED_MONITORING"
    assert launched.payload["monitoringIntervalSeconds"] == 30
    calm = await steps.monitor(cycle, launched.payload["runId"], "m")
    assert calm.proceed and calm.payload["driftDetected"] is False and calm.payload["monitoring"] is True
    harness.sensors.set("p1.volume", "FAIL rows dropped")
    drift = await steps.monitor(cycle, launched.payload["runId"], "m")
    assert not drift.proceed and drift.payload["driftDetected"] is True and drift.payload["status"] == "COMPLETED"
    assert drift.payload["blocking"] == ["volume"] and drift.payload["rerunId"]
    assert "MONITORING_DRIFT_DETECTED" in await kinds(engine, "p1")


async def test_replay_makes_one_rerun_per_execution(harness: Harness) -> None:
    engine, steps = await setup(harness, pipeline("p1"))
    harness.sensors.ready("p1")
    cycle = await steps.resolve_cycle("p1")
    await steps.launch(cycle, "first", run_log_version=None)
    await steps.release_lease(cycle, "first")
    replay = await steps.resolve_cycle("p1", replay=True)
    gate = await steps.check_run_log(replay, "replayer")
    again = await steps.check_run_log(replay, "replayer")
    assert gate.proceed and gate.payload["rerunId"] and again.payload["rerunId"] == gate.payload["rerunId"]
    launched = await steps.launch(replay, "replayer", run_log_version=None, rerun_id=gate.payload["rerunId"])
    assert launched.payload["rerunId"] == gate.payload["rerunId"] and launched.payload["status"] == "COMPLETED"
    [record] = await engine.store.list_reruns("p1")
    assert record.status is S.COMPLETED and record.reason == "replay requested"


async def test_unknown_pipeline_schedule_or_rerun_is_not_found(harness: Harness) -> None:
    _, steps = await setup(harness, pipeline("p1"))
    with pytest.raises(NotFoundError):
        await steps.resolve_cycle("nope")
    with pytest.raises(NotFoundError):
        await steps.resolve_cycle("p1", "hourly")
    with pytest.raises(NotFoundError):
        await steps.resolve_cycle("p1", rerun_id="rerun-missing")


async def test_poll_window_sets_max_polls_and_stop_polling_fails_the_run_past_it(harness: Harness) -> None:
    engine, steps = await setup(harness, pipeline("p1", watch={"interval": "30s"}, job={"pollWindow": "2m"}))
    cycle = await steps.resolve_cycle("p1")
    now = harness.clock.now()
    run = RunState(run_id="r1", pipeline_id="p1", status=S.RUNNING, created_at=now, updated_at=now, date=DAY,
                   trigger_type="command")
    await engine.store.create_run(run)
    assert steps.run_payload(run, await engine.get_pipeline("p1"))["maxPolls"] == 5  # 4 fit in 2m, one past it
    early = await steps.stop_polling(cycle, "r1", 5)
    assert not early.proceed and early.payload["state"] == "running"  # not past the window yet
    harness.clock.advance(121)
    late = await steps.stop_polling(cycle, "r1", 5)
    assert late.proceed and late.payload["state"] == "failed" and late.payload["failureCategory"] == "TIMEOUT"
    assert (await kinds(engine, "p1")).count("JOB_POLL_EXHAUSTED") == 1
