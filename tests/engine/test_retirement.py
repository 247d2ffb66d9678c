"""Pipelines follow their files (fake clock, SQLite): a deleted pipeline file retires its pipeline —
never evaluated, triggered or alerted again by the watcher or any entry point, its history kept —
while a run already under way is followed to its end; restoring the file brings it back; pipelines
registered over the API are none of the files' business."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from interlock_core import errors
from interlock_core.config import load_project
from interlock_core.engine import Outcome
from interlock_core.engine.steps import Steps
from interlock_core.errors import ConfigErrors
from interlock_core.model import EventKind, PipelineConfig, PipelineOrigin, RunStatus
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline
from tests.helpers.webhook import webhook_server

S = RunStatus
K = EventKind


async def kinds(engine: Any, name: str) -> list[EventKind]:
    return [e.kind for e in await engine.store.list_events(name, 1000)]


def watch_files(harness: Harness, engine: Any) -> Any:
    """What ``interlock serve`` runs beside the watcher: re-reads the pipeline files when they change."""
    from interlock_core.engine.pipeline_files import PipelineFileWatch

    return PipelineFileWatch(engine, load_project(harness.root))


def delete_file(harness: Harness, name: str) -> str:
    path = harness.root / "pipelines" / f"{name}.yaml"
    text = path.read_text()
    path.unlink()
    return text


async def test_a_deleted_file_retires_its_pipeline_and_the_watcher_never_acts_on_it(harness: Harness) -> None:
    harness.write([pipeline("gone", sla={"evaluationDeadline": "12:30", "timezone": "UTC"}), pipeline("kept")])
    engine = await harness.engine()
    watcher, files = Watcher(engine), watch_files(harness, engine)
    await watcher.run_once()  # neither is ready: evaluated, nothing runs
    calls = harness.sensors.calls("gone.freshness")
    assert calls == 1

    text = delete_file(harness, "gone")
    report = await files.check()

    assert report is not None and report.retired == ["gone"] and report.registered == []
    alerted = len(engine.ctx.alerts.alerts)  # type: ignore[attr-defined]
    stored = await engine.store.get_pipeline("gone")
    assert stored is not None and stored.retired_at == harness.clock.now() and stored.origin is PipelineOrigin.FILE
    harness.sensors.ready("gone")
    harness.sensors.ready("kept")
    for _ in range(4):  # past its evaluation deadline: no SLA check, no alert either
        harness.clock.advance(600)
        await watcher.run_once()
    assert harness.sensors.calls("gone.freshness") == calls  # never evaluated again
    assert await engine.store.list_runs("gone") == []  # never triggered
    assert [r.status for r in await engine.store.list_runs("kept")] == [S.COMPLETED]
    assert K.SLA_BREACHED not in await kinds(engine, "gone")
    assert not [a for a in engine.ctx.alerts.alerts[alerted:] if a.pipeline_id == "gone"]  # type: ignore[attr-defined]
    assert K.PIPELINE_RETIRED in await kinds(engine, "gone")  # history kept, retirement recorded
    assert await files.check() is None  # nothing changed since: nothing re-read

    (harness.root / "pipelines" / "gone.yaml").write_text(text)
    restored = await files.check()
    assert restored is not None and restored.restored == ["gone"]
    assert (await engine.get_pipeline("gone")).retired_at is None
    harness.clock.advance(30)
    await watcher.run_once()
    assert [r.status for r in await engine.store.list_runs("gone")] == [S.COMPLETED]
    assert K.PIPELINE_RESTORED in await kinds(engine, "gone")


async def test_a_command_started_after_the_file_was_deleted_retires_the_pipeline(harness: Harness) -> None:
    """What every CLI command does when it opens the store: sync with the files as they are now."""
    harness.write([pipeline("gone"), pipeline("kept")])
    await harness.engine()
    harness.write([pipeline("kept")])  # gone.yaml deleted
    harness.sensors.ready("gone")
    engine = await harness.engine()

    await Watcher(engine).run_once()

    assert await engine.store.list_runs("gone") == [] and harness.sensors.calls("gone.freshness") == 0
    stored = await engine.store.get_pipeline("gone")
    assert stored is not None and stored.to_json_dict().get("retiredAt") == "2026-03-02T12:00:00Z"
    with pytest.raises(errors.ConflictError, match="is retired"):
        await engine.start_run("gone")
    assert K("PIPELINE_RETIRED") in await kinds(engine, "gone")


async def test_every_entry_point_refuses_a_retired_pipeline(harness: Harness) -> None:
    harness.write([pipeline("gone")])
    harness.sensors.ready("gone")
    engine = await harness.engine()
    delete_file(harness, "gone")
    await watch_files(harness, engine).check()

    attempts = [engine.evaluate("gone"), engine.start_run("gone"),
                engine.request_rerun("gone", "2026-03-01", "again"),
                engine.push_trait("gone", "freshness", "PASS")]
    for attempt in attempts:
        with pytest.raises(errors.PipelineRetired) as refused:
            await attempt
        body = refused.value.to_json()
        assert refused.value.status_code == 409 and body["retired"] is True and body["pipelineId"] == "gone"
        assert "restore its YAML file" in body["error"] and body["retiredAt"] == "2026-03-02T12:00:00Z"
    assert harness.sensors.calls("gone.freshness") == 0
    assert await engine.store.list_runs("gone") == [] and await engine.store.list_reruns("gone") == []
    assert (await engine.check_readiness("gone")).pipeline_id == "gone"  # reading still works


async def test_a_pipeline_retired_while_it_is_evaluated_launches_nothing(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    evaluate = engine.evaluation.evaluate

    async def evaluate_then_lose_the_file(*args: Any, **kwargs: Any) -> Any:
        result = await evaluate(*args, **kwargs)
        delete_file(harness, "p1")
        await watch_files(harness, engine).check()
        return result

    engine.runs.evaluation.evaluate = evaluate_then_lose_the_file  # type: ignore[method-assign]
    with pytest.raises(errors.PipelineRetired):
        await engine.start_run("p1")
    assert await engine.store.list_runs("p1") == []
    assert await engine.store.get_run_log("p1", "2026-03-02", "daily") is None


async def test_a_run_under_way_is_followed_to_its_end_but_never_retried_or_alerted(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                retry={"maxAttempts": 3, "backoffSeconds": 1})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        watcher = Watcher(engine)
        await watcher.run_once()
        [run] = await engine.store.list_runs("p1")
        assert run.status is S.RUNNING and hook.count == 1
        delete_file(harness, "p1")
        await watch_files(harness, engine).check()

        harness.clock.advance(60)
        await watcher.run_once()
        assert (await engine.store.get_run(run.run_id)).status is S.RUNNING  # type: ignore[union-attr]
        failed = await engine.complete_run(run.run_id, "failed")  # its callback is still heard and recorded
        assert failed.status is S.FAILED
        for _ in range(3):
            harness.clock.advance(60)
            await watcher.run_once()

        assert hook.count == 1  # no retry launched
        entry = await engine.store.get_run_log("p1", "2026-03-02", "daily")
        assert entry is not None and entry.status is S.FAILED and entry.attempt_number == 1
        assert K.RETRY_SCHEDULED not in await kinds(engine, "p1")
        assert engine.ctx.alerts.alerts == []  # type: ignore[attr-defined]


async def test_monitoring_of_a_retired_pipeline_ends_without_a_drift_check(harness: Harness) -> None:
    harness.write([pipeline("p1", watch={"monitoring": {"enabled": True, "duration": "2h"}})])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    [run] = await engine.store.list_runs("p1")
    assert run.status is S.COMPLETED_MONITORING
    calls = harness.sensors.calls("p1.volume")
    harness.sensors.set("p1.volume", "FAIL drifted")  # would be drift, were it checked
    delete_file(harness, "p1")
    await watch_files(harness, engine).check()

    harness.clock.advance(60)
    await watcher.run_once()

    assert (await engine.store.get_run(run.run_id)).status is S.COMPLETED  # type: ignore[union-attr]
    assert harness.sensors.calls("p1.volume") == calls and await engine.store.list_reruns("p1") == []
    [closed] = [e for e in await engine.store.list_events("p1", 100) if e.kind is K.MONITORING_COMPLETED]
    assert "retired" in (closed.message or "")


async def test_an_orphaned_launch_of_a_retired_pipeline_is_failed_not_relaunched(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})])
        engine = await harness.engine()
        crashed = await harness.engine()  # claims the cycle and dies before launching
        run = await crashed.runs._claim(await crashed.get_pipeline("p1"), "daily", "2026-03-02", None, None)
        assert run is not None
        delete_file(harness, "p1")
        await watch_files(harness, engine).check()
        harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)

        await Watcher(engine).run_once()

        assert hook.count == 0
        failed = await engine.store.get_run(run.run_id)
        assert failed is not None and failed.status is S.FAILED and "retired" in (failed.failure_message or "")


async def test_the_watchdog_sweep_leaves_a_retired_pipeline_alone(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}])])
    harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = await harness.engine()
    await engine.watchdog_sweep()  # the watchdog's start mark
    delete_file(harness, "p1")
    await watch_files(harness, engine).check()
    harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))  # its window closed with nothing run

    summary = await engine.watchdog_sweep()

    assert summary.to_json()["counts"][K.SCHEDULE_MISSED.value] == 0 and summary.recovered == []
    assert engine.ctx.alerts.alerts == []  # type: ignore[attr-defined]


async def test_a_retired_upstream_still_cascades_but_a_retired_downstream_gets_no_marker(harness: Harness) -> None:
    downstream = pipeline("down")
    downstream["traits"]["freshness"]["config"]["upstreamPipeline"] = "up"
    harness.write([pipeline("up"), downstream])
    harness.sensors.ready("up")
    engine = await harness.engine()
    delete_file(harness, "down")
    await watch_files(harness, engine).check()
    outcome = await engine.start_run("up")
    assert outcome.outcome is Outcome.TRIGGERED
    assert await engine.store.list_cascade_markers("down", "2026-03-02", "daily") == []


async def test_api_pipelines_and_pending_reruns_are_left_alone(harness: Harness) -> None:
    harness.write([pipeline("filed")])
    engine = await harness.engine()
    api = PipelineConfig.model_validate(pipeline("by-api", trigger={"type": "http", "url": "http://127.0.0.1:9"},
                                                 traits={"freshness": {}, "volume": {}}))  # pushed traits
    await engine.register_pipeline(api, origin=PipelineOrigin.API)
    harness.sensors.set("filed.volume", "FAIL empty")
    record, _ = await engine.request_rerun("filed", "2026-03-01", "backfill")
    assert record.status is S.PENDING
    delete_file(harness, "filed")

    report = await watch_files(harness, engine).check()

    assert report is not None and report.retired == ["filed"]
    assert not (await engine.get_pipeline("by-api")).retired
    assert (await engine.store.get_rerun(record.rerun_id)).status is S.PENDING  # type: ignore[union-attr]
    harness.sensors.ready("filed")
    await Watcher(engine).run_once()  # the pending rerun waits for the file to come back
    assert await engine.store.list_runs("filed") == []


async def test_a_file_with_errors_holds_every_retirement_back(harness: Harness) -> None:
    harness.write([pipeline("p1"), pipeline("p2")])
    engine = await harness.engine()
    files = watch_files(harness, engine)
    delete_file(harness, "p2")
    (harness.root / "pipelines" / "broken.yaml").write_text("name: [unclosed\n")

    report = await files.check()

    assert report is not None and report.retired == [] and report.problems
    assert "broken.yaml" in report.problems[0].message
    assert not (await engine.get_pipeline("p2")).retired  # it may be the broken file's pipeline
    (harness.root / "pipelines" / "broken.yaml").unlink()
    assert (await files.check()).retired == ["p2"]  # type: ignore[union-attr]


async def test_a_pipeline_file_cannot_claim_to_be_retired(harness: Harness) -> None:
    harness.write([pipeline("p1", retiredAt="2026-01-01T00:00:00Z")])
    with pytest.raises(ConfigErrors) as refused:
        load_project(harness.root)
    [problem] = refused.value.errors
    assert problem.key == "retiredAt" and (problem.file or "").endswith("p1.yaml") and problem.line
    assert "set by Interlock when a pipeline's file is deleted" in problem.reason


async def test_aws_steps_start_nothing_for_a_retired_pipeline_but_adopt_its_run_under_way(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("idle"), pipeline("busy", trigger={"type": "http", "url": hook.url})])
        harness.sensors.ready("idle")
        harness.sensors.ready("busy")
        engine = await harness.engine()
        steps = Steps(engine)
        launched = await engine.start_run("busy")
        assert launched.run is not None and launched.run.status is S.RUNNING
        for name in ("idle", "busy"):
            delete_file(harness, name)
        await watch_files(harness, engine).check()

        idle = await steps.resolve_cycle("idle")
        assert (await steps.acquire_lease(idle, "exec-1")).proceed
        gate = await steps.check_run_log(idle, "exec-1")
        assert not gate.proceed and gate.payload["outcome"] == Outcome.RETIRED
        launch = await steps.launch(idle, "exec-1", run_log_version=None)
        assert not launch.proceed and launch.payload["outcome"] == Outcome.RETIRED
        busy = await steps.resolve_cycle("busy")
        assert (await steps.acquire_lease(busy, "exec-2")).proceed
        adopted = await steps.check_run_log(busy, "exec-2")  # the state machine adopts and polls it
        assert adopted.payload["outcome"] == Outcome.IN_PROGRESS and adopted.payload["runId"] == launched.run.run_id
        assert await engine.store.list_runs("idle") == [] and hook.count == 1
        assert harness.sensors.calls("idle.freshness") == 0


async def test_aws_sla_steps_never_alert_for_a_retired_pipeline(harness: Harness) -> None:
    harness.write([pipeline("p1", sla={"evaluationDeadline": "09:00", "completionDeadline": "10:00",
                                       "validationTimeout": "11:00", "timezone": "UTC"})])
    engine = await harness.engine()
    steps = Steps(engine)
    cycle = await steps.resolve_cycle("p1")  # it is 12:00: every deadline has passed
    delete_file(harness, "p1")
    await watch_files(harness, engine).check()

    evaluation = await steps.check_evaluation_sla(cycle)
    validation = await steps.check_validation_timeout(cycle)

    assert evaluation.payload["alerted"] is False and evaluation.payload["completionBreached"] is True
    assert validation.proceed and await engine.store.get_run_log("p1", "2026-03-02", "daily") is None
    assert engine.ctx.alerts.alerts == [] and K.SLA_BREACHED not in await kinds(engine, "p1")  # type: ignore[attr-defined]
