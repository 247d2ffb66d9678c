"""A pipeline whose file was deleted, over the API: listed and read as retired (``retiredAt``), every
route that would act on it refused with a 409 naming it retired and how to restore it; DELETE removes
API pipelines and refuses a live pipeline file's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interlock_core.config import load_project
from interlock_core.engine.pipeline_files import PipelineFileWatch
from interlock_core.model import format_timestamp

from .conftest import Api
from .support import http_pipeline


async def retire(api: Api, name: str) -> None:
    (api.root / "pipelines" / f"{name}.yaml").unlink()
    report = await PipelineFileWatch(api.engine, load_project(api.root)).check()  # what serve does by itself
    assert report is not None and report.retired == [name]


async def test_a_retired_pipeline_is_shown_retired_and_refuses_every_action(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(pipelines=[http_pipeline("filed", "http://127.0.0.1:9/jobs")])
    await api.register("by-api")
    before = (await api.client.get("/api/pipelines/filed")).json()
    assert before["origin"] == "file" and "retiredAt" not in before

    await retire(api, "filed")

    listed = {p["name"]: p for p in (await api.client.get("/api/pipelines")).json()}
    assert listed["filed"]["retiredAt"] == format_timestamp(api.clock.now())
    assert "retiredAt" not in listed["by-api"]  # API pipelines are not the files' business
    one = (await api.client.get("/api/pipelines/filed")).json()
    assert one["retiredAt"] == listed["filed"]["retiredAt"] and one["origin"] == "file"
    acts = [("/api/pipelines/filed/evaluate", {}), ("/api/pipelines/filed/run", {}),
            ("/api/pipelines/filed/rerun", {"originalDate": "2026-01-01", "reason": "again"}),
            ("/api/pipelines/filed/traits/signal", {"status": "PASS"})]
    for path, body in acts:
        response = await api.client.post(path, json=body)
        assert response.status_code == 409, (path, response.text)
        refusal = response.json()
        assert refusal["retired"] is True and refusal["pipelineId"] == "filed", path
        assert refusal["retiredAt"] == one["retiredAt"]
        assert "is retired" in refusal["error"] and "restore its YAML file" in refusal["error"]
    assert len(api.hook.requests) == 0
    for path in ("/api/pipelines/filed/readiness", "/api/pipelines/filed/runs", "/api/pipelines/filed/events"):
        assert (await api.client.get(path)).status_code == 200, path  # its history stays readable


async def test_a_client_cannot_register_a_retired_pipeline(api: Api) -> None:
    claimed = http_pipeline("sales", api.hook.url, retiredAt="2026-01-01T00:00:00Z", origin="file")
    response = await api.client.post("/api/pipelines", json=claimed)
    assert response.status_code == 201, response.text
    stored = (await api.client.get("/api/pipelines/sales")).json()
    assert "retiredAt" not in stored and stored["origin"] == "api"
    assert (await api.client.post("/api/pipelines/sales/evaluate")).status_code == 200


async def test_delete_removes_api_pipelines_and_refuses_a_live_file_pipeline(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(pipelines=[http_pipeline("filed", "http://127.0.0.1:9/jobs")])
    refused = await api.client.delete("/api/pipelines/filed")
    assert refused.status_code == 409
    assert refused.json()["origin"] == "file" and "delete its file" in refused.json()["error"]
    assert (await api.client.get("/api/pipelines/filed")).status_code == 200

    await api.register("by-api")
    run = await api.client.post("/api/pipelines/by-api/run")
    assert run.status_code == 202, run.text
    busy = await api.client.delete("/api/pipelines/by-api")
    assert busy.status_code == 409 and busy.json()["activeRunId"] == run.json()["runId"]
    assert (await api.client.post(f"/api/runs/{run.json()['runId']}/complete", json={"status": "success"})) \
        .status_code == 200
    assert (await api.client.delete("/api/pipelines/by-api")).status_code == 204
    assert (await api.client.get(f"/api/runs/{run.json()['runId']}")).status_code == 200  # its runs stay
    assert (await api.client.get("/api/pipelines/by-api")).status_code == 404

    await retire(api, "filed")
    assert (await api.client.delete("/api/pipelines/filed")).status_code == 204  # a retired one may go
