"""Catch-up after stopping a real ``interlock serve`` for two fire times of an every-minute cron
(``catchUp: latest``): when it is back, only the latest missed cycle runs; the other one is recorded
skipped (a CYCLE_SKIPPED event and a SKIPPED run log, as ``onDeadline: skip`` records it) and the
outage raises one alert.

No real waiting for fire times: the first serve's clock is shifted into a minute, the second
one's two minutes further on (the catch-up mark is in the SQLite store they share)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers.project import TEST_ARCHETYPE, pipeline
from tests.helpers.served import Served, start_serve

from .support import eventually

INTO = 15.0
"""Seconds into a minute each serve's clock reads when it starts (far from the next fire time)."""


def _project(root: Path) -> dict[str, str]:
    for sub in ("archetypes", "pipelines", "sensors"):
        (root / sub).mkdir()
    (root / "archetypes" / "test.yaml").write_text(yaml.safe_dump(TEST_ARCHETYPE))
    minutely = pipeline("minutely", schedules=[{"name": "m", "cron": "* * * * *", "catchUp": "latest"}])
    (root / "pipelines" / "minutely.yaml").write_text(yaml.safe_dump(minutely))
    for trait in ("freshness", "volume"):
        (root / "sensors" / f"minutely.{trait}").write_text("PASS")
    (root / "interlock.yaml").write_text(yaml.safe_dump({
        "provider": "sqlite", "sqlite": {"path": "./interlock.db"}, "server": {"addr": "127.0.0.1:0"},
        "watcher": {"enabled": True, "defaultInterval": "1s"}, "alerts": [{"type": "file", "path": "alerts.jsonl"}],
        "evaluatorEnv": ["INTERLOCK_TEST_SENSORS"], "logging": {"level": "warning", "format": "json"}}))
    return {"INTERLOCK_TEST_SENSORS": str(root / "sensors")}


def _serve_at(root: Path, env: dict[str, str], when: datetime, name: str) -> Served:
    """``serve`` whose clock reads ``when`` as it starts."""
    return start_serve(root, env=env, clock_shift=when.timestamp() - time.time(), name=name)


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _catch_up_alerts(root: Path) -> list[dict[str, Any]]:
    path = root / "alerts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [a for a in map(json.loads, lines) if "while no watcher ran" in json.dumps(a)]


@pytest.mark.e2e
async def test_latest_runs_only_the_latest_missed_cycle_and_records_the_other_skipped(tmp_path: Path) -> None:
    env = _project(tmp_path)
    now = datetime.now(UTC)
    first_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    server = _serve_at(tmp_path, env, first_minute + timedelta(seconds=INTO), "first")
    try:
        async with server.client() as client:
            async def first_run() -> list[dict[str, Any]] | None:
                return await _get(client, "/api/pipelines/minutely/runs", limit=50) or None

            ran = await eventually(first_run, what="the first cycle to trigger")
    finally:
        server.stop()
    cycle = datetime.fromisoformat(ran[0]["date"]).replace(tzinfo=UTC)
    missed, latest = (f"{cycle + timedelta(minutes=n):%Y-%m-%dT%H:%M}" for n in (1, 2))

    # two fire times pass while no serve runs: it comes back in the second one's minute
    server = _serve_at(tmp_path, env, cycle + timedelta(minutes=2, seconds=INTO), "second")
    try:
        async with server.client() as client:
            async def caught_up() -> list[dict[str, Any]] | None:
                found = await _get(client, "/api/pipelines/minutely/runs", limit=50)
                return found if any(r["date"] == latest for r in found) else None

            runs = await eventually(caught_up, what=f"the latest missed cycle {latest} to trigger")
            assert sorted(r["date"] for r in runs) == [ran[0]["date"], latest]
            events = await _get(client, "/api/pipelines/minutely/events", limit=200)
            assert [e["date"] for e in events if e["kind"] == "CYCLE_SKIPPED"] == [missed]
            skipped = await _get(client, f"/api/pipelines/minutely/runlogs/{missed}")
            assert skipped["status"] == "SKIPPED"
            alerts = await eventually(lambda: _some(_catch_up_alerts(tmp_path)), what="the catch-up alert")
            assert len(alerts) == 1 and "skipped 1" in json.dumps(alerts[0])
    finally:
        server.stop()


async def _some(found: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return found or None
