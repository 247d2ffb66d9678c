"""The end-to-end deployment: one real ``interlock serve`` per store (Redis with a prefix of its
own, then SQLite), its watcher on a 1 s interval, its archiver copying into a PostgreSQL database
created for it, the orchestrator stand-in its ``http`` triggers call, and sensor files its
evaluators read. Scenarios share the deployment and use pipelines of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.orchestrator import Orchestrator, orchestrator_server
from tests.helpers.served import API_KEY, Served, start_serve

from .support import (
    REDIS_ADDR,
    SENSORS_ENV,
    Deployment,
    Sensors,
    archive_database,
    drop_keys,
    redis_store,
    sqlite_store,
    write_project,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end scenarios against a real interlock serve process")


@dataclass
class Stack:
    provider: str
    served: Served
    orchestrator: Orchestrator
    sensors: Sensors
    archive_dsn: str


@pytest.fixture(scope="package", params=["redis", "sqlite"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    provider: str = request.param
    root = tmp_path_factory.mktemp(f"e2e-{provider}")
    prefix = f"e2e-{uuid.uuid4().hex[:10]}:"
    store = redis_store(prefix, REDIS_ADDR) if provider == "redis" else sqlite_store()
    with orchestrator_server(API_KEY) as orchestrator, archive_database() as dsn:
        write_project(root, store, archiver={"enabled": True, "interval": "1s", "dsn": dsn})
        sensors = Sensors(root / "sensors")
        served = start_serve(root, env={SENSORS_ENV: str(sensors.root)})
        try:
            yield Stack(provider, served, orchestrator, sensors, dsn)
        finally:
            served.stop()
            if provider == "redis":
                drop_keys(prefix)


@pytest.fixture
async def deployment(stack: Stack) -> AsyncIterator[Deployment]:
    assert stack.served.alive(), f"interlock serve died:\n{stack.served.log()[-4000:]}"
    async with stack.served.client() as client:
        deployed = Deployment(stack.provider, stack.served, stack.orchestrator, stack.sensors, client,
                              stack.archive_dsn)
        try:
            yield deployed
        finally:
            await deployed.unregister_all()

