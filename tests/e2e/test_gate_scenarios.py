"""Local end-to-end scenarios 1-6 (readiness gate): progressive readiness, re-run after a quality
drop, dedup, excluded day, unknown pipeline, watcher-driven run. Each registers its own pipelines
on the shared deployment; the watcher (1 s interval) triggers, the orchestrator stand-in calls back."""

from __future__ import annotations

import pytest

from .support import Deployment, batch_pipeline, eventually, today, weekday

pytestmark = pytest.mark.e2e


async def test_1_progressive_readiness(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-progressive", today()
    d.sensors.set(name, "freshness", 300)
    d.sensors.set(name, "record-count", 500)
    d.sensors.set(name, "upstream", False)
    await d.register(batch_pipeline(name, d.orchestrator, max_lag=60, threshold=1000))

    r1 = await d.post(f"/api/pipelines/{name}/evaluate")
    assert r1["status"] == "NOT_READY"
    assert sorted(r1["blocking"]) == ["resource-availability", "source-freshness", "upstream-dependency"]
    assert {t["traitType"]: t["value"] for t in r1["traits"]}["source-freshness"] == \
        {"lagSeconds": 300, "threshold": 60}  # the pipeline's config reached the evaluator on stdin

    d.sensors.set(name, "freshness", 30)
    r2 = await d.post(f"/api/pipelines/{name}/evaluate")
    assert r2["status"] == "NOT_READY"
    assert sorted(r2["blocking"]) == ["resource-availability", "upstream-dependency"]
    assert d.orchestrator.launches(name) == []

    d.sensors.set(name, "record-count", 1500)
    d.sensors.set(name, "upstream", True)
    r3 = await d.post(f"/api/pipelines/{name}/evaluate")
    assert (r3["status"], r3["blocking"]) == ("READY", [])

    run = await d.wait_run(name, "RUNNING")  # the watcher triggered it; an http trigger stays RUNNING
    assert run["runKey"] == f"{name}:daily:{day}:1"
    [launch] = d.orchestrator.launches(name)
    assert (launch.run_id, launch.run_key) == (run["runId"], run["runKey"])
    assert launch.body == {"pipeline": name, "date": day}  # ${date} expanded
    assert launch.callback_url == f"{d.served.url}/api/runs/{run['runId']}/complete"

    completed = await d.orchestrator.call_back(launch, "success", {"rows": 1500})
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "COMPLETED"
    entry = await d.run_log(name, day)
    assert entry is not None and (entry["status"], entry["attemptNumber"], entry["runId"]) == \
        ("COMPLETED", 1, run["runId"])

    statuses = [e["status"] for e in await d.events(name, "READINESS_CHECKED")]
    assert statuses.count("NOT_READY") >= 2 and "READY" in statuses
    kinds = [e["kind"] for e in await d.events(name)]
    assert kinds.index("TRIGGER_FIRED") < kinds.index("CALLBACK_RECEIVED")
    assert any("blocked by" in a["message"] for a in d.alerts(name))  # how many: see test_alerts.py


async def test_2_rerun_after_quality_drop(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-quality", today()
    d.sensors.ready(name)
    await d.register(batch_pipeline(name, d.orchestrator))
    [first] = await d.wait_launch(name)
    assert (await d.orchestrator.call_back(first)).json()["status"] == "COMPLETED"

    d.sensors.set(name, "record-count", 800)  # the data turns out short: run the date again
    refused = await d.post(f"/api/pipelines/{name}/rerun", {"originalDate": day, "reason": "quality drop"},
                           expect=412)
    assert refused["status"] == "NOT_READY" and refused["blocking"] == ["resource-availability"]
    assert refused["rerun"]["status"] == "PENDING"
    rerun_id = refused["rerun"]["rerunId"]
    await d.wait_intervals(2)
    assert len(d.orchestrator.launches(name)) == 1  # still blocked

    d.sensors.set(name, "record-count", 1200)  # fixed: the watcher starts the pending rerun
    second = (await d.wait_launch(name, 2))[1]
    assert second.run_key == f"{name}:daily:{day}:{rerun_id}:1"
    rerun_run = await d.wait_run_status(second.run_id or "", "RUNNING")  # not before its launch is recorded
    assert rerun_run["rerunId"] == rerun_id
    assert (await d.orchestrator.call_back(second)).json()["status"] == "COMPLETED"
    rerun = await d.get(f"/api/reruns/{rerun_id}")
    assert (rerun["status"], rerun["rerunRunId"], rerun["reason"]) == ("COMPLETED", second.run_id, "quality drop")
    entry = await d.run_log(name, day)
    assert entry is not None and (entry["status"], entry["runId"]) == ("COMPLETED", first.run_id)
    assert [e["details"]["rerunId"] for e in await d.events(name, "RERUN_COMPLETED")] == [rerun_id]


async def test_3_dedup(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-dedup", today()
    d.sensors.ready(name)
    await d.register(batch_pipeline(name, d.orchestrator))
    [launch] = await d.wait_launch(name)
    assert (await d.orchestrator.call_back(launch)).json()["status"] == "COMPLETED"

    await d.wait_intervals(2)  # the completed run log keeps the watcher from triggering again
    assert len(await d.runs(name)) == 1
    refused = await d.post(f"/api/pipelines/{name}/run", expect=409)
    assert refused["outcome"] == "duplicate" and day in refused["error"]
    await d.wait_intervals(1)
    assert len(d.orchestrator.launches(name)) == 1
    assert len(await d.runs(name)) == 1


async def test_4_excluded_day(deployment: Deployment) -> None:
    d, excluded, control = deployment, "e2e-excluded", "e2e-not-excluded"
    for name in (excluded, control):
        d.sensors.ready(name)
    # today and tomorrow (UTC): the scenario holds across midnight
    await d.register(batch_pipeline(excluded, d.orchestrator, exclusions={"days": [weekday(0), weekday(1)]}))
    await d.register(batch_pipeline(control, d.orchestrator))

    await d.wait_run(control, "RUNNING")  # the watcher has seen both pipelines
    await d.wait_intervals(2)
    assert await d.runs(excluded) == []
    assert d.orchestrator.launches(excluded) == []
    assert await d.events(excluded, "WATCHER_EVALUATION", "TRAIT_EVALUATED") == []


async def test_5_pipeline_not_found(deployment: Deployment) -> None:
    d = deployment
    for method, path in (("POST", "evaluate"), ("POST", "run"), ("GET", "readiness"), ("GET", "runs")):
        response = await d.client.request(method, f"/api/pipelines/e2e-nonexistent/{path}")
        assert response.status_code == 404, (path, response.text)
        assert "e2e-nonexistent" in response.json()["error"]


async def test_6_watcher_driven_run(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-watcher-test", today()
    d.sensors.ready(name)
    d.orchestrator.complete_automatically(name, "success", delay=0.2)  # the job reports back by itself
    await d.register(batch_pipeline(name, d.orchestrator))

    run = await d.wait_run(name, "COMPLETED")
    entry = await d.wait_run_log(name, day, "COMPLETED")
    assert entry["runId"] == run["runId"]
    [launch] = d.orchestrator.launches(name)
    assert launch.run_id == run["runId"]

    async def called_back() -> list[tuple[str, int]]:
        return [c for c in d.orchestrator.callbacks if c[0] == launch.callback_url]

    assert await eventually(called_back, what="the callback's answer") == [(launch.callback_url, 200)]
    kinds = [e["kind"] for e in await d.events(name)]
    for earlier, later in (("READINESS_CHECKED", "RUN_STATE_CHANGED"), ("RUN_STATE_CHANGED", "TRIGGER_FIRED"),
                           ("TRIGGER_FIRED", "CALLBACK_RECEIVED")):
        assert kinds.index(earlier) < kinds.index(later), kinds
    assert [e["status"] for e in await d.events(name, "WATCHER_EVALUATION")] == ["READY"]
