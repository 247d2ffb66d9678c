"""``interlock status <pipeline>`` shows the cycle's SLA as core states it (the dashboard shows the same)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.engine import NullAlerts, factory
from interlock_core.engine.factory import build_engine, start_engine
from interlock_server.cli.main import main
from tests.server.support import http_pipeline, write_project


def test_status_shows_the_cycles_sla(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeClock(datetime(2026, 3, 2, 8, 45, tzinfo=UTC))
    monkeypatch.setattr(factory, "SystemClock", lambda: fake)
    root = write_project(tmp_path / "project", pipelines=[
        http_pipeline("sales", "http://127.0.0.1:9/", schedules=[{"name": "daily", "deadline": "09:00"}]),
        http_pipeline("plain", "http://127.0.0.1:9/")])

    async def register() -> None:  # the store exists once an engine started on the project
        project = load_project(root)
        engine = build_engine(project, clock=fake, alerts=NullAlerts())
        await start_engine(engine, project)
        await engine.aclose()

    anyio.run(register)

    assert main(["-C", str(root), "status", "sales"]) == 0
    assert "SLA:       at risk (deadline 09:00: 2026-03-02T09:00:00+00:00)" in capsys.readouterr().out
    assert main(["-C", str(root), "status", "sales", "--json"]) == 0
    [cycle] = json.loads(capsys.readouterr().out)["state"]["cycles"]
    assert cycle["sla"] == {"state": "at risk", "deadline": "2026-03-02T09:00:00Z", "deadlineLabel": "09:00"}
    assert main(["-C", str(root), "status", "plain"]) == 0
    assert "SLA:" not in capsys.readouterr().out
