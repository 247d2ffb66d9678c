"""An every-minute cron pipeline against a real ``interlock serve``: two consecutive cycles (fire
times) trigger once each, keyed by their fire time, readable at the API under that key.

The served clock is shifted so that a minute boundary comes a few seconds after it starts: the
test waits for the next fire time, never a whole minute."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers.project import TEST_ARCHETYPE, pipeline
from tests.helpers.served import Served, start_serve

from .support import eventually

LEAD = 5.0
"""Seconds from starting serve to the next minute boundary on its clock."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    for sub in ("archetypes", "pipelines", "sensors"):
        (tmp_path / sub).mkdir()
    (tmp_path / "archetypes" / "test.yaml").write_text(yaml.safe_dump(TEST_ARCHETYPE))
    minutely = pipeline("minutely", schedules=[{"name": "m", "cron": "* * * * *", "catchUp": "latest"}])
    (tmp_path / "pipelines" / "minutely.yaml").write_text(yaml.safe_dump(minutely))
    for trait in ("freshness", "volume"):
        (tmp_path / "sensors" / f"minutely.{trait}").write_text("PASS")
    (tmp_path / "interlock.yaml").write_text(yaml.safe_dump({
        "provider": "sqlite", "sqlite": {"path": "./interlock.db"}, "server": {"addr": "127.0.0.1:0"},
        "watcher": {"enabled": True, "defaultInterval": "1s"}, "alerts": [],
        "evaluatorEnv": ["INTERLOCK_TEST_SENSORS"], "logging": {"level": "warning", "format": "json"}}))
    now = time.time()
    shift = (60 - now % 60) - LEAD  # serve's clock reads LEAD seconds before a minute boundary
    server = start_serve(tmp_path, env={"INTERLOCK_TEST_SENSORS": str(tmp_path / "sensors")}, clock_shift=shift)
    try:
        yield server
    finally:
        server.stop()


async def runs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/pipelines/minutely/runs", params={"limit": 50})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


@pytest.mark.e2e
async def test_two_consecutive_minute_cycles_trigger_once_each(served: Served) -> None:
    async with served.client() as client:
        first = await eventually(lambda: _some(runs(client)), what="the current minute's cycle to trigger")
        cycle = first[0]["date"]
        following = (datetime.fromisoformat(cycle).replace(tzinfo=UTC) + timedelta(minutes=1)).strftime(
            "%Y-%m-%dT%H:%M")

        async def second() -> list[dict[str, Any]] | None:
            found = await runs(client)
            return found if any(r["date"] == following for r in found) else None

        found = await eventually(second, what=f"the cycle {following} to trigger", within=70)
        await _passes(client, 2)  # later passes over both cycles start nothing more
        found = await runs(client)
        assert sorted(r["date"] for r in found) == [cycle, following]
        response = await client.get(f"/api/pipelines/minutely/runlogs/{following}")
        assert response.status_code == 200 and response.json()["date"] == following
        response = await client.get("/api/pipelines/minutely/runlogs/2026-13-01T10:00")
        assert response.status_code == 400 and "date" in response.text


async def _some(pending: Any) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = await pending
    return found or None


async def _passes(client: httpx.AsyncClient, count: int) -> None:
    async def watcher_passes() -> int:
        response = await client.get("/api/health")
        return int(response.json().get("watcher", {}).get("passes", 0)) if response.status_code == 200 else 0

    start = await watcher_passes()
    await eventually(lambda: _at_least(watcher_passes(), start + count), what=f"{count} watcher passes")


async def _at_least(pending: Any, target: int) -> bool | None:
    return True if await pending >= target else None
