"""``interlock status`` speaks the pipeline state vocabulary (the API's and the dashboard's): a
completed cycle whose trait results expired reads COMPLETED, a pipeline never evaluated reads STALE
(never UNKNOWN), and the last run is the current cycle's (another date's run is labelled)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.engine import NullAlerts, factory
from interlock_core.engine.factory import build_engine, start_engine
from interlock_server.cli.main import main
from tests.helpers.webhook import Webhook, webhook_server
from tests.server.support import http_pipeline, write_project

MORNING = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The CLI's engine reads this clock (the factory's default clock is swapped for it)."""
    fake = FakeClock(MORNING)
    monkeypatch.setattr(factory, "SystemClock", lambda: fake)
    return fake


def morning(root: Path, clock: FakeClock) -> None:
    """``done`` runs and completes today, then a backfill of January; ``old`` only has a backfill."""

    async def play() -> None:
        project = load_project(root)
        engine = build_engine(project, clock=clock, alerts=NullAlerts())
        await start_engine(engine, project)
        try:
            for name, date in (("done", None), ("done", "2026-01-15"), ("old", "2026-01-20")):
                outcome = await engine.start_run(name, None, date)
                assert outcome.run is not None, outcome.message
                await engine.complete_run(outcome.run.run_id, "success")
                clock.advance(timedelta(minutes=10))
        finally:
            await engine.aclose()

    anyio.run(play)


def test_status_says_completed_for_a_done_cycle_and_stale_never_unknown(
        tmp_path: Path, hook: Webhook, clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path / "project", pipelines=[
        http_pipeline("done", hook.url), http_pipeline("old", hook.url), http_pipeline("fresh", hook.url)])
    morning(root, clock)
    clock.advance(timedelta(hours=3))  # the traits' 300 s TTL lapsed long ago

    assert main(["-C", str(root), "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    done = next(line for line in lines if line.startswith("  done "))
    assert " COMPLETED " in done and "STALE" not in done and "another date" not in done
    assert "UNKNOWN" not in "\n".join(lines)
    fresh = next(line for line in lines if line.startswith("  fresh "))
    assert " STALE " in fresh  # never evaluated: the page says STALE, so does the CLI
    old = next(line for line in lines if line.startswith("  old "))
    assert "(another date: 2026-01-20, not this cycle)" in old

    assert main(["-C", str(root), "status", "--json"]) == 0
    rows = {row["pipelineId"]: row for row in json.loads(capsys.readouterr().out)}
    assert (rows["done"]["state"], rows["done"]["blockers"], rows["done"]["readiness"]) == ("COMPLETED", [], "STALE")
    assert rows["done"]["lastRun"]["date"] == "2026-03-02" and rows["done"]["lastRunCurrent"] is True
    assert rows["fresh"]["state"] == "STALE" and rows["fresh"]["blockers"][0]["trait"] == "source-ready"
    assert (rows["old"]["lastRun"]["date"], rows["old"]["lastRunCurrent"]) == ("2026-01-20", False)

    assert main(["-C", str(root), "status", "done"]) == 0
    detail = capsys.readouterr().out
    assert "State:     COMPLETED  2026-03-02 completed at 2026-03-02 06:00 UTC" in detail
    assert "Readiness: STALE  (blocks nothing until the next cycle)" in detail
    assert "Blocked by" not in detail
    assert main(["-C", str(root), "status", "done", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["state"]["state"] == "COMPLETED" and body["readiness"]["status"] == "NOT_READY"
