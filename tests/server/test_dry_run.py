"""Dry run seen from outside: the API (pipeline and run answers, events), ``interlock status`` and the
dashboard (a badge on the overview and the pipeline page, the would-trigger event)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from interlock_server.cli.main import main

from .conftest import Api
from .support import http_pipeline


async def test_the_api_shows_dry_run_and_the_would_trigger(make_api: Any) -> None:
    api: Api = await make_api()
    registered = await api.register("shadow", dryRun=True)
    assert registered["dryRun"] is True
    assert (await api.client.get("/api/pipelines/shadow")).json()["dryRun"] is True

    started = await api.client.post("/api/pipelines/shadow/run")
    assert started.status_code == 200, started.text
    body = started.json()
    assert (body["outcome"], body["dryRun"], body["pipelineId"]) == ("dry_run", True, "shadow")
    assert body["wouldTriggerAt"] and "error" not in body and "would have triggered" in body["message"]
    assert api.hook.requests == []  # nothing launched
    assert (await api.client.get("/api/pipelines/shadow/runs")).json() == []
    assert (await api.client.get("/api/pipelines/shadow/runlogs")).json() == []
    assert (await api.client.post("/api/pipelines/shadow/run")).json()["wouldTriggerAt"] == body["wouldTriggerAt"]
    events = (await api.client.get("/api/pipelines/shadow/events")).json()
    would = [e for e in events if e["kind"] == "DRY_RUN_WOULD_TRIGGER"]
    assert len(would) == 1 and would[0]["details"] == {"dryRun": True, "triggerType": "http"}
    live = await api.register("live")
    assert live["dryRun"] is False


def test_interlock_status_marks_a_dry_run_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from .support import write_project

    root = write_project(tmp_path / "project", pipelines=[
        http_pipeline("shadow", "http://127.0.0.1:9/never", dryRun=True), http_pipeline("live", "http://127.0.0.1:9/")])
    assert main(["-C", str(root), "run", "shadow"]) == 0  # ready: it would have triggered
    said = capsys.readouterr().out
    assert "dry_run: shadow would have triggered for " in said and said.count("dry") == 1  # no repeated prefix
    assert main(["-C", str(root), "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "DRY-RUN" in next(line for line in lines if "shadow" in line)
    # its cycle is settled once it would have triggered: done, not READY (nor STALE once results expire)
    assert " COMPLETED " in next(line for line in lines if line.startswith("  shadow "))
    assert "DRY-RUN" not in next(line for line in lines if " live " in line)
    assert main(["-C", str(root), "status", "shadow"]) == 0
    detail = capsys.readouterr().out
    assert "Mode:" in detail and "DRY-RUN" in detail and "would trigger" in detail
    assert main(["-C", str(root), "status", "--json"]) == 0
    rows = {r["pipelineId"]: r["dryRun"] for r in json.loads(capsys.readouterr().out)}
    assert rows == {"shadow": True, "live": False}
