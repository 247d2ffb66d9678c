"""The run lifecycle through the engine, with real subprocess evaluators and triggers."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from interlock_core.engine import CycleBusy, Outcome, RerunExists
from interlock_core.errors import InvalidTransition, NotFoundError
from interlock_core.model import EventKind, FailureCategory, RunStatus
from tests.helpers.project import Harness, pipeline, store_key
from tests.helpers.webhook import webhook_server

S = RunStatus


async def kinds(engine, name: str) -> list[str]:
    return [e.kind.value for e in await engine.store.list_events(name, 500)]


async def test_ready_pipeline_runs_once_and_dedups(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    harness.write([pipeline("p1", trigger={"type": "command", "argv": ["sh", "-c", f"echo x >> {marker}"]})])
    harness.sensors.ready("p1")
    engine = await harness.engine()

    outcome = await engine.start_run("p1")
    assert outcome.outcome is Outcome.TRIGGERED
    assert outcome.run is not None and outcome.run.status is S.COMPLETED
    assert outcome.run.run_key == await store_key(engine, "p1:daily:2026-03-02:1")
    log = await engine.store.get_run_log("p1", "2026-03-02", "daily")
    assert log is not None and log.status is S.COMPLETED and log.attempt_number == 1
    assert marker.read_text().count("x") == 1

    again = await engine.start_run("p1")
    assert again.outcome is Outcome.DUPLICATE
    assert "already completed" in again.message
    assert marker.read_text().count("x") == 1
    events = await kinds(engine, "p1")
    assert events.index("READINESS_CHECKED") < events.index("TRIGGER_FIRED")


async def test_not_ready_never_triggers(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    harness.write([pipeline("p1", trigger={"type": "command", "argv": ["sh", "-c", f"echo x >> {marker}"]})])
    harness.sensors.set("p1.freshness", "PASS")
    harness.sensors.set("p1.volume", "FAIL only 10 rows")
    alerts = None
    engine = await harness.engine()
    outcome = await engine.start_run("p1")
    assert outcome.outcome is Outcome.NOT_READY
    assert outcome.readiness is not None and outcome.readiness.blocking == ["volume"]
    assert not marker.exists()
    assert await engine.store.get_run_log("p1", "2026-03-02", "daily") is None
    assert await engine.store.list_runs("p1") == []
    # edge-triggered alerts: a second not-ready evaluation does not alert again
    alerts = engine.ctx.alerts
    first = list(alerts.messages())  # type: ignore[attr-defined]
    await engine.start_run("p1")
    assert alerts.messages() == first  # type: ignore[attr-defined]
    assert any("blocked by: [volume]" in m for m in first)


async def test_unknown_pipeline_is_not_found(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    engine = await harness.engine()
    with pytest.raises(NotFoundError):
        await engine.start_run("nope")
    with pytest.raises(NotFoundError):
        await engine.evaluate("nope")


async def test_failing_trigger_retries_with_backoff_then_exhausts(harness: Harness) -> None:
    harness.write([pipeline("p1", trigger={"type": "command", "argv": ["false"]},
                            retry={"maxAttempts": 3, "backoffSeconds": 60, "backoffMultiplier": 2})])
    harness.sensors.ready("p1")
    engine = await harness.engine()

    first = await engine.start_run("p1")
    assert first.run is not None and first.run.status is S.FAILED
    assert first.run.failure_category is FailureCategory.TRANSIENT
    events = await engine.store.list_events("p1", 100)
    scheduled = [e for e in events if e.kind is EventKind.RETRY_SCHEDULED]
    assert scheduled and scheduled[-1].message == "retry 2/3 scheduled after 1m0s"

    waiting = await engine.start_run("p1")
    assert waiting.outcome is Outcome.BACKOFF and waiting.retry_at is not None

    harness.clock.advance(61)
    second = await engine.start_run("p1")
    assert second.outcome is Outcome.TRIGGERED and second.run is not None and second.run.attempt == 2
    assert second.run.run_key == await store_key(engine, "p1:daily:2026-03-02:2")

    harness.clock.advance(121)
    third = await engine.start_run("p1")
    assert third.run is not None and third.run.attempt == 3 and third.run.status is S.FAILED

    harness.clock.advance(3600)
    for _ in range(3):
        done = await engine.start_run("p1")
        assert done.outcome is Outcome.EXHAUSTED
    alerts = engine.ctx.alerts.messages()  # type: ignore[attr-defined]
    assert sum("exhausted 3 retry attempts" in m for m in alerts) == 1
    log = await engine.store.get_run_log("p1", "2026-03-02", "daily")
    assert log is not None and log.alert_sent and len(log.retry_history) == 3
    assert [e.kind for e in await engine.store.list_events("p1", 200)].count(EventKind.RETRY_EXHAUSTED) == 1


async def test_permanent_failure_is_not_retried(harness: Harness) -> None:
    with webhook_server() as hook:
        hook.status = 400
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url + "/run"})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        first = await engine.start_run("p1")
        assert first.run is not None and first.run.status is S.FAILED
        assert first.run.failure_category is FailureCategory.PERMANENT
        harness.clock.advance(3600)
        again = await engine.start_run("p1")
        assert again.outcome is Outcome.NON_RETRYABLE
        assert hook.count == 1
        assert sum("non-retryable" in m for m in engine.ctx.alerts.messages()) == 1  # type: ignore[attr-defined]


async def test_http_trigger_runs_until_callback_and_callback_is_idempotent(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url + "/run",
                                               "body": {"pipeline": "${pipelineID}", "date": "${date}"}})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        outcome = await engine.start_run("p1")
        run = outcome.run
        assert run is not None and run.status is S.RUNNING
        assert hook.requests[0]["body"] == {"pipeline": "p1", "date": "2026-03-02"}
        assert hook.requests[0]["headers"]["Idempotency-Key"] == await store_key(engine, "p1:daily:2026-03-02:1")

        in_progress = await engine.start_run("p1")
        assert in_progress.outcome is Outcome.IN_PROGRESS

        done = await engine.complete_run(run.run_id, "success", {"rows": 5000})
        assert done.status is S.COMPLETED and done.metadata["rows"] == 5000
        assert done.metadata["scheduleId"] == "daily"  # callback metadata is merged, not replaced
        n_events = len(await engine.store.list_events("p1", 500))
        again = await engine.complete_run(run.run_id, "success", {"rows": 5000})
        assert again.version == done.version
        assert len(await engine.store.list_events("p1", 500)) == n_events
        with pytest.raises(InvalidTransition):
            await engine.complete_run(run.run_id, "failed")
        log = await engine.store.get_run_log("p1", "2026-03-02", "daily")
        assert log is not None and log.status is S.COMPLETED
        assert (await engine.start_run("p1")).outcome is Outcome.DUPLICATE


async def test_failed_callback_is_retried_by_policy(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                retry={"maxAttempts": 2, "backoffSeconds": 10})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        run = (await engine.start_run("p1")).run
        assert run is not None
        failed = await engine.complete_run(run.run_id, "failed", {"error": "spark oom"})
        assert failed.status is S.FAILED
        harness.clock.advance(11)
        retry = await engine.start_run("p1")
        assert retry.outcome is Outcome.TRIGGERED and retry.run is not None and retry.run.attempt == 2


async def test_concurrent_starts_from_two_engines_launch_once(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    harness.write([pipeline("p1", trigger={"type": "command", "argv": ["sh", "-c", f"echo x >> {marker}"]})])
    harness.sensors.ready("p1")
    a = await harness.engine()
    b = await harness.engine()
    outcomes = []

    async def go(engine) -> None:
        outcomes.append(await engine.start_run("p1"))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(go, a if i % 2 else b)
    launched = [o for o in outcomes if o.outcome is Outcome.TRIGGERED]
    assert len(launched) == 1
    assert marker.read_text().count("x") == 1
    assert {o.outcome for o in outcomes} <= {Outcome.TRIGGERED, Outcome.CLAIM_LOST, Outcome.DUPLICATE,
                                             Outcome.IN_PROGRESS}


async def test_orphaned_triggering_run_is_reconciled_after_its_lease(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    # a crashed engine claimed the cycle and never recorded the launch
    crashed = await harness.engine()
    run = await crashed.runs._claim(await crashed.get_pipeline("p1"), "daily", "2026-03-02", None, None)
    assert run is not None
    blocked = await engine.start_run("p1")
    assert blocked.outcome is Outcome.IN_PROGRESS
    reconciled = await engine.advance_run(run.run_id)
    assert reconciled.status is S.TRIGGERING  # lease still live
    harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)
    reconciled = await engine.advance_run(run.run_id)
    # relaunched under the same run key (attempt 1), not failed and retried under a new one
    assert reconciled.status is S.COMPLETED and reconciled.attempt == 1 and reconciled.run_key == run.run_key
    assert reconciled.owner == engine.ctx.owner
    assert (await engine.start_run("p1")).outcome is Outcome.DUPLICATE
    assert EventKind.RUN_RECONCILED in [e.kind for e in await engine.store.list_events("p1", 100)]


async def test_cancel_run(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        run = (await engine.start_run("p1")).run
        assert run is not None
        cancelled = await engine.cancel_run(run.run_id, "operator request")
        assert cancelled.status is S.CANCELLED
        assert (await engine.cancel_run(run.run_id)).status is S.CANCELLED
        with pytest.raises(InvalidTransition):
            await engine.complete_run(run.run_id, "success")


async def test_rerun_of_completed_date_runs_again(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    argv = ["sh", "-c", f"echo $INTERLOCK_RUN_KEY >> {marker}"]
    harness.write([pipeline("p1", trigger={"type": "command", "argv": argv})])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    first = await engine.start_run("p1")
    assert first.run is not None
    # forced: the traits are unchanged (the no-new-data breaker would refuse it otherwise)
    record, outcome = await engine.request_rerun("p1", "2026-03-02", "late data", force=True)
    assert outcome is not None and outcome.outcome is Outcome.TRIGGERED
    assert record.status is S.COMPLETED and record.original_run_id == first.run.run_id
    assert record.rerun_run_id == outcome.run.run_id  # type: ignore[union-attr]
    lines = marker.read_text().split()
    assert lines[0] == await store_key(engine, "p1:daily:2026-03-02:1")
    assert lines[1].startswith(await store_key(engine, "p1:daily:2026-03-02:rerun-p1-"))
    log = await engine.store.get_run_log("p1", "2026-03-02", "daily")
    assert log is not None and log.run_id == first.run.run_id  # the rerun never mutates the run log
    kinds_ = [e.kind for e in await engine.store.list_events("p1", 200)]
    assert EventKind.RERUN_REQUESTED in kinds_ and EventKind.RERUN_COMPLETED in kinds_


async def test_rerun_waits_for_readiness(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    harness.sensors.set("p1.freshness", "FAIL stale")
    harness.sensors.set("p1.volume", "PASS")
    engine = await harness.engine()
    record, outcome = await engine.request_rerun("p1", "2026-03-01", "fix")
    assert outcome is not None and outcome.outcome is Outcome.NOT_READY and record.status is S.PENDING
    harness.sensors.set("p1.freshness", "PASS")
    schedule = (await engine.get_pipeline("p1")).resolved_schedules()[0]
    await engine.cycles.pending_reruns(await engine.get_pipeline("p1"), schedule)
    done = await engine.store.get_rerun(record.rerun_id)
    assert done is not None and done.status is S.COMPLETED


async def test_monitoring_detects_drift_and_records_rerun(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                watch={"monitoring": {"enabled": True, "duration": "1h", "autoRerun": False}})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        run = (await engine.start_run("p1")).run
        assert run is not None
        monitoring = await engine.complete_run(run.run_id, "success")
        assert monitoring.status is S.COMPLETED_MONITORING and "monitoringStartedAt" in monitoring.metadata
        harness.clock.advance(60)
        still = await engine.advance_run(run.run_id)
        assert still.status is S.COMPLETED_MONITORING
        harness.sensors.set("p1.volume", "FAIL rows deleted")
        harness.clock.advance(60)
        drifted = await engine.advance_run(run.run_id)
        assert drifted.status is S.COMPLETED
        reruns = await engine.store.list_reruns("p1")
        assert len(reruns) == 1 and reruns[0].reason == "monitoring_drift_detected"
        assert reruns[0].metadata["blockingTraits"] == ["volume"] and reruns[0].original_run_id == run.run_id
        kinds_ = [e.kind for e in await engine.store.list_events("p1", 200)]
        assert EventKind.MONITORING_STARTED in kinds_ and EventKind.MONITORING_DRIFT_DETECTED in kinds_
        assert any("drift detected" in m for m in engine.ctx.alerts.messages())  # type: ignore[attr-defined]


async def test_monitoring_window_expires_without_drift(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                watch={"monitoring": {"enabled": True, "duration": "30m"}})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        run = (await engine.start_run("p1")).run
        assert run is not None
        await engine.complete_run(run.run_id, "success")
        harness.clock.advance(31 * 60)
        done = await engine.advance_run(run.run_id)
        assert done.status is S.COMPLETED
        assert EventKind.MONITORING_COMPLETED in [e.kind for e in await engine.store.list_events("p1", 200)]
        log = await engine.store.get_run_log("p1", "2026-03-02", "daily")
        assert log is not None and log.status is S.COMPLETED


async def test_cascade_silver_to_gold(harness: Harness) -> None:
    gold = pipeline("gold")
    gold["traits"]["freshness"] = {"evaluator": "builtin:upstream-job-log", "config": {"upstreamPipeline": "silver"}}
    harness.write([pipeline("silver"), gold])
    harness.sensors.ready("silver")
    harness.sensors.set("gold.volume", "PASS")
    engine = await harness.engine()
    blocked = await engine.start_run("gold")
    assert blocked.outcome is Outcome.NOT_READY and blocked.readiness.blocking == ["freshness"]  # type: ignore[union-attr]
    wakes = []

    async def listen() -> None:
        async for wake in engine.ctx.notifier.subscribe():
            wakes.append(wake)

    async with anyio.create_task_group() as tg:
        tg.start_soon(listen)
        await anyio.lowlevel.checkpoint()
        silver = await engine.start_run("silver")
        assert silver.run is not None and silver.run.status is S.COMPLETED
        await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    markers = await engine.store.list_cascade_markers("gold", "2026-03-02", "daily")
    assert [m.source for m in markers] == ["silver"]
    assert any(w.pipeline_id == "gold" and w.reason == "cascade" for w in wakes)
    gold_run = await engine.start_run("gold")
    assert gold_run.outcome is Outcome.TRIGGERED


async def test_claim_without_a_recorded_run_blocks_until_its_lease_then_is_claimed_again(harness: Harness) -> None:
    from interlock_core.model import RunLogEntry

    harness.write([pipeline("p1")])
    harness.sensors.set("p1.freshness", "PASS")
    harness.sensors.set("p1.volume", "FAIL not yet")
    engine = await harness.engine()
    now = harness.clock.now()
    claim = RunLogEntry(pipeline_id="p1", date="2026-03-02", status=S.TRIGGERING, attempt_number=1,
                        run_id="p1-lost", started_at=now, updated_at=now)
    assert await engine.store.cas_run_log(claim, None)
    assert (await engine.start_run("p1")).outcome is Outcome.IN_PROGRESS
    harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)
    # nothing was launched for it: the claim is released (PENDING, same attempt), no retry is spent
    waiting = await engine.start_run("p1")
    assert waiting.outcome is Outcome.NOT_READY and waiting.run_log is not None
    assert waiting.run_log.status is S.PENDING and waiting.run_log.attempt_number == 1
    assert "abandoned" in (waiting.run_log.failure_message or "")
    harness.sensors.ready("p1")
    again = await engine.start_run("p1")
    assert again.outcome is Outcome.TRIGGERED and again.run is not None and again.run.attempt == 1
    assert again.run.run_key == await store_key(engine, "p1:daily:2026-03-02:1")


async def test_cancelled_cycle_is_not_retried(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        run = (await engine.start_run("p1")).run
        assert run is not None
        await engine.cancel_run(run.run_id, "operator request")
        harness.clock.advance(3600)
        again = await engine.start_run("p1")
        assert again.outcome is Outcome.NON_RETRYABLE and "cancelled" in again.message
        assert hook.count == 1


async def test_a_manual_run_on_an_excluded_day_is_refused_but_a_rerun_runs(harness: Harness) -> None:
    harness.write([pipeline("p1", exclusions={"dates": ["2026-03-02"]})])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    refused = await engine.start_run("p1")
    assert refused.outcome is Outcome.EXCLUDED and "excluded" in refused.message
    assert await engine.store.list_runs("p1") == []
    _, outcome = await engine.request_rerun("p1", "2026-03-02", "holiday backfill")
    assert outcome is not None and outcome.outcome is Outcome.TRIGGERED


async def test_no_rerun_starts_while_a_run_of_its_cycle_is_active(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})])
        harness.sensors.set("p1.freshness", "FAIL stale")
        harness.sensors.set("p1.volume", "PASS")
        engine = await harness.engine()
        pending, _ = await engine.request_rerun("p1", "2026-03-02", "fix")  # not ready: stays PENDING
        harness.sensors.ready("p1")
        scheduled = (await engine.start_run("p1")).run
        assert scheduled is not None and scheduled.status is S.RUNNING
        with pytest.raises(CycleBusy) as busy:
            await engine.request_rerun("p1", "2026-03-02", "again")
        assert busy.value.details["activeRunId"] == scheduled.run_id
        waiting = await engine.reruns.start_pending(pending)  # what the watcher does
        assert waiting.outcome is Outcome.IN_PROGRESS and scheduled.run_id in waiting.message
        assert len(hook.requests) == 1
        assert (await engine.store.get_rerun(pending.rerun_id)).status is S.PENDING  # type: ignore[union-attr]
        await engine.complete_run(scheduled.run_id, "success")
        started = await engine.reruns.start_pending(pending)
        assert started.outcome is Outcome.TRIGGERED and len(hook.requests) == 2


async def test_reruns_requested_at_the_same_moment_never_overlap(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        refused: list[str] = []
        outcomes = []

        async def request(n: int) -> None:
            try:
                _, outcome = await engine.request_rerun("p1", "2026-03-02", f"at once {n}")
                outcomes.append(outcome)
            except CycleBusy as exc:
                refused.append(exc.details["activeRunId"])
            except RerunExists as exc:
                refused.append(exc.rerun_id)

        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(request, n)
        triggered = [o for o in outcomes if o is not None and o.outcome is Outcome.TRIGGERED]
        assert len(hook.requests) == 1 and len(triggered) == 1
        active = [r for r in await engine.store.list_runs("p1") if r.status in (S.TRIGGERING, S.RUNNING)]
        assert [r.run_id for r in active] == [triggered[0].run.run_id]  # type: ignore[union-attr]
        # one rerun recorded: every other request was refused and recorded nothing (none waits to run later)
        assert len(outcomes) == 1 and len(refused) == 7
        assert [r.rerun_id for r in await engine.store.list_reruns("p1")] == [triggered[0].rerun.rerun_id]  # type: ignore[union-attr]


async def test_cancel_a_pending_rerun(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    harness.sensors.set("p1.freshness", "FAIL stale")
    harness.sensors.set("p1.volume", "PASS")
    engine = await harness.engine()
    record, _ = await engine.request_rerun("p1", "2026-03-01", "fix")
    cancelled = await engine.cancel_rerun(record.rerun_id, "no longer needed")
    assert cancelled.status is S.CANCELLED and cancelled.completed_at is not None
    harness.sensors.ready("p1")
    schedule = (await engine.get_pipeline("p1")).resolved_schedules()[0]
    await engine.cycles.pending_reruns(await engine.get_pipeline("p1"), schedule)
    assert (await engine.store.get_rerun(record.rerun_id)).status is S.CANCELLED  # type: ignore[union-attr]
    assert await engine.store.list_runs("p1", 10) == []
    with pytest.raises(NotFoundError):
        await engine.cancel_rerun("rerun-nope")
