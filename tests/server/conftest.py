from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from starlette.applications import Starlette

from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.engine import Engine, NullAlerts
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.watcher import Watcher
from interlock_server.app import create_app

from .alerting import AlertingApi, alerting_config
from .support import Webhook, http_pipeline, webhook_server, write_project


@dataclass
class Api:
    """An engine on a temp project, the app over it, and an in-process client."""

    root: Path
    engine: Engine
    app: Starlette
    client: httpx.AsyncClient
    clock: FakeClock
    hook: Webhook

    async def register(self, name: str = "sales", **extra: Any) -> dict[str, Any]:
        response = await self.client.post("/api/pipelines", json=http_pipeline(name, self.hook.url, **extra))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(autouse=True)
def isolated_logging() -> Iterator[None]:
    """Code under test may configure logging (``serve`` does): undo it after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


@pytest.fixture
async def make_api(tmp_path: Path, hook: Webhook) -> AsyncIterator[Callable[..., Any]]:
    engines: list[Engine] = []
    clients: list[httpx.AsyncClient] = []

    async def make(*, config: dict[str, Any] | None = None, pipelines: list[dict[str, Any]] | None = None,
                   env: dict[str, str] | None = None, watcher: bool = False, **app_options: Any) -> Api:
        root = write_project(tmp_path / f"project{len(engines)}", config=config, pipelines=pipelines)
        project = load_project(root)
        clock = FakeClock()
        engine = build_engine(project, clock=clock, alerts=NullAlerts(), callback_base_url="http://interlock.test")
        await start_engine(engine, project)
        engines.append(engine)
        app = create_app(engine, server=project.config.server, provider=project.config.provider,
                         watcher=Watcher(engine) if watcher else None, env=env or {},
                         evaluator_dirs=project.evaluator_dirs, **app_options)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
        clients.append(client)
        return Api(root, engine, app, client, clock, hook)

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()
        for engine in engines:
            await engine.aclose()


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> Api:
    made: Api = await make_api()
    return made


@pytest.fixture
async def make_alerting_api(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``make(pipelines=..., **config)``: an :class:`AlertingApi` (real console and file alert sinks)."""
    engines: list[Engine] = []
    clients: list[httpx.AsyncClient] = []

    async def make(pipelines: list[dict[str, Any]] | None = None, **config: Any) -> AlertingApi:
        root = write_project(tmp_path / f"alerting{len(engines)}", pipelines=pipelines,
                             config=alerting_config(**config))
        project = load_project(root)
        engine = build_engine(project, clock=FakeClock())
        await start_engine(engine, project)
        engines.append(engine)
        app = create_app(engine, server=project.config.server, env={})
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
        clients.append(client)
        return AlertingApi(root, engine, client)

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()
        for engine in engines:
            await engine.aclose()
