"""The pipeline's state over the API: ``GET /state`` and the ``state`` of ``GET /readiness`` use the
vocabulary of ``interlock status`` and the dashboard; a completed cycle stays COMPLETED when its
trait results expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .conftest import Api

MORNING = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


async def test_a_completed_cycle_is_completed_after_its_trait_results_expire(api: Api) -> None:
    api.clock.set(MORNING)
    await api.register("sales")
    await api.register("orders")
    started = await api.client.post("/api/pipelines/sales/run")
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    assert (await api.client.post(f"/api/runs/{run_id}/complete", json={"status": "success"})).status_code == 200
    api.clock.advance(timedelta(hours=3))  # the trait's 300 s TTL lapsed

    readiness = (await api.client.get("/api/pipelines/sales/readiness")).json()
    assert (readiness["status"], readiness["blocking"]) == ("NOT_READY", ["source-ready (STALE)"])  # as before
    assert readiness["state"] == "COMPLETED"  # and what it means for the cycle

    state = await api.client.get("/api/pipelines/sales/state")
    assert state.status_code == 200
    body = state.json()
    assert (body["pipelineId"], body["state"], body["readiness"], body["blockers"]) == (
        "sales", "COMPLETED", "STALE", [])
    assert (body["scheduleId"], body["date"]) == ("daily", "2026-03-02")
    assert body["message"] == f"2026-03-02 completed at 2026-03-02 06:00 UTC (run {run_id})"
    assert (body["lastRun"]["runId"], body["lastRunCurrent"]) == (run_id, True)
    assert body["cycles"] == [{"scheduleId": "daily", "date": "2026-03-02", "state": "COMPLETED",
                               "message": body["message"], "runStatus": "COMPLETED", "runId": run_id,
                               "attempt": 1}]

    never = (await api.client.get("/api/pipelines/orders/state")).json()
    assert (never["state"], [b["trait"] for b in never["blockers"]]) == ("STALE", ["source-ready"])
    assert "lastRun" not in never and never["lastRunCurrent"] is False
    assert (await api.client.get("/api/pipelines/orders/readiness")).json()["state"] == "STALE"


async def test_state_of_an_unknown_pipeline_is_404(api: Api) -> None:
    missing = await api.client.get("/api/pipelines/ghost/state")
    assert missing.status_code == 404
    assert missing.json()["error"] == "pipeline 'ghost' not found"
