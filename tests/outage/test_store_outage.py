"""Redis goes away under a running ``interlock serve`` and comes back on the same port: the API
answers 503 with a JSON error meanwhile, health reports degraded, the watcher logs the outage once,
backs off and resumes by itself, and nothing written before the outage is lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest

from tests.e2e.support import (
    SENSORS_ENV,
    Deployment,
    Sensors,
    archive_database,
    batch_pipeline,
    eventually,
    redis_store,
    write_project,
)
from tests.helpers.orchestrator import orchestrator_server
from tests.helpers.served import API_KEY, start_serve

from .support import PrivateRedis

pytestmark = pytest.mark.outage

BACKING_OFF = "store unavailable, watcher backing off"
RESUMED = "store reachable again; watcher resumed"


def _unavailable(response: httpx.Response) -> str:
    assert response.status_code == 503, f"{response.request.url}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["retry-after"] == "5"
    error: str = response.json()["error"]
    return error


async def test_the_api_degrades_and_the_watcher_recovers_with_the_store(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    with orchestrator_server(API_KEY) as orchestrator, archive_database() as dsn:
        root = write_project(tmp_path / "project", redis_store("outage:", private_redis.addr),
                             archiver={"enabled": True, "interval": "1s", "dsn": dsn})
        sensors = Sensors(root / "sensors")
        served = start_serve(root, env={SENSORS_ENV: str(sensors.root)})
        try:
            async with served.client(timeout=15.0) as client:
                d = Deployment("redis", served, orchestrator, sensors, client, archive_dsn=dsn)
                await _outage(d, private_redis)
        finally:
            served.stop()


async def _outage(d: Deployment, redis_server: PrivateRedis) -> None:
    running, completed, later = "outage-running", "outage-completed", "outage-later"
    for name in (running, completed, later):
        d.sensors.ready(name)
    d.orchestrator.complete_automatically(completed)
    await d.register(batch_pipeline(running, d.orchestrator))
    await d.register(batch_pipeline(completed, d.orchestrator))
    before_run = await d.wait_run(running, "RUNNING")
    done_run = await d.wait_run(completed, "COMPLETED")
    day = before_run["date"]
    before_log = await d.run_log(running, day)
    before_events = await d.events(running)

    redis_server.kill()  # -------------------------------------------------------------- outage
    error = _unavailable(await d.client.get("/api/pipelines"))
    assert "redis store at" in error and "unavailable" in error
    _unavailable(await d.client.get(f"/api/runs/{before_run['runId']}"))
    _unavailable(await d.client.post(f"/api/pipelines/{running}/run"))
    _unavailable(await d.client.post(f"/api/runs/{before_run['runId']}/complete", json={"status": "success"}))
    _unavailable(await d.client.post(f"/api/pipelines/{later}/traits/upstream-dependency",
                                     json={"status": "PASS"}))
    health = await d.client.get("/api/health")
    assert health.status_code == 503
    assert (health.json()["status"], health.json()["store"]["reachable"]) == ("degraded", False)

    async def watcher_in_outage() -> bool:
        body = (await d.client.get("/api/health")).json()
        return bool(body["watcher"]["outage"])

    await eventually(watcher_in_outage, what="the watcher noticing the outage")
    await anyio.sleep(3.5)  # long enough for several failed passes (backing off 0.5, 1, 2 s ...)
    assert len(d.served.log_lines(BACKING_OFF)) == 1, "the outage must be logged once"
    assert d.served.alive()

    redis_server.start()  # ------------------------------------------------------ back on the same port

    async def healthy() -> dict[str, Any] | None:
        response = await d.client.get("/api/health")
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and not body["watcher"]["outage"] else None

    health_back = await eventually(healthy, what="health ok again", within=45)
    assert health_back["status"] == "ok" and health_back["store"]["reachable"] is True
    await eventually(lambda: _logged(d, RESUMED), what="the watcher logging its recovery")
    assert len(d.served.log_lines(BACKING_OFF)) == 1
    [line] = d.served.log_lines(RESUMED)
    assert json.loads(line)["level"] == "warning"

    # nothing written before the outage is lost
    assert await d.run(before_run["runId"]) == before_run
    assert await d.run_log(running, day) == before_log
    assert (await d.events(running))[: len(before_events)] == before_events
    assert (await d.run(done_run["runId"]))["status"] == "COMPLETED"
    assert await d.runs(completed) == [done_run] or (await d.runs(completed))[0]["runId"] == done_run["runId"]

    # and the lifecycle goes on: the held run completes, a new pipeline is triggered by the watcher
    [launch] = d.orchestrator.launches(running)
    assert (await d.orchestrator.call_back(launch)).json()["status"] == "COMPLETED"
    await d.wait_run_log(running, day, "COMPLETED")
    await d.register(batch_pipeline(later, d.orchestrator))
    await d.wait_run(later, "RUNNING")
    assert len(d.orchestrator.launches(running)) == 1 and len(d.orchestrator.launches(completed)) == 1

    # the archiver (in the same process) skipped its ticks during the outage and catches up
    assert d.archive_dsn is not None
    dsn = d.archive_dsn

    async def archived() -> bool:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            rows = await (await conn.execute("SELECT run_id FROM runs WHERE status = 'COMPLETED'")).fetchall()
        return {row[0] for row in rows} >= {before_run["runId"], done_run["runId"]}

    await eventually(archived, what="both completed runs in the archive", every=0.5)


async def _logged(d: Deployment, text: str) -> bool:
    return bool(d.served.log_lines(text))
