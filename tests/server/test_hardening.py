"""Bad input never breaks the API: other spellings of a date, impossible days, garbled or deep
bodies, huge numbers; and /metrics labels stay bounded."""

from __future__ import annotations

import re
from typing import Any

import pytest

from interlock_core.errors import ValidationError

from .conftest import Api
from .support import http_pipeline


@pytest.mark.parametrize("date", ["20261201", "2026-W49-2", "2026-335", "2026-02-30", "notadate"])
async def test_run_and_evaluate_refuse_other_date_spellings(api: Api, date: str) -> None:
    await api.register("sales")
    for path in ("/api/pipelines/sales/run", "/api/pipelines/sales/evaluate"):
        response = await api.client.post(path, json={"date": date})
        assert response.status_code in (400, 422), response.text
        body = response.json()
        assert body["field"] == "date" and "error" in body
    assert len(api.hook.requests) == 0  # nothing was triggered


async def test_rerun_and_run_log_refuse_other_date_spellings(api: Api) -> None:
    await api.register("sales")
    response = await api.client.post("/api/pipelines/sales/rerun",
                                     json={"originalDate": "2026-W49-2", "reason": "again"})
    assert response.status_code in (400, 422)
    assert response.json()["field"] == "originalDate"
    response = await api.client.get("/api/pipelines/sales/runlogs/20261201")
    assert response.status_code in (400, 422)
    assert response.json()["field"] == "date"


async def test_the_engine_refuses_other_spellings_for_every_caller(api: Api) -> None:
    await api.register("sales")
    with pytest.raises(ValidationError):
        await api.engine.start_run("sales", None, "20261201")
    with pytest.raises(ValidationError):
        await api.engine.evaluate("sales", date="2026-W49-2")
    with pytest.raises(ValidationError):
        await api.engine.request_rerun("sales", "20261201", "again")


async def test_same_day_spelled_twice_is_one_cycle(api: Api) -> None:
    await api.register("sales")
    first = await api.client.post("/api/pipelines/sales/run", json={"date": "2026-12-01"})
    assert first.status_code in (200, 201, 202), first.text
    again: dict[str, Any] = (await api.client.post("/api/pipelines/sales/run", json={"date": "20261201"})).json()
    assert again.get("field") == "date"
    assert len(api.hook.requests) == 1


# ---------------------------------------------------------------------------------- garbled input


@pytest.mark.parametrize("depth", [5000, 100_000, 65])
async def test_deeply_nested_json_is_a_400_without_traceback(api: Api, depth: int) -> None:
    body = "[" * depth + "]" * depth
    nested_config = '{"name": "deep", "archetype": "gate", "description": ' + body + "}"
    for path, raw in (("/api/pipelines", nested_config), ("/api/pipelines", body),
                      ("/api/runs/r-1/complete", '{"status": "success", "metadata": ' + body + "}")):
        response = await api.client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.status_code)
        assert response.json()["field"] == "body"
        assert "Traceback" not in response.text


async def test_moderate_nesting_is_still_accepted(api: Api) -> None:
    metadata: Any = {"leaf": 1}
    for _ in range(30):
        metadata = {"next": metadata}
    await api.register("sales", description="nested metadata below the limit")
    response = await api.client.post("/api/pipelines/sales/rerun",
                                     json={"originalDate": "2026-12-01", "reason": "r", "metadata": metadata})
    assert response.status_code != 400 or response.json().get("field") != "body", response.text


# ---------------------------------------------------------------------------------- /metrics labels


async def test_metrics_labels_stay_bounded(api: Api) -> None:
    await api.register("sales")
    for method in ("FOO", "XYZZY-1", "get", "PROPFIND"):
        await api.client.request(method, "/api/pipelines")
    for path in ("/api/pipelines/a-1", "/api/pipelines/b-2", "/pipelines/sales", "/pipelines/other-9",
                 "/nowhere/1", "/nowhere/2", "/static/none.css"):
        await api.client.get(path)
    text = (await api.client.get("/metrics")).text
    methods = set(re.findall(r'interlock_http_request_seconds_count\{method="([^"]*)"', text))
    assert methods <= {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"}
    assert "OTHER" in methods
    routes = set(re.findall(r'interlock_http_request_seconds_count\{[^}]*route="([^"]*)"', text))
    assert not {"/api/pipelines/a-1", "/pipelines/sales", "/pipelines/other-9", "/nowhere/1"} & routes
    assert {"/api/pipelines/{id}", "/pipelines/{name}", "<unmatched>"} <= routes


# ---------------------------------------------------------------------------------- huge numbers


@pytest.mark.parametrize(("extra", "field"), [
    ({"retry": {"maxAttempts": 3, "backoffSeconds": 1e300}}, "retry.backoffSeconds"),
    ({"traits": {"source-ready": {"evaluator": "pass", "ttl": 400_000_000_000}}}, "traits.source-ready.ttl"),
    ({"watch": {"interval": "1000000h"}}, "watch.interval"),
])
async def test_huge_numbers_are_refused_at_registration(api: Api, extra: dict[str, Any], field: str) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline("sales", api.hook.url, **extra))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


async def test_a_huge_pushed_ttl_is_refused_and_the_api_keeps_working(api: Api) -> None:
    await api.register("sales")
    for ttl in (2**63, 400_000_000_000):
        response = await api.client.post("/api/pipelines/sales/traits/signal", json={"status": "PASS", "ttl": ttl})
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "ttl"
    with pytest.raises(ValidationError):
        await api.engine.push_trait("sales", "signal", "PASS", ttl=2**63)
    assert (await api.client.get("/api/pipelines/sales/readiness")).status_code == 200
    assert (await api.client.get("/")).status_code == 200
