"""Pipelines: register, list, get, delete; name validation; command triggers; masked secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Api
from .support import http_pipeline


async def test_health_reports_ok(api: Api) -> None:
    response = await api.client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"] == {"provider": "sqlite", "reachable": True}
    assert body["watcher"]["enabled"] is False


async def test_register_list_get_delete(api: Api) -> None:
    assert (await api.client.get("/api/pipelines")).json() == []
    created = await api.register("sales")
    assert created["name"] == "sales"
    listed = (await api.client.get("/api/pipelines")).json()
    assert [p["name"] for p in listed] == ["sales"]
    got = await api.client.get("/api/pipelines/sales")
    assert got.status_code == 200
    assert got.json()["trigger"]["type"] == "http"
    deleted = await api.client.delete("/api/pipelines/sales")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await api.client.get("/api/pipelines/sales")).status_code == 404
    assert (await api.client.get("/api/pipelines")).json() == []


async def test_register_replaces_an_existing_pipeline(api: Api) -> None:
    await api.register("sales")
    updated = await api.client.post("/api/pipelines", json=http_pipeline("sales", api.hook.url, tier=1))
    assert updated.status_code == 201
    assert (await api.client.get("/api/pipelines/sales")).json()["tier"] == 1


async def test_unknown_pipeline_is_404_on_get_and_delete(api: Api) -> None:
    for response in (await api.client.get("/api/pipelines/nope"), await api.client.delete("/api/pipelines/nope")):
        assert response.status_code == 404
        assert response.json() == {"error": "pipeline 'nope' not found", "pipelineId": "nope"}


async def test_register_without_name_names_the_field(api: Api) -> None:
    response = await api.client.post("/api/pipelines", json={"archetype": "gate"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "name"
    assert "name" in body["error"]
    assert {"field": "name", "message": "Field required"} in body["errors"]


@pytest.mark.parametrize(("name", "status"), [
    ("a", 400), ("ab", 201), ("UPPER", 400), ("has space", 400), ("my.pipeline-v2", 201),
    ("../../etc", 400), ("key:injection", 400),
])
async def test_pipeline_name_validation(api: Api, name: str, status: int) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline(name, api.hook.url))
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["field"] == "name"


@pytest.mark.parametrize(("content", "message"), [
    (b"{not json", "invalid JSON"),
    (b"[1, 2]", "the request body must be a JSON object"),
    (b"", "a JSON request body is required"),
])
async def test_register_rejects_bad_bodies(api: Api, content: bytes, message: str) -> None:
    response = await api.client.post("/api/pipelines", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert response.headers["content-type"] == "application/json"


async def test_command_trigger_cannot_be_registered_over_the_api(api: Api) -> None:
    body = http_pipeline("sneaky", api.hook.url)
    body["trigger"] = {"type": "command", "command": "rm -rf /"}
    response = await api.client.post("/api/pipelines", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": "command triggers cannot be registered via API", "field": "trigger.type"}
    assert (await api.client.get("/api/pipelines/sneaky")).status_code == 404


async def test_unknown_archetype_and_unknown_trigger_field_are_400(api: Api) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline("x1", api.hook.url, archetype="nope"))
    assert response.status_code == 400
    assert "unknown archetype 'nope'" in response.json()["error"]
    assert response.json()["field"] == "archetype"
    body = http_pipeline("x2", api.hook.url)
    body["trigger"]["bogus"] = 1
    response = await api.client.post("/api/pipelines", json=body)
    assert response.status_code == 400
    assert response.json()["field"].startswith("trigger")


async def test_secrets_are_masked_but_stored_unexpanded(make_api: Callable[..., Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    api: Api = await make_api(config={"api": {"allowedEnv": ["ORCH_TOKEN"]}})
    monkeypatch.setenv("ORCH_TOKEN", "s3cr3t-value")
    body = http_pipeline("secretive", api.hook.url)
    body["trigger"]["headers"] = {"Authorization": "Bearer ${ORCH_TOKEN}", "X-Api-Key": "literal-key",
                                  "X-Team": "data"}
    created = await api.client.post("/api/pipelines", json=body)
    assert created.status_code == 201
    for shown in (created.json(), (await api.client.get("/api/pipelines/secretive")).json(),
                  (await api.client.get("/api/pipelines")).json()[0]):
        # every header value outside the safe list is masked, a harmless-looking custom one too
        assert shown["trigger"]["headers"] == {"Authorization": "***", "X-Api-Key": "***", "X-Team": "***"}
        assert "s3cr3t" not in str(shown) and "literal-key" not in str(shown)
    stored = await api.engine.get_pipeline("secretive")
    assert stored.trigger is not None
    assert stored.trigger.options()["headers"]["Authorization"] == "Bearer ${ORCH_TOKEN}"


async def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    missing = await api.client.get("/api/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not found"}
    wrong = await api.client.put("/api/pipelines")
    assert wrong.status_code == 405
    assert wrong.json() == {"error": "method not allowed"}
    assert "POST" in wrong.headers["allow"]


@pytest.mark.parametrize("evaluator", ["/bin/sh", "python3", "../evaluators/pass", "sub/pass", "missing"])
async def test_evaluators_outside_the_evaluator_dirs_cannot_be_registered(api: Api, evaluator: str) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline("exec", api.hook.url, evaluator=evaluator))
    assert response.status_code == 400
    assert response.json()["field"] == "traits.source-ready.evaluator"
    assert "cannot be registered via API" in response.json()["error"]


@pytest.mark.parametrize("evaluator", ["pass", "https://checks.example/freshness", "builtin:upstream-job-log"])
async def test_evaluators_in_the_evaluator_dirs_or_remote_are_accepted(api: Api, evaluator: str) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline("fine", api.hook.url, evaluator=evaluator))
    assert response.status_code == 201, response.text
