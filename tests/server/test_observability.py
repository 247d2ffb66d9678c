"""Request ids, the access log, Prometheus metrics, health, store outages and unexpected errors."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import structlog

from interlock_server.logging import configure_logging
from interlock_server.request_context import new_request_id

from .conftest import Api


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()


async def test_request_id_is_reused_or_generated(api: Api) -> None:
    given = await api.client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    fresh = await api.client.get("/api/health")
    assert re.fullmatch(r"[0-9a-f]{16}", fresh.headers["x-request-id"])
    hostile = await api.client.get("/api/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{16}", hostile.headers["x-request-id"])


def test_fresh_request_ids_do_not_repeat_and_a_forked_child_makes_its_own() -> None:
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{16}", one) for one in ids)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        in_child = pipe.read()
    assert re.fullmatch(r"[0-9a-f]{16}", in_child)
    assert in_child != new_request_id()  # the parent's next id: the child's generator was seeded anew


async def test_one_access_line_per_request_with_context(api: Api,
                                                        log_lines: Callable[[], list[dict[str, Any]]]) -> None:
    await api.register("sales")
    run = (await api.client.post("/api/pipelines/sales/run", headers={"X-Request-ID": "req-1"})).json()
    await api.client.get(f"/api/runs/{run['runId']}", headers={"X-Request-ID": "req-2"})
    access = [line for line in log_lines() if line["event"] == "request"]
    assert len(access) == 3
    run_line = next(line for line in access if line["request_id"] == "req-1")
    assert (run_line["pipeline"], run_line["route"], run_line["status"], run_line["method"]) == (
        "sales", "/api/pipelines/{id}/run", 202, "POST")
    assert run_line["duration_ms"] >= 0
    get_line = next(line for line in access if line["request_id"] == "req-2")
    assert get_line["run_id"] == run["runId"]
    assert "pipeline" not in get_line  # context never leaks from one request to the next


async def test_metrics_exposition(api: Api) -> None:
    await api.register("sales")
    await api.client.post("/api/pipelines/sales/evaluate")
    await api.client.get("/api/pipelines/ghost")
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    assert "# TYPE interlock_http_request_seconds histogram" in text
    assert re.search(r'interlock_http_request_seconds_bucket\{method="GET",route="/api/pipelines/\{id\}",'
                     r'status="404",le="\+Inf"\} [1-9]', text)
    assert re.search(r'interlock_http_request_seconds_count\{method="POST",route="/api/pipelines/\{id\}/evaluate",'
                     r'status="200"\} [1-9]', text)
    assert "# TYPE interlock_evaluations_total counter" in text
    assert "# TYPE interlock_evaluation_seconds histogram" in text
    for line in text.splitlines():
        assert line.startswith("#") or re.fullmatch(r'[a-z_]+(\{.*\})? [0-9.e+-]+', line), line


async def test_store_outage_is_503_everywhere(api: Api) -> None:
    await api.register("sales")
    await api.engine.store.close()
    for method, path in (("GET", "/api/pipelines"), ("GET", "/api/pipelines/sales"),
                         ("POST", "/api/pipelines/sales/run"), ("GET", "/api/reruns")):
        response = await api.client.request(method, path)
        assert response.status_code == 503, path
        assert "not started" in response.json()["error"]
        assert response.headers["retry-after"] == "5"
    health = await api.client.get("/api/health")
    assert health.status_code == 503
    assert health.json()["status"] == "degraded"
    assert health.json()["store"]["reachable"] is False


async def test_health_reports_a_stale_watcher(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(watcher=True)
    watcher = api.app.state.api.watcher
    await watcher.run_once()
    healthy = (await api.client.get("/api/health")).json()
    assert healthy["watcher"]["alive"] is True
    assert healthy["watcher"]["passes"] == 1
    api.clock.advance(timedelta(minutes=3))
    stale = await api.client.get("/api/health")
    assert stale.status_code == 503
    assert stale.json()["status"] == "degraded"
    assert stale.json()["watcher"]["alive"] is False
    await watcher.run_once()
    assert (await api.client.get("/api/health")).status_code == 200
    api.app.state.api.watcher_error = "RuntimeError: boom"
    crashed = (await api.client.get("/api/health")).json()
    assert (crashed["status"], crashed["watcher"]["error"]) == ("degraded", "RuntimeError: boom")


async def test_unexpected_error_is_a_json_500_without_traceback(
        api: Api, monkeypatch: pytest.MonkeyPatch, log_lines: Callable[[], list[dict[str, Any]]]) -> None:
    async def broken(pipeline_id: str) -> Any:
        raise RuntimeError("kaboom in the engine")

    monkeypatch.setattr(api.engine, "check_readiness", broken)
    response = await api.client.get("/api/pipelines/sales/readiness")
    assert response.status_code == 500
    body = response.json()
    assert body == {"error": "internal server error", "requestId": response.headers["x-request-id"]}
    logged = [line for line in log_lines() if line["event"] == "unhandled error"]
    assert len(logged) == 1
    assert "kaboom in the engine" in logged[0]["exception"]
    assert logged[0]["request_id"] == body["requestId"]
