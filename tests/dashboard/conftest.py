"""Fixtures for the dashboard: Debian's chromium driven by Playwright, and the app over a real engine."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, ViewportSize, async_playwright

from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.engine import Engine, NullAlerts
from interlock_core.engine.factory import build_engine, start_engine
from interlock_server.app import create_app

from ..server.support import FIXTURE_EVALUATORS, write_project
from .scenario import DASHBOARD_EVALUATORS
from .serving import FULL_KEY, READ_KEY

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
TIMEZONE = "Europe/Berlin"
"""The viewer's zone in the browser tests: times on the pages must show in it."""


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save their screenshots: a tmp directory, so a test run changes no
    tracked file; ``INTERLOCK_SCREENSHOTS=docs/screenshots`` regenerates the README's on purpose
    (``scripts/screenshots.sh``)."""
    chosen = os.environ.get("INTERLOCK_SCREENSHOTS")
    if not chosen:
        return tmp_path_factory.mktemp("screenshots")
    path = Path(chosen).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is missing: scripts/services.sh installs Debian's chromium package "
                    "(apt-get install -y chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Site:
    """The app over a real engine (SQLite project on disk), with an in-process client."""

    engine: Engine
    clock: FakeClock
    client: httpx.AsyncClient


@pytest.fixture
async def make_site(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Site]]]:
    engines: list[Engine] = []
    clients: list[httpx.AsyncClient] = []

    async def make(*, auth: bool = True, pipelines: list[dict[str, Any]] | None = None) -> Site:
        server: dict[str, Any] = {"addr": "127.0.0.1:0"}
        if auth:
            server.update(apiKey=FULL_KEY, readOnlyApiKeys=[READ_KEY])
        root = write_project(tmp_path / f"site{len(engines)}", pipelines=pipelines, config={
            "server": server, "evaluatorDirs": [str(FIXTURE_EVALUATORS), str(DASHBOARD_EVALUATORS)]})
        project = load_project(root, env={})
        clock = FakeClock()
        engine = build_engine(project, clock=clock, alerts=NullAlerts())
        await start_engine(engine, project)
        engines.append(engine)
        app = create_app(engine, server=project.config.server, env={}, evaluator_dirs=project.evaluator_dirs,
                         access_log=False)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
        clients.append(client)
        return Site(engine, clock, client)

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()
        for engine in engines:
            await engine.aclose()
