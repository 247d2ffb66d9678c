"""Real peers for the trigger types: fake Airflow / Databricks / webhook servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_airflow_api import FakeAirflow
from fake_databricks_api import FakeDatabricks
from launch_requests import MakeRequest, launch_request
from serve_asgi import serving

from interlock_core.clock import FakeClock
from interlock_core.plugins import PluginContext


@pytest.fixture
def make_request() -> MakeRequest:
    return launch_request


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def plugin_context(tmp_path: Path, clock: FakeClock) -> PluginContext:
    return PluginContext(project_dir=tmp_path, clock=clock)


@pytest.fixture
async def fake_airflow(clock: FakeClock) -> AsyncIterator[tuple[FakeAirflow, str]]:
    fake = FakeAirflow(clock=clock)
    async with serving(fake.app()) as url:
        try:
            yield fake, url
        finally:
            fake.released.set()


@pytest.fixture
async def fake_databricks() -> AsyncIterator[tuple[FakeDatabricks, str]]:
    fake = FakeDatabricks()
    async with serving(fake.app()) as url:
        try:
            yield fake, url
        finally:
            fake.released.set()
