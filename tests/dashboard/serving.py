"""The real app over a real engine (SQLite project on disk), served by hypercorn in-process on an
ephemeral port, for a real browser to talk to."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.engine import Engine, NullAlerts
from interlock_core.engine.factory import build_engine, start_engine
from interlock_server.app import create_app

from ..server.support import FIXTURE_EVALUATORS, write_project
from .scenario import DASHBOARD_EVALUATORS

FULL_KEY = "dash-full-key-5e1c"
READ_KEY = "dash-read-key-9a2f"


@dataclass
class Served:
    root: Path
    engine: Engine
    clock: FakeClock
    url: str

    def api(self, key: str | None = FULL_KEY) -> httpx.AsyncClient:
        headers = {"X-API-Key": key} if key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)


@asynccontextmanager
async def hypercorn_on_ephemeral_port(app: Any) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = HypercornConfig()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.graceful_timeout = 1.0
    shutdown = asyncio.Event()
    server = asyncio.ensure_future(hypercorn_serve(app, config, shutdown_trigger=shutdown.wait))
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            for _ in range(200):
                try:
                    await client.get("/api/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
        yield url
    finally:
        shutdown.set()
        await asyncio.wait_for(server, timeout=15)


@asynccontextmanager
async def served_project(root: Path, *, pipelines: list[dict[str, Any]], archetypes: Sequence[dict[str, Any]] = (),
                         auth: bool = True, clock: FakeClock | None = None) -> AsyncIterator[Served]:
    """A SQLite project with the given pipeline files, its engine and the app, on a real port."""
    server: dict[str, Any] = {"addr": "127.0.0.1:0"}
    if auth:
        server.update(apiKey=FULL_KEY, readOnlyApiKeys=[READ_KEY])
    write_project(root, pipelines=pipelines,
                  config={"server": server, "evaluatorDirs": [str(FIXTURE_EVALUATORS), str(DASHBOARD_EVALUATORS)]})
    for archetype in archetypes:
        (root / "archetypes" / f"{archetype['name']}.yaml").write_text(yaml.safe_dump(archetype))
    project = load_project(root, env={})
    clock = clock or FakeClock()
    engine = build_engine(project, clock=clock, alerts=NullAlerts())
    await start_engine(engine, project)
    try:
        app = create_app(engine, server=project.config.server, provider=project.config.provider, env={},
                         evaluator_dirs=project.evaluator_dirs, access_log=False)
        async with hypercorn_on_ephemeral_port(app) as url:
            yield Served(root, engine, clock, url)
    finally:
        await engine.aclose()
