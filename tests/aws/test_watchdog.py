"""AWS mode's scheduled watchdog against moto: the watchdog Lambda over the DynamoDB store, its
summary, and a recovered trigger that reaches the state machine through the table stream. The
engine's clock is the stack's shifted clock, moved forward instead of waiting."""

from __future__ import annotations

from typing import Any

from interlock_core.engine.runs import cycle_lease_key
from interlock_core.model import RunLogEntry, RunState, RunStatus
from interlock_server.aws import watchdog
from tests.aws.stack import TODAY, AWSStack
from tests.aws.test_scenarios import passing, pipeline
from tests.moto_server import FAKE_REGION

S = RunStatus


def sweep() -> dict[str, Any]:
    return watchdog.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)


def test_a_missed_window_alerts_once_across_sweeps(stack: AWSStack) -> None:
    stack.put_pipeline(pipeline("dog-missed", schedules=[{"name": "daily", "after": "13:00", "deadline": "14:00"}]))
    first = sweep()  # 12:00: before the window; writes the watchdog's start mark
    assert first["enabled"] is True and first["pipelines"] == 1 and first["cycles"] == 1
    assert first["counts"]["SCHEDULE_MISSED"] == 0
    stack.clock.advance(2.5 * 3600)  # 14:30: the window closed with no execution at all
    second = sweep()
    stack.clock.advance(300)
    third = sweep()
    assert second["counts"]["SCHEDULE_MISSED"] == 1 and third["counts"]["SCHEDULE_MISSED"] == 0
    assert stack.event_kinds("dog-missed").count("SCHEDULE_MISSED") == 1
    missed = [a for a in stack.alerts() if "missed its schedule" in a["message"]]
    assert len(missed) == 1 and f"cycle {TODAY}/daily" in missed[0]["message"]
    assert stack.runs("dog-missed") == [] and stack.executions() == []  # nothing evaluated or started
    assert second["errors"] == []


def test_a_stuck_run_alerts_once_and_is_left_to_the_state_machine(stack: AWSStack) -> None:
    stack.put_pipeline(pipeline("dog-stuck", sla={"expectedDuration": "10m"}))
    now = stack.clock.now()
    run = RunState(run_id="dog-stuck-run", pipeline_id="dog-stuck", status=S.RUNNING, created_at=now,
                   updated_at=now, date=TODAY, trigger_type="command")
    entry = RunLogEntry(pipeline_id="dog-stuck", date=TODAY, status=S.RUNNING, attempt_number=1,
                        run_id=run.run_id, started_at=now, updated_at=now)
    stack.engine(lambda store: store.put_run(run))
    stack.engine(lambda store: store.put_run_log(entry))
    # an execution is looking after the cycle (it holds the cycle lease while it polls)
    stack.engine(lambda store: store.acquire_lease(cycle_lease_key("dog-stuck", "daily"), "an-execution", 3600))
    stack.clock.advance(9 * 60)
    assert sweep()["counts"]["RUN_STUCK"] == 0
    stack.clock.advance(2 * 60)
    summary = sweep()
    stack.clock.advance(60)
    again = sweep()
    assert summary["counts"]["RUN_STUCK"] == 1 and again["counts"]["RUN_STUCK"] == 0
    stuck = [e for e in stack.events("dog-stuck") if e.kind.value == "RUN_STUCK"]
    assert [e.run_id for e in stuck] == ["dog-stuck-run"]
    assert [a for a in stack.alerts() if "stuck" in a["message"]]
    left = stack.engine(lambda store: store.get_run("dog-stuck-run"))
    assert left.status is S.RUNNING and left.version == run.version  # not polled: the state machine polls
    assert again["adopted"] == [] and stack.executions() == []


def test_a_ready_cycle_nobody_started_is_recovered_through_the_stream(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("dog-heal"))
    for trait in ("source-freshness", "upstream-dependency", "resource-availability"):
        stack.runtime.run(lambda steps, t=trait: steps.engine.push_trait("dog-heal", t, "PASS"))  # type: ignore[union-attr]
    stack.clock.advance(60)  # past recoveryGrace, and no marker ever started an execution
    summary = sweep()
    assert summary["recovered"] == [f"dog-heal/daily/{TODAY}"] and summary["counts"]["TRIGGER_RECOVERED"] == 1
    [execution] = stack.wait_for_execution("dog-heal_")
    assert execution.status == "SUCCEEDED" and execution.entered_all("TriggerPipeline", "LogCompleted")
    assert stack.run_log("dog-heal").status is S.COMPLETED and len(stack.runs("dog-heal")) == 1
    assert sweep()["recovered"] == []  # triggered now: nothing more to recover
    assert stack.event_kinds("dog-heal").count("TRIGGER_RECOVERED") == 1


def test_a_claim_left_by_a_crashed_function_is_relaunched_under_the_same_attempt(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("dog-crash"))
    claimed_at = stack.clock.now()
    claim = RunLogEntry(pipeline_id="dog-crash", date=TODAY, status=S.TRIGGERING, attempt_number=1,
                        run_id="never-recorded", started_at=claimed_at, updated_at=claimed_at)
    stack.engine(lambda store: store.cas_run_log(claim, None))
    stack.clock.advance(6 * 60)  # past the run lease: nobody is about to record that run
    summary = sweep()
    assert summary["recovered"] == [f"dog-crash/daily/{TODAY}"]
    [execution] = stack.wait_for_execution("dog-crash_")
    assert execution.status == "SUCCEEDED" and execution.entered_all("TriggerPipeline", "LogCompleted")
    [run] = stack.runs("dog-crash")
    assert run.attempt == 1 and run.status is S.COMPLETED and stack.run_log("dog-crash").status is S.COMPLETED


def test_a_running_job_no_execution_looks_after_is_adopted_by_a_new_execution(stack: AWSStack) -> None:
    passing(stack)
    stack.client("glue").create_job(Name="dog-adopt-etl", Role="arn:aws:iam::123456789012:role/glue",
                                    Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/etl.py"})
    stack.put_pipeline(pipeline("dog-adopt", trigger={
        "type": "glue", "jobName": "dog-adopt-etl", "region": FAKE_REGION, "endpointURL": stack.moto.url}))
    # launched, then its execution went away (failed, or its poll window ended): nothing polls the job
    outcome = stack.runtime.run(lambda steps: steps.engine.start_run("dog-adopt"))  # type: ignore[union-attr]
    assert outcome.run is not None and outcome.run.status is S.RUNNING
    summary = sweep()
    assert summary["adopted"] == [f"dog-adopt/daily/{TODAY}"] and summary["recovered"] == []
    [execution] = stack.wait_for_execution("dog-adopt_")
    assert execution.status == "SUCCEEDED" and execution.entered_all("AdoptRun", "LogCompleted")
    [run] = stack.runs("dog-adopt")
    assert run.run_id == outcome.run.run_id and run.status is S.COMPLETED
    assert sweep()["adopted"] == []  # done: nothing left to adopt
