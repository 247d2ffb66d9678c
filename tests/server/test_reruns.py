"""Reruns: request (really runs), not ready (PENDING), complete, list."""

from __future__ import annotations

import anyio
import httpx

from .conftest import Api

RERUN = {"originalDate": "2026-03-01", "reason": "late data corrected", "force": True}
"""Forced: these cycles' inputs are unchanged (the no-new-data breaker is tested on its own, below)."""


async def _completed_day(api: Api, name: str = "sales") -> str:
    await api.register(name)
    run_id = (await api.client.post(f"/api/pipelines/{name}/run", json={"date": "2026-03-01"})).json()["runId"]
    await api.client.post(f"/api/runs/{run_id}/complete", json={"status": "success"})
    return str(run_id)


async def test_a_rerun_of_a_date_that_never_ran_is_accepted_with_a_warning(api: Api) -> None:
    await _completed_day(api)
    ran = (await api.client.post("/api/pipelines/sales/rerun", json=RERUN)).json()["rerun"]
    assert "warning" not in ran
    await api.client.post(f"/api/runs/{ran['rerunRunId']}/complete", json={"status": "success"})
    typo = await api.client.post("/api/pipelines/sales/rerun", json={**RERUN, "originalDate": "2026-03-11"})
    assert typo.status_code == 202, typo.text  # its first run (a backfill is legitimate) …
    warning = typo.json()["rerun"]["warning"]
    assert warning.startswith("sales never ran for 2026-03-11/daily")  # … but the caller is told
    stored = (await api.client.get(f"/api/reruns/{typo.json()['rerun']['rerunId']}")).json()
    assert stored["warning"] == warning


async def test_request_rerun_runs_it(api: Api) -> None:
    original = await _completed_day(api)
    response = await api.client.post("/api/pipelines/sales/rerun", json={**RERUN, "description": "backfill"})
    assert response.status_code == 202, response.text
    body = response.json()
    rerun, outcome = body["rerun"], body["outcome"]
    assert (rerun["status"], rerun["originalDate"], rerun["originalRunId"]) == ("RUNNING", "2026-03-01", original)
    assert rerun["rerunRunId"] == outcome["run"]["runId"]
    assert outcome["outcome"] == "triggered"
    assert len(api.hook.requests) == 2
    got = await api.client.get(f"/api/reruns/{rerun['rerunId']}")
    assert got.status_code == 200
    assert got.json()["rerunId"] == rerun["rerunId"]


async def test_complete_rerun_completes_its_run(api: Api) -> None:
    await _completed_day(api)
    rerun = (await api.client.post("/api/pipelines/sales/rerun", json=RERUN)).json()["rerun"]
    done = await api.client.post(f"/api/reruns/{rerun['rerunId']}/complete",
                                 json={"status": "success", "metadata": {"rows": 7}})
    assert done.status_code == 200
    assert done.json()["status"] == "COMPLETED"
    run = (await api.client.get(f"/api/runs/{rerun['rerunRunId']}")).json()
    assert run["status"] == "COMPLETED"
    again = await api.client.post(f"/api/reruns/{rerun['rerunId']}/complete", json={"status": "success"})
    assert again.status_code == 200
    conflict = await api.client.post(f"/api/reruns/{rerun['rerunId']}/complete", json={"status": "failed"})
    assert conflict.status_code == 409


async def test_request_rerun_missing_fields(api: Api) -> None:
    await api.register("sales")
    no_date = await api.client.post("/api/pipelines/sales/rerun", json={"reason": "x"})
    assert no_date.status_code == 400
    assert no_date.json()["field"] == "originalDate"
    no_reason = await api.client.post("/api/pipelines/sales/rerun", json={"originalDate": "2026-03-01"})
    assert no_reason.status_code == 400
    assert no_reason.json()["field"] == "reason"
    empty_reason = await api.client.post("/api/pipelines/sales/rerun", json={"originalDate": "2026-03-01",
                                                                             "reason": ""})
    assert empty_reason.json() == {"error": "reason is required", "field": "reason"}
    bad_date = await api.client.post("/api/pipelines/sales/rerun", json={"originalDate": "03/01", "reason": "x"})
    assert bad_date.status_code == 400
    assert bad_date.json()["field"] == "originalDate"


async def test_request_rerun_unknown_pipeline_is_404_first(api: Api) -> None:
    response = await api.client.post("/api/pipelines/ghost/rerun", json={})
    assert response.status_code == 404


async def test_request_rerun_not_ready_is_412_with_pending_record(api: Api) -> None:
    await api.register("blocked", evaluator="fail")
    response = await api.client.post("/api/pipelines/blocked/rerun", json=RERUN)
    assert response.status_code == 412
    body = response.json()
    assert (body["status"], body["blocking"]) == ("NOT_READY", ["source-ready"])
    assert body["rerun"]["status"] == "PENDING"
    stored = (await api.client.get("/api/pipelines/blocked/reruns")).json()
    assert [r["rerunId"] for r in stored] == [body["rerun"]["rerunId"]]
    closed = await api.client.post(f"/api/reruns/{body['rerun']['rerunId']}/complete", json={"status": "failed"})
    assert closed.status_code == 200
    assert closed.json()["status"] == "FAILED"


async def test_list_reruns(api: Api) -> None:
    assert (await api.client.get("/api/reruns")).json() == []
    await _completed_day(api, "sales")
    await _completed_day(api, "orders")
    assert (await api.client.get("/api/pipelines/sales/reruns")).json() == []
    first = (await api.client.post("/api/pipelines/sales/rerun", json=RERUN)).json()["rerun"]["rerunId"]
    api.clock.advance(1)
    second = (await api.client.post("/api/pipelines/orders/rerun", json=RERUN)).json()["rerun"]["rerunId"]
    assert [r["rerunId"] for r in (await api.client.get("/api/pipelines/sales/reruns")).json()] == [first]
    assert [r["rerunId"] for r in (await api.client.get("/api/reruns")).json()] == [second, first]
    assert len((await api.client.get("/api/reruns?limit=1")).json()) == 1
    assert (await api.client.get("/api/reruns?limit=501")).status_code == 400
    assert (await api.client.get("/api/pipelines/sales/reruns?limit=201")).status_code == 400
    assert (await api.client.get("/api/pipelines/ghost/reruns")).status_code == 404


async def test_unknown_rerun_is_404(api: Api) -> None:
    assert (await api.client.get("/api/reruns/nope")).status_code == 404
    response = await api.client.post("/api/reruns/nope/complete", json={"status": "success"})
    assert response.status_code == 404
    assert response.json() == {"error": "rerun 'nope' not found", "rerunId": "nope"}


async def test_a_rerun_while_another_run_of_the_cycle_is_active_is_409_naming_it(api: Api) -> None:
    await _completed_day(api)
    first = (await api.client.post("/api/pipelines/sales/rerun", json=RERUN)).json()["rerun"]
    assert first["status"] == "RUNNING"
    second = await api.client.post("/api/pipelines/sales/rerun", json=RERUN)
    assert second.status_code == 409, second.text
    body = second.json()
    assert (body["activeRunId"], body["activeRunStatus"]) == (first["rerunRunId"], "RUNNING")
    assert first["rerunRunId"] in body["error"]
    assert len(api.hook.requests) == 2  # no second launch
    assert len((await api.client.get("/api/pipelines/sales/reruns")).json()) == 1  # nothing recorded
    await api.client.post(f"/api/runs/{first['rerunRunId']}/complete", json={"status": "success"})
    third = await api.client.post("/api/pipelines/sales/rerun", json=RERUN)
    assert third.status_code == 202, third.text


async def test_a_pending_rerun_can_be_cancelled_once_started_it_cannot(api: Api) -> None:
    await api.register("blocked", evaluator="fail")
    pending = (await api.client.post("/api/pipelines/blocked/rerun", json=RERUN)).json()["rerun"]
    cancelled = await api.client.post(f"/api/reruns/{pending['rerunId']}/cancel", json={"reason": "not needed"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["metadata"]["cancelReason"] == "not needed"
    again = await api.client.post(f"/api/reruns/{pending['rerunId']}/cancel")
    assert (again.status_code, again.json()["status"]) == (200, "CANCELLED")
    assert (await api.client.post("/api/reruns/rerun-ghost/cancel")).status_code == 404
    await _completed_day(api)
    running = (await api.client.post("/api/pipelines/sales/rerun", json=RERUN)).json()["rerun"]
    refused = await api.client.post(f"/api/reruns/{running['rerunId']}/cancel")
    assert refused.status_code == 409
    assert f"/api/runs/{running['rerunRunId']}/cancel" in refused.json()["error"]


async def test_simultaneous_rerun_requests_record_and_launch_one(api: Api) -> None:
    """Eight POSTs for one completed cycle at the same moment: one 202; seven 409s that record nothing,
    so no rerun is left PENDING for the watcher to launch once the first ends."""
    await _completed_day(api)
    answers: list[httpx.Response] = []

    async def ask() -> None:
        answers.append(await api.client.post("/api/pipelines/sales/rerun", json=RERUN))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(ask)
    assert sorted(r.status_code for r in answers) == [202] + [409] * 7, [r.text for r in answers]
    [won] = [r.json() for r in answers if r.status_code == 202]
    for refused in (r.json() for r in answers if r.status_code == 409):
        assert "rerun" not in refused, refused  # no record to name: nothing was recorded
        assert refused.get("activeRunId") == won["rerun"]["rerunRunId"] or \
            refused.get("rerunId") == won["rerun"]["rerunId"], refused
    listed = (await api.client.get("/api/pipelines/sales/reruns")).json()
    assert [r["rerunId"] for r in listed] == [won["rerun"]["rerunId"]]
    assert len(api.hook.requests) == 2  # the day's run and the one rerun

    await api.client.post(f"/api/runs/{won['rerun']['rerunRunId']}/complete", json={"status": "success"})
    schedule = (await api.engine.get_pipeline("sales")).resolved_schedules()[0]
    await api.engine.cycles.pending_reruns(await api.engine.get_pipeline("sales"), schedule)  # the watcher's step
    assert len(api.hook.requests) == 2


async def test_a_rerun_without_new_data_is_a_409_saying_so_and_force_runs_it(api: Api) -> None:
    original = await _completed_day(api)
    unforced = {k: v for k, v in RERUN.items() if k != "force"}
    refused = await api.client.post("/api/pipelines/sales/rerun", json=unforced)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert (body["rejected"], body["reason"], body["source"], body["replacedRunId"]) == (
        True, "no new data", "manual", original)
    assert body["fingerprint"] == body["replacedFingerprint"]
    assert 'POST /api/pipelines/sales/rerun with "force": true' in body["error"]
    assert (await api.client.get("/api/pipelines/sales/reruns")).json() == []  # nothing recorded
    kinds = [e["kind"] for e in (await api.client.get("/api/pipelines/sales/events")).json()]
    assert "RERUN_REJECTED" in kinds
    forced = await api.client.post("/api/pipelines/sales/rerun", json={**unforced, "force": True})
    assert forced.status_code == 202 and forced.json()["rerun"]["forced"] is True
    bad = await api.client.post("/api/pipelines/sales/rerun", json={**unforced, "force": "maybe"})
    assert bad.status_code == 400 and "force" in bad.text


async def test_a_spent_budget_is_a_409_naming_it(api: Api) -> None:
    await api.register("sales", retry={"maxManualReruns": 1})
    run_id = (await api.client.post("/api/pipelines/sales/run", json={"date": "2026-03-01"})).json()["runId"]
    await api.client.post(f"/api/runs/{run_id}/complete", json={"status": "success"})
    first = await api.client.post("/api/pipelines/sales/rerun", json=RERUN)
    assert first.status_code == 202, first.text
    await api.client.post(f"/api/runs/{first.json()['rerun']['rerunRunId']}/complete", json={"status": "success"})
    spent = await api.client.post("/api/pipelines/sales/rerun", json=RERUN)
    assert spent.status_code == 409, spent.text
    body = spent.json()
    assert (body["reason"], body["budget"], body["used"], body["limit"]) == ("budget exhausted", "maxManualReruns",
                                                                             1, 1)
    assert "retry.maxManualReruns" in body["error"]
