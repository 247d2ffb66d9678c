"""Local end-to-end scenarios 7-11 (run lifecycle): cascade silver -> gold, retry with backoff,
post-run monitoring and drift, replay, evaluation SLA breach."""

from __future__ import annotations

from datetime import datetime

import pytest

from .support import Deployment, batch_pipeline, eventually, http_trigger, late_enough_zone, today

pytestmark = pytest.mark.e2e


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_7_cascade_silver_to_gold(deployment: Deployment) -> None:
    d, silver, gold, day = deployment, "e2e-silver", "e2e-gold", today()
    d.sensors.ready(silver)
    await d.register({
        "name": gold, "archetype": "medallion",
        "traits": {"upstream-dependency": {"evaluator": "builtin:upstream-job-log",
                                           "config": {"upstreamPipeline": silver}, "ttl": 60}},
        "trigger": http_trigger(gold, d.orchestrator)})
    await d.register(batch_pipeline(silver, d.orchestrator))

    silver_run = await d.wait_run(silver, "RUNNING")
    [silver_launch] = d.orchestrator.launches(silver)
    assert silver_launch.run_id == silver_run["runId"]
    # gold keeps waiting while silver runs: its evaluator reads silver's run log
    not_ready = await d.wait_event(gold, "WATCHER_EVALUATION")
    assert not_ready["status"] == "NOT_READY"
    readiness = await d.post(f"/api/pipelines/{gold}/evaluate")
    assert readiness["status"] == "NOT_READY"
    assert readiness["traits"][0]["reason"] == f"upstream {silver} status is RUNNING for {day}/daily"
    assert d.orchestrator.launches(gold) == []

    assert (await d.orchestrator.call_back(silver_launch)).json()["status"] == "COMPLETED"
    silver_log = await d.wait_run_log(silver, day, "COMPLETED")
    cascade = await d.wait_event(silver, "CASCADE_NOTIFIED")
    assert cascade["details"]["notified"] == [f"{gold}/daily"]

    [gold_launch] = await d.wait_launch(gold)  # woken by the cascade
    gold_run = await d.run(gold_launch.run_id or "")
    assert _instant(gold_run["createdAt"]) >= _instant(silver_log["completedAt"])
    assert (await d.orchestrator.call_back(gold_launch)).json()["status"] == "COMPLETED"
    gold_log = await d.wait_run_log(gold, day, "COMPLETED")
    assert gold_log["runId"] == gold_run["runId"]


async def test_8_retry_with_backoff(deployment: Deployment) -> None:
    d, name, spent, day = deployment, "e2e-retry", "e2e-retry-spent", today()
    retry = {"maxAttempts": 3, "backoffSeconds": 1, "backoffMultiplier": 1.0}
    d.orchestrator.fail(name, times=1)  # the orchestrator rejects the first launch with a 500
    d.orchestrator.fail(spent)  # ... and every launch of the other pipeline
    for pipeline in (name, spent):
        d.sensors.ready(pipeline)
    await d.register(batch_pipeline(name, d.orchestrator, retry=retry))
    await d.register(batch_pipeline(spent, d.orchestrator, retry={**retry, "maxAttempts": 2}))

    failed = await d.wait_run(name, "FAILED")
    assert (failed["attempt"], failed["failureCategory"]) == (1, "TRANSIENT")
    assert "status 500" in failed["failureMessage"]
    retried = await d.wait_run(name, "RUNNING")  # attempt 2, once the 1 s backoff has passed
    assert retried["attempt"] == 2
    launches = d.orchestrator.launches(name)
    assert [x.cycle_key for x in launches] == [f"{name}:daily:{day}:1", f"{name}:daily:{day}:2"]
    assert launches[0].store_identity == launches[1].store_identity
    assert (await d.orchestrator.call_back(d.orchestrator.launches(name)[1])).json()["status"] == "COMPLETED"
    entry = await d.wait_run_log(name, day, "COMPLETED")
    assert entry["attemptNumber"] == 2
    assert [(h["attempt"], h["status"], h["failureCategory"]) for h in entry["retryHistory"]] == \
        [(1, "FAILED", "TRANSIENT")]
    [trigger_failed] = await d.events(name, "TRIGGER_FAILED")
    [scheduled] = await d.events(name, "RETRY_SCHEDULED")
    assert trigger_failed["runId"] == scheduled["runId"] == failed["runId"]
    assert scheduled["message"] == "retry 2/3 scheduled after 1s"

    # the other pipeline spends its two attempts: one exhaustion event and alert, then refusal
    exhausted = await d.wait_event(spent, "RETRY_EXHAUSTED")
    assert exhausted["message"] == "exhausted 2 attempts"
    await d.wait_alert(spent, f"Pipeline {spent} exhausted 2 retry attempts")
    await d.wait_intervals(2)
    assert len(d.orchestrator.launches(spent)) == 2
    assert len([a for a in d.alerts(spent) if "exhausted" in a["message"]]) == 1
    refused = await d.post(f"/api/pipelines/{spent}/run", expect=409)
    assert refused["outcome"] == "exhausted"


async def test_9_monitoring_and_drift(deployment: Deployment) -> None:
    d, name, quiet, day = deployment, "e2e-monitored", "e2e-monitored-quiet", today()
    for pipeline in (name, quiet):
        d.sensors.ready(pipeline)
    await d.register(batch_pipeline(name, d.orchestrator,
                                    watch={"monitoring": {"enabled": True, "duration": "60s"}}))
    await d.register(batch_pipeline(quiet, d.orchestrator,
                                    watch={"monitoring": {"enabled": True, "duration": "2s"}}))

    [launch] = await d.wait_launch(name)
    done = await d.orchestrator.call_back(launch)
    assert done.json()["status"] == "COMPLETED_MONITORING"
    await d.wait_run_log(name, day, "COMPLETED_MONITORING")
    started = await d.wait_event(name, "MONITORING_STARTED")
    assert started["message"] == "post-completion monitoring started (duration: 1m0s)"

    d.sensors.set(name, "freshness", 9999)  # the source drifts during the window
    drift = await d.wait_event(name, "MONITORING_DRIFT_DETECTED")
    assert drift["details"]["blockingTraits"] == ["source-freshness"]
    assert (await d.run(launch.run_id or ""))["status"] == "COMPLETED"
    [rerun] = await d.reruns(name)
    assert (rerun["reason"], rerun["status"], rerun["originalRunId"]) == \
        ("monitoring_drift_detected", "PENDING", launch.run_id)
    assert rerun["rerunId"] == drift["details"]["rerunId"]
    await d.wait_alert(name, "trait drift detected during monitoring")

    d.sensors.set(name, "freshness", 30)  # fixed: the watcher runs the pending rerun
    second = (await d.wait_launch(name, 2))[1]
    assert (await d.run(second.run_id or ""))["rerunId"] == rerun["rerunId"]
    await d.orchestrator.call_back(second)
    rerun_done = await d.get(f"/api/reruns/{rerun['rerunId']}")
    assert rerun_done["status"] in ("COMPLETED_MONITORING", "COMPLETED")

    # no drift: the window ends and the run is COMPLETED
    [quiet_launch] = await d.wait_launch(quiet)
    assert (await d.orchestrator.call_back(quiet_launch)).json()["status"] == "COMPLETED_MONITORING"
    ended = await d.wait_event(quiet, "MONITORING_COMPLETED")
    assert ended["runId"] == quiet_launch.run_id
    assert (await d.wait_run_log(quiet, day, "COMPLETED"))["runId"] == quiet_launch.run_id
    assert await d.reruns(quiet) == []


async def test_10_replay(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-replay", today()
    d.sensors.ready(name)
    await d.register(batch_pipeline(name, d.orchestrator, watch={"enabled": False}))
    run = await d.post(f"/api/pipelines/{name}/run", expect=202)
    [original] = d.orchestrator.launches(name)
    assert original.run_id == run["runId"]
    await d.orchestrator.call_back(original)

    # forced: nothing changed since the run (unforced, the no-new-data breaker refuses it)
    replay = await d.post(f"/api/pipelines/{name}/rerun", {"originalDate": day, "reason": "e2e replay test",
                                                           "force": True}, expect=202)
    rerun = replay["rerun"]
    assert (replay["outcome"]["outcome"], rerun["status"], rerun["originalRunId"]) == \
        ("triggered", "RUNNING", run["runId"])
    [_, relaunch] = d.orchestrator.launches(name)
    assert relaunch.run_id == rerun["rerunRunId"]
    assert relaunch.cycle_key == f"{name}:daily:{day}:{rerun['rerunId']}:1"
    assert (await d.orchestrator.call_back(relaunch)).json()["status"] == "COMPLETED"

    [listed] = await d.reruns(name)
    assert (listed["rerunId"], listed["status"]) == (rerun["rerunId"], "COMPLETED")
    assert [e["kind"] for e in await d.events(name, "RERUN_REQUESTED", "RERUN_COMPLETED")] == \
        ["RERUN_REQUESTED", "RERUN_COMPLETED"]
    entry = await d.run_log(name, day)  # the cycle's own record is untouched by the replay
    assert entry is not None and (entry["status"], entry["runId"]) == ("COMPLETED", run["runId"])


async def test_11_evaluation_sla_breach(deployment: Deployment) -> None:
    d, name = deployment, "e2e-sla-breach"
    zone = late_enough_zone()
    d.sensors.ready(name)
    d.sensors.set(name, "freshness", 999)
    await d.register(batch_pipeline(name, d.orchestrator, max_lag=5,
                                    sla={"evaluationDeadline": "00:01", "timezone": zone}))

    breach = await d.wait_event(name, "SLA_BREACHED")
    assert (breach["status"], breach["details"]["kind"], breach["date"]) == ("NOT_READY", "evaluation", today(zone))
    await d.wait_alert(name, "evaluation SLA breached")

    async def evaluated_again() -> bool:  # still not ready on every pass ...
        return len(await d.events(name, "WATCHER_EVALUATION")) >= 3

    await eventually(evaluated_again, what="three watcher evaluations")
    assert len(await d.events(name, "SLA_BREACHED")) == 1  # ... but the breach is reported once
    assert len([a for a in d.alerts(name) if "SLA breached" in a["message"]]) == 1
    assert d.orchestrator.launches(name) == []

    d.sensors.set(name, "freshness", 3)  # late is better than never: the run still starts
    await d.wait_launch(name)


async def test_the_server_stays_healthy(deployment: Deployment) -> None:
    async def healthy() -> dict[str, object] | None:
        health = (await deployment.client.get("/api/health")).json()
        return health if health["status"] == "ok" else None

    health = await eventually(healthy, what="a healthy server")
    assert health["store"] == {"provider": deployment.provider, "reachable": True}
