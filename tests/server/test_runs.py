"""Runs: POST /run through the engine's one control path, the completion callback, cancel, lists."""

from __future__ import annotations

from datetime import timedelta

from interlock_core.metrics import METRICS

from .conftest import Api


async def test_full_lifecycle(api: Api) -> None:
    """Reference §10.3 E2E_FullLifecycle, with POST /run really triggering (the run is RUNNING)."""
    evaluations_before = METRICS.total("interlock_evaluations_total")
    await api.register("sales")
    evaluated = (await api.client.post("/api/pipelines/sales/evaluate")).json()
    assert evaluated["status"] == "READY"
    assert all(t["status"] == "PASS" for t in evaluated["traits"])
    assert (await api.client.get("/api/pipelines/sales/readiness")).json()["status"] == "READY"

    started = await api.client.post("/api/pipelines/sales/run")
    assert started.status_code == 202, started.text
    run = started.json()
    assert (run["status"], run["pipelineId"], run["attempt"]) == ("RUNNING", "sales", 1)
    run_id = run["runId"]
    assert api.hook.requests[-1]["body"] == {"pipeline": "sales"}
    assert api.hook.last_header("X-Interlock-Callback-Url") == f"http://interlock.test/api/runs/{run_id}/complete"
    assert api.hook.last_header("Idempotency-Key") == run["runKey"]
    assert (await api.client.get(f"/api/runs/{run_id}")).json()["status"] == "RUNNING"

    completed = await api.client.post(f"/api/runs/{run_id}/complete",
                                      json={"status": "success", "metadata": {"rows": 5000}})
    assert completed.status_code == 200
    assert completed.json()["status"] == "COMPLETED"
    again = await api.client.post(f"/api/runs/{run_id}/complete",
                                  json={"status": "success", "metadata": {"rows": 5000}})
    assert again.status_code == 200
    assert again.json() == completed.json()  # idempotent: nothing changed

    final = (await api.client.get(f"/api/runs/{run_id}")).json()
    assert final["status"] == "COMPLETED"
    assert final["metadata"]["rows"] == 5000
    kinds = [e["kind"] for e in (await api.client.get("/api/pipelines/sales/events")).json()]
    wanted = ["TRAIT_EVALUATED", "READINESS_CHECKED", "RUN_STATE_CHANGED", "CALLBACK_RECEIVED"]
    assert [kinds.index(k) for k in wanted] == sorted(kinds.index(k) for k in wanted)
    assert kinds.count("CALLBACK_RECEIVED") == 1
    assert METRICS.total("interlock_evaluations_total") > evaluations_before
    metrics = (await api.client.get("/metrics")).text
    assert "interlock_evaluations_total" in metrics

    duplicate = await api.client.post("/api/pipelines/sales/run")
    assert duplicate.status_code == 409
    assert duplicate.json()["outcome"] == "duplicate"
    assert "already completed" in duplicate.json()["error"]


async def test_run_not_ready_is_412_with_blocking(api: Api) -> None:
    await api.register("blocked", evaluator="fail")
    response = await api.client.post("/api/pipelines/blocked/run")
    assert response.status_code == 412
    body = response.json()
    assert (body["status"], body["outcome"], body["blocking"]) == ("NOT_READY", "not_ready", ["source-ready"])
    assert body["error"].startswith("blocked is not ready")
    assert api.hook.requests == []


async def test_run_while_a_run_is_active_is_409_in_progress(api: Api) -> None:
    await api.register("sales")
    first = await api.client.post("/api/pipelines/sales/run")
    assert first.status_code == 202
    second = await api.client.post("/api/pipelines/sales/run")
    assert second.status_code == 409
    assert second.json()["outcome"] == "in_progress"
    assert second.json()["run"]["runId"] == first.json()["runId"]
    assert len(api.hook.requests) == 1


async def test_failed_launch_then_backoff_is_429_until_retry_time(api: Api) -> None:
    await api.register("sales")
    api.hook.status = 503
    failed = await api.client.post("/api/pipelines/sales/run")
    assert failed.status_code == 202
    assert failed.json()["status"] == "FAILED"
    assert failed.json()["failureCategory"] == "TRANSIENT"
    waiting = await api.client.post("/api/pipelines/sales/run")
    assert waiting.status_code == 429
    body = waiting.json()
    assert body["outcome"] == "backoff"
    assert body["retryAt"]
    assert waiting.headers["retry-after"] == "60"
    api.hook.status = 200
    api.clock.advance(timedelta(seconds=61))
    retried = await api.client.post("/api/pipelines/sales/run")
    assert retried.status_code == 202
    assert (retried.json()["status"], retried.json()["attempt"]) == ("RUNNING", 2)


async def test_run_without_trigger_is_422(api: Api) -> None:
    body = {"name": "manual", "archetype": "gate", "traits": {"source-ready": {"evaluator": "pass"}}}
    assert (await api.client.post("/api/pipelines", json=body)).status_code == 201
    response = await api.client.post("/api/pipelines/manual/run")
    assert response.status_code == 422
    assert response.json()["outcome"] == "no_trigger"


async def test_run_unknown_pipeline_and_bad_cycle(api: Api) -> None:
    assert (await api.client.post("/api/pipelines/ghost/run")).status_code == 404
    await api.register("sales")
    bad = await api.client.post("/api/pipelines/sales/run", json={"date": "2026-13-40"})
    assert bad.status_code == 400
    assert bad.json()["field"] == "date"
    dated = await api.client.post("/api/pipelines/sales/run", json={"date": "2026-03-01", "scheduleId": "daily"})
    assert dated.status_code == 202
    assert dated.json()["date"] == "2026-03-01"


async def test_complete_errors(api: Api) -> None:
    missing = await api.client.post("/api/runs/nope/complete", json={"status": "success"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "run 'nope' not found", "runId": "nope"}
    await api.register("sales")
    run_id = (await api.client.post("/api/pipelines/sales/run")).json()["runId"]
    bad = await api.client.post(f"/api/runs/{run_id}/complete", json={"status": "done"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "status must be 'success' or 'failed'", "field": "status"}
    no_status = await api.client.post(f"/api/runs/{run_id}/complete", json={})
    assert no_status.status_code == 400
    assert no_status.json()["field"] == "status"
    failed = await api.client.post(f"/api/runs/{run_id}/complete",
                                   json={"status": "failed", "metadata": {"failureCategory": "PERMANENT"}})
    assert failed.status_code == 200
    assert (failed.json()["status"], failed.json()["failureCategory"]) == ("FAILED", "PERMANENT")
    conflict = await api.client.post(f"/api/runs/{run_id}/complete", json={"status": "success"})
    assert conflict.status_code == 409
    assert conflict.json()["currentStatus"] == "FAILED"
    gave_up = await api.client.post("/api/pipelines/sales/run")
    assert gave_up.status_code == 409
    assert gave_up.json()["outcome"] == "non_retryable"


async def test_cancel_run(api: Api) -> None:
    await api.register("sales")
    run_id = (await api.client.post("/api/pipelines/sales/run")).json()["runId"]
    cancelled = await api.client.post(f"/api/runs/{run_id}/cancel", json={"reason": "operator"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED"
    assert (await api.client.post(f"/api/runs/{run_id}/cancel")).status_code == 200  # idempotent
    late = await api.client.post(f"/api/runs/{run_id}/complete", json={"status": "success"})
    assert late.status_code == 409
    assert (await api.client.post("/api/runs/nope/cancel")).status_code == 404


async def test_cancel_a_completed_run_is_409(api: Api) -> None:
    await api.register("sales")
    run_id = (await api.client.post("/api/pipelines/sales/run")).json()["runId"]
    await api.client.post(f"/api/runs/{run_id}/complete", json={"status": "success"})
    response = await api.client.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 409


async def test_list_runs_newest_first_with_limit(api: Api) -> None:
    await api.register("sales")
    assert (await api.client.get("/api/pipelines/sales/runs")).json() == []
    ids = []
    for day in ("2026-02-27", "2026-02-28", "2026-03-01"):
        api.clock.advance(1)
        ids.append((await api.client.post("/api/pipelines/sales/run", json={"date": day})).json()["runId"])
    runs = (await api.client.get("/api/pipelines/sales/runs")).json()
    assert [r["runId"] for r in runs] == ids[::-1]
    assert [r["runId"] for r in (await api.client.get("/api/pipelines/sales/runs?limit=1")).json()] == ids[-1:]
    for bad in ("0", "201", "abc", "-1"):
        response = await api.client.get(f"/api/pipelines/sales/runs?limit={bad}")
        assert response.status_code == 400
        assert response.json() == {"error": "limit must be an integer between 1 and 200", "field": "limit"}
    assert (await api.client.get("/api/pipelines/ghost/runs")).status_code == 404
    scoped = await api.client.get(f"/api/pipelines/sales/runs/{ids[0]}")
    assert scoped.status_code == 200
    assert scoped.json()["runId"] == ids[0]
    await api.register("other")
    assert (await api.client.get(f"/api/pipelines/other/runs/{ids[0]}")).status_code == 404
