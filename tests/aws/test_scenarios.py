"""SPEC.md's eleven AWS scenarios, offline: the real state machine (deploy/statemachine.asl.json)
run by moto's Step Functions interpreter, Lambda tasks routed in-process to our handlers,
DynamoDB (with its stream feeding the stream-router) and SNS in moto. Each scenario checks the
states the execution entered and what the lifecycle left in the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interlock_core.model import RunStatus
from interlock_server.aws import stream_router
from tests.aws.stack import START, TODAY, AWSStack
from tests.moto_server import FAKE_REGION

S = RunStatus


def traits(max_lag: int = 60, threshold: int = 1000) -> dict[str, Any]:
    return {
        "source-freshness": {"evaluator": "freshness", "config": {"maxLagSeconds": max_lag}, "timeout": 10},
        "upstream-dependency": {"evaluator": "upstream-check", "config": {"expectComplete": True}, "timeout": 10},
        "resource-availability": {"evaluator": "record-count", "config": {"threshold": threshold}, "timeout": 10},
    }


def pipeline(name: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "archetype": "batch-ingestion", "traits": traits(),
                            "trigger": {"type": "command", "argv": ["true"]}}
    data.update(extra)
    return data


def passing(stack: AWSStack) -> None:
    stack.sensors.set(lag=10, count=5000, complete=True)


def blocking_of(execution: Any) -> list[str]:
    return list(execution.output["readiness"]["payload"]["blocking"])


# ------------------------------------------------------------------------------------------ 1
def test_progressive_readiness(stack: AWSStack) -> None:
    stack.sensors.set(lag=300, count=500, complete=False)
    stack.client("glue").create_job(Name="progressive-etl", Role="arn:aws:iam::123456789012:role/glue",
                                    Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/etl.py"})
    stack.put_pipeline(pipeline("e2e-progressive", traits=traits(max_lag=60, threshold=1000), trigger={
        "type": "glue", "jobName": "progressive-etl", "region": FAKE_REGION, "endpointURL": stack.moto.url}))

    r1 = stack.run("e2e-s1r1", pipelineID="e2e-progressive", scheduleID="daily")
    assert r1.status == "SUCCEEDED"
    assert r1.entered_all("CheckExclusion", "AcquireLease", "CheckRunLog", "ResolvePipeline", "EvaluateTraits",
                          "CheckReadiness", "CheckEvaluationSLA", "CheckValidationTimeout", "LogNotReady",
                          "ReleaseLease")
    assert "TriggerPipeline" not in r1.entered
    assert blocking_of(r1) == ["source-freshness", "upstream-dependency", "resource-availability"]

    stack.sensors.set(lag=30)
    r2 = stack.run("e2e-s1r2", pipelineId="e2e-progressive", scheduleId="daily")
    assert r2.status == "SUCCEEDED" and blocking_of(r2) == ["upstream-dependency", "resource-availability"]
    assert stack.run_log("e2e-progressive") is None  # not ready writes no run log, as in local mode

    stack.sensors.set(count=1500, complete=True)
    r3 = stack.run("e2e-s1r3", pipelineId="e2e-progressive", scheduleId="daily")
    assert r3.status == "SUCCEEDED"
    assert r3.output is not None and "logCompleted" in r3.output
    assert r3.entered_all("TriggerPipeline", "InitPollCounter", "WaitForRun", "PollRunStatus", "CheckCompletionSLA",
                          "LogCompleted", "NotifyDownstream", "ReleaseLease")
    log = stack.run_log("e2e-progressive")
    assert log.status is S.COMPLETED and log.attempt_number == 1
    kinds = stack.event_kinds("e2e-progressive")
    assert kinds.count("TRAIT_EVALUATED") == 9
    assert [e.status for e in stack.events("e2e-progressive") if e.kind == "READINESS_CHECKED"] == [
        "NOT_READY", "NOT_READY", "READY"]
    assert kinds.index("TRIGGER_FIRED") < kinds.index("CALLBACK_RECEIVED")
    blocked = [a for a in stack.alerts() if "blocked by" in a["message"]]
    assert len(blocked) == 1  # edge-triggered: the second NOT_READY did not alert again


# ------------------------------------------------------------------------------------------ 2
def test_rerun_after_quality_drop(stack: AWSStack) -> None:
    stack.sensors.set(lag=10, count=800, complete=True)
    stack.put_pipeline(pipeline("e2e-quality"))
    first = stack.run("e2e-s2r1", pipelineId="e2e-quality")
    assert first.status == "SUCCEEDED" and blocking_of(first) == ["resource-availability"]
    stack.sensors.set(count=1200)
    second = stack.run("e2e-s2r2", pipelineId="e2e-quality")
    assert second.status == "SUCCEEDED"
    assert second.entered_all("TriggerPipeline", "LogCompleted", "ReleaseLease")
    assert stack.run_log("e2e-quality").status is S.COMPLETED
    assert [r.status for r in stack.runs("e2e-quality")] == [S.COMPLETED]


# ------------------------------------------------------------------------------------------ 3
def test_dedup_of_a_completed_cycle(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-dedup"))
    assert stack.run("e2e-s3r1", pipelineId="e2e-dedup").status == "SUCCEEDED"
    again = stack.run("e2e-s3r2", pipelineId="e2e-dedup")
    assert again.status == "SUCCEEDED"
    assert again.entered_all("CheckExclusion", "AcquireLease", "CheckRunLog", "ReleaseLease")
    assert "ResolvePipeline" not in again.entered
    assert again.output["runLog"]["payload"]["outcome"] == "duplicate"
    assert len(stack.runs("e2e-dedup")) == 1


def test_concurrent_executions_of_one_cycle_trigger_once(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-race"))
    arns = [stack.start(f"e2e-race-{i}", pipelineId="e2e-race") for i in range(3)]
    done = [stack.wait(arn) for arn in arns]
    assert all(e.status == "SUCCEEDED" for e in done)
    assert sum("TriggerPipeline" in e.entered for e in done) == 1
    assert len(stack.runs("e2e-race")) == 1


# ------------------------------------------------------------------------------------------ 4
def test_excluded_day(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-excluded", exclusions={"days": [START.strftime("%A")]}))
    execution = stack.run("e2e-s4", pipelineId="e2e-excluded")
    assert execution.status == "SUCCEEDED"
    assert execution.entered == ["CheckExclusion", "IsExcluded", "Done"]
    assert execution.output["exclusion"]["payload"]["reason"] == "excluded day"
    assert stack.events("e2e-excluded") == [] and stack.runs("e2e-excluded") == []


def test_a_marker_before_the_schedule_window_waits_for_it(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-late", schedules=[{"name": "late", "after": "13:00", "timezone": "UTC"}]))
    execution = stack.run("e2e-s4b", pipelineId="e2e-late")  # at 12:00: an hour early
    assert execution.status == "SUCCEEDED"
    assert execution.entered[:4] == ["CheckExclusion", "IsExcluded", "WaitForSchedule", "CheckExclusion"]
    assert any(3000 < w <= 3600 for w in stack.waits) and "LogCompleted" in execution.entered
    assert stack.run_log("e2e-late", TODAY, "late").status is S.COMPLETED


# ------------------------------------------------------------------------------------------ 5
def test_pipeline_not_found_alerts_through_sns(stack: AWSStack) -> None:
    execution = stack.run("e2e-s5", pipelineId="e2e-nonexistent")
    assert execution.status == "FAILED" and execution.error == "NotFoundError"
    assert execution.entered == ["CheckExclusion", "AlertError", "ReleaseLeaseAfterError", "ExecutionFailed"]
    alerts = [a for a in stack.alerts() if a["subject"] == "[ERROR] interlock e2e-s5"]
    assert len(alerts) == 1 and "e2e-nonexistent" in alerts[0]["message"]


# ------------------------------------------------------------------------------------------ 6
def test_stream_router_starts_an_execution_per_marker(stack: AWSStack) -> None:
    stack.sensors.set(lag=10, count=10, complete=True)
    stack.put_pipeline(pipeline("e2e-stream", traits=traits(max_lag=9999)))
    ddb = stack.client("dynamodb")
    ddb.put_item(TableName=stack.table, Item={"PK": {"S": "PIPELINE#e2e-stream"},
                                              "SK": {"S": "MARKER#freshness#2026-03-02T12:00:00Z"}})
    [first] = stack.wait_for_execution("e2e-stream_")
    assert first.name.startswith("e2e-stream_") and "_daily_" in first.name and len(first.name) <= 80
    assert first.status == "SUCCEEDED" and "LogNotReady" in first.entered

    # a later marker for the same (still not ready) pipeline starts a new execution, and its own
    # date is the cycle's date
    stack.sensors.set(count=5000)
    ddb.put_item(TableName=stack.table, Item={"PK": {"S": "PIPELINE#e2e-stream"},
                                              "SK": {"S": "MARKER#ingest-complete#2026-03-01T23:00:00Z"},
                                              "scheduleID": {"S": "daily"}, "date": {"S": "2026-03-01"}})
    executions = stack.wait_for_execution("e2e-stream_", count=2)
    second = executions[1]
    assert second.name.startswith("e2e-stream_2026-03-01_daily_")
    assert second.status == "SUCCEEDED" and second.entered_all("TriggerPipeline", "LogCompleted")
    assert stack.run_log("e2e-stream", "2026-03-01").status is S.COMPLETED
    assert stack.run_log("e2e-stream", TODAY) is None
    assert len(stack.executions()) == 2  # the engine's own writes (events, runs …) start nothing

    # a redelivered record (the Lambda retries a batch) starts nothing new
    again = {"eventName": "MODIFY", "dynamodb": {
        "Keys": {"PK": {"S": "PIPELINE#e2e-stream"}, "SK": {"S": "MARKER#replayed#1"}},
        "NewImage": {"date": {"S": "2026-03-01"}}, "SequenceNumber": "999"}}
    assert len(stream_router.handler({"Records": [again]}, None)["started"]) == 1
    [*_, third] = stack.wait_for_execution("e2e-stream_2026-03-01_daily_", count=2)
    assert third.output["runLog"]["payload"]["outcome"] == "duplicate"
    assert len(stream_router.handler({"Records": [again, again]}, None)["deduplicated"]) == 2
    assert len(stack.executions()) == 3


# ------------------------------------------------------------------------------------------ 7
def test_cascade_from_silver_to_gold(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-silver", traits=traits(max_lag=600, threshold=1)))
    gold_traits = traits(max_lag=600, threshold=1)
    gold_traits["upstream-dependency"] = {"evaluator": "builtin:upstream-job-log",
                                          "config": {"upstreamPipeline": "e2e-silver"}}
    stack.put_pipeline(pipeline("e2e-gold", traits=gold_traits))

    early = stack.run("e2e-s7-gold-early", pipelineId="e2e-gold")
    assert early.status == "SUCCEEDED" and blocking_of(early) == ["upstream-dependency"]

    silver = stack.run("e2e-s7-silver", pipelineId="e2e-silver")
    assert silver.status == "SUCCEEDED"
    assert silver.entered_all("TriggerPipeline", "LogCompleted", "NotifyDownstream")
    assert silver.output["notifyDownstream"]["payload"]["notified"] == ["e2e-gold/daily"]
    [gold] = stack.wait_for_execution(f"e2e-gold_{TODAY}_daily_")
    assert gold.status == "SUCCEEDED" and gold.entered_all("TriggerPipeline", "LogCompleted")
    assert stack.run_log("e2e-silver").status is S.COMPLETED
    assert stack.run_log("e2e-gold").status is S.COMPLETED
    assert "CASCADE_NOTIFIED" in stack.event_kinds("e2e-silver")


# ------------------------------------------------------------------------------------------ 8
def test_retry_with_backoff_inside_the_execution(stack: AWSStack, tmp_path: Path) -> None:
    passing(stack)
    gate = tmp_path / "gate-open"
    stack.put_pipeline(pipeline("e2e-retry", trigger={"type": "command", "argv": ["test", "-e", str(gate)]},
                                retry={"maxAttempts": 3, "backoffSeconds": 5, "backoffMultiplier": 1.0}))
    stack.wait_hooks.append(lambda seconds: gate.touch() if seconds == 5 else None)  # opens during the backoff

    execution = stack.run("e2e-s8", pipelineId="e2e-retry")
    assert execution.status == "SUCCEEDED"
    assert execution.entered_all("TriggerPipeline", "LogTriggerFailed", "ShouldRetry", "RetryBackoffWait",
                                 "LogCompleted", "ReleaseLease")
    assert execution.entered.count("TriggerPipeline") == 2 and execution.entered.count("CheckRunLog") == 2
    assert 5.0 in stack.waits
    log = stack.run_log("e2e-retry")
    assert log.status is S.COMPLETED and log.attempt_number == 2
    assert [(a.attempt, a.status, a.failure_category) for a in log.retry_history] == [(1, S.FAILED, "TRANSIENT")]
    kinds = stack.event_kinds("e2e-retry")
    assert kinds.index("TRIGGER_FAILED") < kinds.index("RETRY_SCHEDULED") < kinds.index("TRIGGER_FIRED")
    assert any(e.message == "retry 2/3 scheduled after 5s" for e in stack.events("e2e-retry"))


def test_retries_exhausted_end_the_cycle(stack: AWSStack, tmp_path: Path) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-exhaust", trigger={"type": "command", "argv": ["false"]},
                                retry={"maxAttempts": 2, "backoffSeconds": 5}))
    execution = stack.run("e2e-s8b", pipelineId="e2e-exhaust")
    assert execution.status == "SUCCEEDED"
    assert execution.entered.count("TriggerPipeline") == 2 and execution.entered[-2:] == ["ReleaseLease", "Done"]
    log = stack.run_log("e2e-exhaust")
    assert log.status is S.FAILED and log.attempt_number == 2
    assert "RETRY_EXHAUSTED" in stack.event_kinds("e2e-exhaust")
    assert any("exhausted 2 retry attempts" in a["message"] for a in stack.alerts())
    later = stack.run("e2e-s8c", pipelineId="e2e-exhaust")
    assert later.output["runLog"]["payload"]["outcome"] == "exhausted" and "TriggerPipeline" not in later.entered


# ------------------------------------------------------------------------------------------ 9
def test_post_run_monitoring_detects_drift(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-monitored", watch={"interval": "30s",
                                                        "monitoring": {"enabled": True, "duration": "10m"}}))
    monitoring_waits: list[float] = []

    def degrade(seconds: float) -> None:
        if seconds == 30:
            monitoring_waits.append(seconds)
            if len(monitoring_waits) == 2:
                stack.sensors.set(lag=9999)  # the source goes stale during the window

    stack.wait_hooks.append(degrade)
    execution = stack.run("e2e-s9", pipelineId="e2e-monitored")
    assert execution.status == "SUCCEEDED"
    assert execution.entered_all("TriggerPipeline", "LogCompleted", "InitMonitoringCounter", "MonitoringWait",
                                 "MonitoringEvaluate", "CheckMonitoringExpired", "IsDrifted", "HandleDrift",
                                 "NotifyDownstream", "ReleaseLease")
    assert execution.entered.count("MonitoringEvaluate") == 2
    assert execution.output["drift"]["blocking"] == ["source-freshness"]
    kinds = stack.event_kinds("e2e-monitored")
    assert kinds.index("MONITORING_STARTED") < kinds.index("MONITORING_DRIFT_DETECTED")
    [run] = stack.runs("e2e-monitored")
    assert run.status is S.COMPLETED and stack.run_log("e2e-monitored").status is S.COMPLETED
    [rerun] = stack.reruns("e2e-monitored")
    assert rerun.reason == "monitoring_drift_detected" and rerun.original_run_id == run.run_id
    assert execution.output["drift"]["rerunId"] == rerun.rerun_id
    assert any("trait drift detected" in a["message"] for a in stack.alerts())


def test_monitoring_window_expires_with_real_waits(make_stack: Any) -> None:
    stack = make_stack(real_waits=True)
    passing(stack)
    stack.put_pipeline(pipeline("e2e-window", watch={"interval": "1s",
                                                     "monitoring": {"enabled": True, "duration": "2s"}}))
    execution = stack.run("e2e-s9b", pipelineId="e2e-window")
    assert execution.status == "SUCCEEDED" and stack.waits == []  # every Wait really waited
    assert execution.entered.count("MonitoringWait") >= 2
    assert execution.entered[-3:] == ["NotifyDownstream", "ReleaseLease", "Done"]
    assert "MONITORING_COMPLETED" in stack.event_kinds("e2e-window")
    assert stack.run_log("e2e-window").status is S.COMPLETED


# ----------------------------------------------------------------------------------------- 10
def test_replay_of_a_completed_date(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-replayed"))
    assert stack.run("e2e-s10r1", pipelineId="e2e-replayed").status == "SUCCEEDED"
    first_run = stack.run_log("e2e-replayed").run_id

    replay = stack.run("e2e-s10r2", pipelineId="e2e-replayed", replay=True)
    assert replay.status == "SUCCEEDED"
    assert replay.entered_all("CheckRunLog", "ResolvePipeline", "TriggerPipeline", "LogCompleted")
    [record] = stack.reruns("e2e-replayed")
    assert record.reason == "replay requested" and record.status is S.COMPLETED
    runs = {r.run_id: r for r in stack.runs("e2e-replayed")}
    assert len(runs) == 2 and runs[record.rerun_run_id].rerun_id == record.rerun_id
    assert stack.run_log("e2e-replayed").run_id == first_run  # the cycle's ledger keeps the original run
    kinds = stack.event_kinds("e2e-replayed")
    assert "RERUN_REQUESTED" in kinds and "RERUN_COMPLETED" in kinds

    plain = stack.run("e2e-s10r3", pipelineId="e2e-replayed")
    assert plain.output["runLog"]["payload"]["outcome"] == "duplicate"


def test_a_recorded_rerun_runs_by_id(stack: AWSStack) -> None:
    passing(stack)
    stack.put_pipeline(pipeline("e2e-rerun"))
    record, _ = stack.runtime.run(lambda steps: steps.engine.reruns.request_rerun(  # type: ignore[union-attr]
        "e2e-rerun", "2026-02-27", "backfill", execute=False))
    execution = stack.run("e2e-s10b", rerunId=record.rerun_id)
    assert execution.status == "SUCCEEDED" and "LogCompleted" in execution.entered
    assert execution.output["cycle"]["date"] == "2026-02-27"
    [done] = stack.reruns("e2e-rerun")
    assert done.status is S.COMPLETED and done.rerun_run_id


# ----------------------------------------------------------------------------------------- 11
def test_evaluation_sla_breach(stack: AWSStack) -> None:
    stack.sensors.set(lag=99999, count=5000, complete=True)
    stack.put_pipeline(pipeline("e2e-sla", traits=traits(max_lag=60),
                                sla={"evaluationDeadline": "00:01", "timezone": "UTC"}))
    execution = stack.run("e2e-s11", pipelineId="e2e-sla")
    assert execution.status == "SUCCEEDED"
    assert execution.entered_all("CheckReadiness", "CheckEvaluationSLA")
    assert execution.output["evaluationSLA"]["payload"]["breached"] is True
    again = stack.run("e2e-s11b", pipelineId="e2e-sla")
    assert again.output["evaluationSLA"]["payload"] == {**again.output["evaluationSLA"]["payload"],
                                                        "breached": True, "alerted": False}
    assert stack.event_kinds("e2e-sla").count("SLA_BREACHED") == 1  # once per cycle, however often checked
    assert sum("evaluation SLA breached" in a["message"] for a in stack.alerts()) == 1
    assert stack.dead_letters() == []  # published alerts are not dead-lettered


# ------------------------------------------------------------------------------ job.pollWindow
def test_a_job_running_past_its_poll_window_fails_and_is_retried(stack: AWSStack) -> None:
    passing(stack)
    cluster = stack.client("emr").run_job_flow(  # moto's EMR steps stay RUNNING forever
        Name="poll-window", ReleaseLabel="emr-6.15.0", JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole", Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1,
                                                  "KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
    stack.put_pipeline(pipeline("e2e-pollwin", watch={"interval": "30s"}, job={"pollWindow": "30s"},
                                retry={"maxAttempts": 2, "backoffSeconds": 5},
                                trigger={"type": "emr", "clusterID": cluster, "arguments": ["true"],
                                         "region": FAKE_REGION, "endpointURL": stack.moto.url}))
    execution = stack.run("e2e-pollwin1", pipelineId="e2e-pollwin")
    assert execution.status == "SUCCEEDED"
    assert execution.entered_all("TriggerPipeline", "PollRunStatus", "LogRunFailed", "ShouldRetry",
                                 "RetryBackoffWait", "ReleaseLease")
    assert execution.entered.count("TriggerPipeline") == 2  # TIMEOUT is retried by the default policy
    assert execution.entered.count("PollRunStatus") <= 2 * 2  # maxPolls: 1 fits in the window, one past it
    log = stack.run_log("e2e-pollwin")
    assert log.status is S.FAILED and log.attempt_number == 2 and log.failure_category == "TIMEOUT"
    assert stack.event_kinds("e2e-pollwin").count("JOB_POLL_EXHAUSTED") == 2
    assert "RETRY_EXHAUSTED" in stack.event_kinds("e2e-pollwin")
    assert sum("job.pollWindow" in a["message"] for a in stack.alerts()) == 2


# --------------------------------------------------------------------- evaluation windows, onDeadline
def test_evaluation_window_expired_skip_and_trigger(stack: AWSStack) -> None:
    stack.sensors.set(lag=99999, count=5000, complete=True)  # never ready
    window = {"window": "1h", "interval": "5m"}  # from midnight: long closed when the executions run
    stack.put_pipeline(pipeline("e2e-skip", traits=traits(max_lag=60),
                                schedules=[{"name": "daily", "evaluation": window, "onDeadline": "skip"}]))
    stack.put_pipeline(pipeline("e2e-anyway", traits=traits(max_lag=60),
                                schedules=[{"name": "daily", "evaluation": window, "onDeadline": "trigger"}]))
    skipped = stack.run("e2e-win-skip", pipelineId="e2e-skip")
    assert skipped.status == "SUCCEEDED" and "TriggerDegraded" not in skipped.entered
    assert skipped.output["evaluationSLA"]["payload"]["skipped"] is True
    assert stack.run_log("e2e-skip").status is S.SKIPPED
    again = stack.run("e2e-win-skip2", pipelineId="e2e-skip")
    assert again.output["runLog"]["payload"]["outcome"] == "skipped" and "EvaluateTraits" not in again.entered
    assert stack.event_kinds("e2e-skip").count("EVALUATION_WINDOW_EXPIRED") == 1
    assert stack.event_kinds("e2e-skip").count("CYCLE_SKIPPED") == 1

    anyway = stack.run("e2e-win-trigger", pipelineId="e2e-anyway")
    assert anyway.status == "SUCCEEDED"
    assert anyway.entered_all("CheckEvaluationSLA", "OnDeadline", "TriggerDegraded", "LogCompleted")
    [run] = stack.runs("e2e-anyway")
    assert run.degraded is True and run.status is S.COMPLETED
    assert "evaluation window" in run.metadata["degradedReason"]
    assert sum("evaluation window expired" in a["message"] for a in stack.alerts()) == 2
