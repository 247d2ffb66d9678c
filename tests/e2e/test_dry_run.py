"""Dry run against a real ``interlock serve`` (SQLite and Redis): the watcher shadows the gate on
live sensors, records the would-trigger once, and the orchestrator hears nothing."""

from __future__ import annotations

import pytest

from .support import Deployment, batch_pipeline, today

pytestmark = pytest.mark.e2e


async def test_the_watcher_shadows_a_dry_run_pipeline(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-shadow", today()
    d.sensors.set(name, "freshness", 30)
    d.sensors.set(name, "record-count", 1500)
    d.sensors.set(name, "upstream", True)
    stored = await d.register(batch_pipeline(name, d.orchestrator, dryRun=True))
    assert stored["dryRun"] is True

    would = await d.wait_event(name, "DRY_RUN_WOULD_TRIGGER")  # the watcher (1 s interval) got there
    assert (would["date"], would["details"]["dryRun"]) == (day, True)
    asked = await d.post(f"/api/pipelines/{name}/run")
    assert (asked["outcome"], asked["dryRun"]) == ("dry_run", True)
    assert len(await d.events(name, "DRY_RUN_WOULD_TRIGGER")) == 1
    assert d.orchestrator.launches(name) == []
    assert await d.runs(name) == [] and await d.run_log(name, day) is None
