"""The shadow report and pushed scheduler runs over the API: ``POST /api/pipelines/{id}/scheduler-runs``
records what the scheduler in place did, ``GET /api/pipelines/{id}/shadow-report`` compares it with the
would-trigger; bad requests get a 4xx naming the field."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from interlock_core.model import SchedulerRun
from interlock_server.cli.main import main
from interlock_server.cli.session import open_engine

from .conftest import Api
from .support import http_pipeline, write_project

DAY = "2026-03-02"  # the API's fake clock: 2026-03-02 12:00 UTC


async def test_a_pushed_scheduler_run_shows_in_the_shadow_report(make_api: Any) -> None:
    api: Api = await make_api()
    await api.register("shadow", dryRun=True, sla={"completionDeadline": "14:00", "timezone": "UTC"})
    assert (await api.client.post("/api/pipelines/shadow/run")).json()["outcome"] == "dry_run"  # 12:00

    pushed = await api.client.post("/api/pipelines/shadow/scheduler-runs", json={
        "date": DAY, "runId": "scheduled__2026-03-02", "status": "success",
        "startedAt": "2026-03-02T12:30:00Z", "finishedAt": "2026-03-02T13:00:00Z"})
    assert pushed.status_code == 200, pushed.text
    record = pushed.json()
    assert (record["date"], record["wouldTriggerAt"]) == (DAY, "2026-03-02T12:00:00Z")
    assert [(r["runId"], r["state"], r["source"]) for r in record["schedulerRuns"]] == [
        ("scheduled__2026-03-02", "succeeded", "pushed")]
    events = (await api.client.get("/api/pipelines/shadow/events")).json()
    assert [e["details"]["verdict"] for e in events if e["kind"] == "DRY_RUN_COMPLETED"] == ["earlier"]

    answer = await api.client.get("/api/pipelines/shadow/shadow-report", params={"from": "2026-03-01", "to": DAY})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["pipelineId"], report["fromDate"], report["toDate"], report["lookup"]) == (
        "shadow", "2026-03-01", DAY, False)
    yesterday, today = report["cycles"]
    assert (yesterday["verdict"], today["verdict"], today["leadSeconds"]) == ("no_data", "earlier", 1800.0)
    assert today["scheduler"]["startedAt"] == "2026-03-02T12:30:00Z"
    assert today["sla"]["held"] is True
    assert today["sla"]["checks"][0]["interlockAt"] == "2026-03-02T12:30:00Z"  # would-trigger + its 30 min
    assert report["summary"]["earlier"] == 1
    assert (await api.client.get("/api/pipelines/shadow/shadow-report")).json()["toDate"] == DAY


async def test_bad_shadow_requests_are_4xx_naming_the_field(make_api: Any) -> None:
    api: Api = await make_api()
    await api.register("shadow", dryRun=True)
    await api.register("live")

    async def report(**params: str) -> tuple[int, Any]:
        answer = await api.client.get("/api/pipelines/shadow/shadow-report", params=params)
        return answer.status_code, answer.json().get("field")

    assert await report(**{"from": "2026-02-30"}) == (400, "from")
    assert await report(to="yesterday") == (400, "to")
    assert await report(**{"from": "2026-03-05", "to": "2026-03-01"}) == (400, "from")
    assert await report(**{"from": "2025-01-01", "to": DAY}) == (400, "from")
    assert await report(schedule="nightly") == (400, "schedule")
    assert (await api.client.get("/api/pipelines/nope/shadow-report")).status_code == 404

    run = {"date": DAY, "runId": "r1", "status": "succeeded", "startedAt": "2026-03-02T06:00:00Z"}

    async def push(name: str = "shadow", **changes: Any) -> tuple[int, Any]:
        body = {k: v for k, v in {**run, **changes}.items() if v is not None}
        answer = await api.client.post(f"/api/pipelines/{name}/scheduler-runs", json=body)
        return answer.status_code, answer.json().get("field")

    assert await push(runId=None) == (400, "runId")
    assert await push(status="exploded") == (400, "status")
    assert await push(date="2026-13-01") == (400, "date")
    assert await push(startedAt="not a time") == (400, "startedAt")
    assert (await push(finishedAt="2026-03-02T05:00:00Z"))[0] == 400
    assert (await push(scheduleId="nightly"))[0] == 404
    assert (await push("live"))[0] == 409
    assert (await push("nope"))[0] == 404
    assert (await push())[0] == 200


def test_interlock_shadow_report_prints_a_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path / "project", pipelines=[
        http_pipeline("shadow", "http://127.0.0.1:9/never", dryRun=True)])
    assert main(["-C", str(root), "run", "shadow", "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    would, day = datetime.fromisoformat(ran["wouldTriggerAt"]), ran["date"]

    async def scheduler_ran() -> None:
        async with open_engine(root) as (_, engine):
            await engine.report_scheduler_run("shadow", day, SchedulerRun(
                run_id="scheduled__today", state="succeeded", started_at=would + timedelta(minutes=90),
                finished_at=would + timedelta(minutes=100)))

    anyio.run(scheduler_ran)
    assert main(["-C", str(root), "shadow-report", "shadow", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["toDate"] == day and len(report["cycles"]) == 7
    assert report["cycles"][-1]["verdict"] == "earlier" and report["cycles"][-1]["leadSeconds"] == 5400.0

    assert main(["-C", str(root), "shadow-report", "shadow", "--from", day, "--to", day]) == 0
    table = capsys.readouterr().out
    assert "Shadow report: shadow" in table and "scheduler runs pushed" in table
    line = next(line for line in table.splitlines() if line.strip().startswith(f"{day} daily"))
    assert "Interlock 1h30m0s earlier" in line and " ok" in line
    assert "1 cycles · 1 earlier" in table

    with pytest.raises(SystemExit) as bad:
        main(["-C", str(root), "shadow-report", "shadow", "--from", "2026-02-30"])
    assert bad.value.code == 2
    assert main(["-C", str(root), "shadow-report", "shadow", "--from", day, "--to", "2020-01-01"]) == 2
    assert "is after to" in capsys.readouterr().err
