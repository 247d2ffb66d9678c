"""Backfill over the API: ``POST /api/pipelines/{id}/backfill`` starts each cycle of the range through
the lifecycle and reports it; repeating the request launches nothing new; bad bodies get a 400 naming
the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from interlock_server.cli.main import main

from .conftest import Api
from .support import http_pipeline, write_project

DAYS = ["2026-02-25", "2026-02-26", "2026-02-27"]


async def test_backfill_launches_each_cycle_once(make_api: Any) -> None:
    api: Api = await make_api()
    await api.register("sales", exclusions={"dates": [DAYS[1]]})

    answer = await api.client.post("/api/pipelines/sales/backfill", json={"from": DAYS[0], "to": DAYS[-1]})

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["pipelineId"], report["scheduleId"], report["ok"], report["wait"]) == ("sales", "daily", True, False)
    assert [(c["cycle"], c["result"]) for c in report["cycles"]] == [
        (DAYS[0], "running"), (DAYS[1], "excluded"), (DAYS[2], "running")]
    assert report["counts"] == {"running": 2, "excluded": 1}
    assert len(api.hook.requests) == 2

    again = (await api.client.post("/api/pipelines/sales/backfill", json={"from": DAYS[0], "to": DAYS[-1]})).json()
    assert again["counts"] == {"already_running": 2, "excluded": 1}
    assert len(api.hook.requests) == 2


async def test_bad_backfill_requests_name_the_field(make_api: Any) -> None:
    api: Api = await make_api()
    await api.register("sales")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"to": DAYS[0]}, "from"),
        ({"from": DAYS[0]}, "to"),
        ({"from": "2026-02-30", "to": DAYS[0]}, "from"),
        ({"from": DAYS[2], "to": DAYS[0]}, "from"),
        ({"from": "2020-01-01", "to": DAYS[0]}, "to"),
        ({"from": DAYS[0], "to": DAYS[1], "concurrency": 0}, "concurrency"),
        ({"from": DAYS[0], "to": DAYS[1], "scheduleId": "hourly"}, "scheduleId"),
    ]
    for body, field in cases:
        answer = await api.client.post("/api/pipelines/sales/backfill", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["field"] == field, (body, answer.json())
    missing = await api.client.post("/api/pipelines/nope/backfill", json={"from": DAYS[0], "to": DAYS[1]})
    assert missing.status_code == 404 and "error" in missing.json()
    assert api.hook.requests == []


def test_the_command_line_reports_bad_arguments_and_not_ready_cycles(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path / "project", pipelines=[
        http_pipeline("blocked", "http://127.0.0.1:9/never", evaluator="fail")])

    code = main(["-C", str(root), "backfill", "blocked", "--from", DAYS[2], "--to", DAYS[0]])
    assert code == 2
    assert "from (2026-02-27) is after to (2026-02-25)" in capsys.readouterr().err

    assert main(["-C", str(root), "backfill", "blocked", "--from", DAYS[0], "--to", DAYS[1], "--schedule",
                 "hourly"]) == 2
    assert "has no schedule 'hourly'" in capsys.readouterr().err

    code = main(["-C", str(root), "backfill", "blocked", "--from", DAYS[0], "--to", DAYS[1], "--json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert [c["result"] for c in report["cycles"]] == ["not_ready", "not_ready"]
    assert report["ok"] is False and report["interrupted"] is False

    with pytest.raises(SystemExit) as usage:
        main(["-C", str(root), "backfill", "blocked", "--from", DAYS[0], "--to", DAYS[1], "--concurrency", "0"])
    assert usage.value.code == 2
