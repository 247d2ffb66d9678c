"""Reruns that need new data, against a real ``interlock serve`` (Redis and SQLite): a rerun of an
unchanged cycle is refused as no new data, a value pushed after the run completed reruns the cycle
(``onLateData: rerun``), a number that drifts during monitoring reruns it (POST_RUN_DRIFT). The
scenarios share the package's deployment; each has a pipeline of its own."""

from __future__ import annotations

from typing import Any

import pytest

from .support import Deployment, batch_pipeline, today

pytestmark = pytest.mark.e2e


def pushed_count_pipeline(d: Deployment, name: str, **extra: Any) -> dict[str, Any]:
    """``batch-ingestion`` whose record count is pushed (a load job reports it), completed by callback."""
    pipeline = batch_pipeline(name, d.orchestrator, **extra)
    pipeline["traits"]["resource-availability"] = {"ttl": 3600}
    d.orchestrator.complete_automatically(name)
    d.sensors.set(name, "freshness", 30)
    d.sensors.set(name, "upstream", True)
    return pipeline


async def push_count(d: Deployment, name: str, count: int) -> None:
    await d.post(f"/api/pipelines/{name}/traits/resource-availability",
                 {"status": "PASS", "value": {"count": count}, "reason": f"{count} rows loaded"}, expect=201)


async def test_a_rerun_of_an_unchanged_cycle_is_refused_as_no_new_data(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-no-new-data", today()
    d.sensors.ready(name)
    d.orchestrator.complete_automatically(name)
    await d.register(batch_pipeline(name, d.orchestrator))
    entry = await d.wait_run_log(name, day, "COMPLETED")

    refused = await d.client.post(f"/api/pipelines/{name}/rerun", json={"originalDate": day, "reason": "again"})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert (body["reason"], body["replacedRunId"], body["rejected"]) == ("no new data", entry["runId"], True)
    [rejected] = await d.events(name, "RERUN_REJECTED")
    assert rejected["details"]["reason"] == "no new data"
    assert await d.reruns(name) == [] and len(d.orchestrator.launches(name)) == 1

    forced = await d.post(f"/api/pipelines/{name}/rerun", {"originalDate": day, "reason": "job fixed",
                                                           "force": True}, expect=202)
    assert forced["rerun"]["forced"] is True
    await d.wait_launch(name, 2)


async def test_a_value_pushed_after_completion_reruns_the_cycle(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-late-data", today()
    pipeline = pushed_count_pipeline(d, name, watch={"onLateData": "rerun"})
    await d.register(pipeline)
    await push_count(d, name, 5000)
    first = await d.wait_run_log(name, day, "COMPLETED")

    await push_count(d, name, 6500)  # the load job reports more rows after the cycle ran
    late = await d.wait_event(name, "LATE_DATA_ARRIVAL")
    assert (late["traitType"], late["runId"], late["details"]["value"]) == ("resource-availability",
                                                                          first["runId"], {"count": 6500})
    await d.wait_launch(name, 2)
    [rerun] = await d.reruns(name)
    assert rerun["source"] == "late-data" and late["details"]["rerunId"] == rerun["rerunId"]
    accepted = await d.wait_event(name, "RERUN_ACCEPTED")
    assert accepted["details"]["budget"] == "maxDriftReruns"
    await d.wait_alert(name, "late data")
    done = await d.wait_run(name, "COMPLETED", where=lambda run: run.get("rerunId") == rerun["rerunId"])
    assert done["inputs"]["fingerprint"] != (await d.run(first["runId"]))["inputs"]["fingerprint"]


async def test_a_number_drifting_during_monitoring_reruns_the_cycle(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-numeric-drift", today()
    monitoring = {"enabled": True, "duration": "10m", "driftTrait": "resource-availability",
                  "driftField": "$.count", "driftThreshold": "10%"}
    await d.register(pushed_count_pipeline(d, name, watch={"monitoring": monitoring}))
    await push_count(d, name, 5000)
    entry = await d.wait_run_log(name, day, "COMPLETED_MONITORING")
    run = await d.run(entry["runId"])
    assert run["driftBaseline"]["value"] == 5000

    await push_count(d, name, 8000)  # 60% more rows than when the run completed
    drift = await d.wait_event(name, "POST_RUN_DRIFT")
    assert (drift["details"]["baseline"], drift["details"]["current"], drift["details"]["threshold"]) == (
        5000, 8000, "10%")
    await d.wait_launch(name, 2)
    [rerun] = await d.reruns(name)
    assert rerun["source"] == "drift" and rerun["originalRunId"] == entry["runId"]
    assert (await d.run(entry["runId"]))["status"] == "COMPLETED"  # its window closed on the drift
