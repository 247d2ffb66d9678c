from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from interlock_core.clock import FakeClock
from tests.helpers.project import Harness, Sensors


@pytest.fixture
async def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    sensors = tmp_path / "sensors"
    sensors.mkdir()
    monkeypatch.setenv("INTERLOCK_TEST_SENSORS", str(sensors))
    h = Harness(root=tmp_path / "project", sensors=Sensors(sensors),
                clock=FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC)))
    h.root.mkdir()
    try:
        yield h
    finally:
        for engine in h.engines:
            await engine.aclose()
