"""A crash loses no alert: ``interlock serve`` is killed (SIGKILL) while Slack is down and its
alerts wait in the outbox; once Slack answers again, a restarted ``serve`` delivers each of them,
once, in the pipeline's thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers.served import Served, start_serve
from tests.integration.alerts.fake_slack_api import FakeSlack
from tests.integration.triggers.serve_asgi import serving

from .support import eventually, sqlite_store, write_project

pytestmark = pytest.mark.e2e

PIPELINES = ("outbox-a", "outbox-b", "outbox-c")


def pushed_pipeline(name: str) -> dict[str, Any]:
    """Archetype ``relay``: its ``signal`` trait is pushed (the watcher is off: nothing is evaluated)."""
    return {"name": name, "archetype": "relay", "traits": {"slow-check": {"evaluator": "hold"}}}


async def start(root: Path, name: str, env: dict[str, str]) -> Served:
    return await anyio.to_thread.run_sync(lambda: start_serve(root, "--no-watcher", env=env, name=name))


async def test_alerts_of_a_killed_serve_arrive_once_after_a_restart(tmp_path: Path) -> None:
    slack = FakeSlack()
    slack.fail(status=503, times=100_000)  # Slack is down
    async with serving(slack.app()) as url:
        sink = {"type": "slack", "token": "${SLACK_BOT_TOKEN}", "channel": "C0ALERTS", "apiURL": url + "/api",
                "maxAttempts": 100, "backoff": "100ms"}
        root = write_project(tmp_path / "project", sqlite_store(), alerts=[sink])
        env = {"SLACK_BOT_TOKEN": slack.token}
        first = await start(root, "first", env)
        try:
            async with first.client() as client:
                for name in PIPELINES:
                    assert (await client.post("/api/pipelines", json=pushed_pipeline(name))).status_code == 201
                    pushed = await client.post(f"/api/pipelines/{name}/traits/signal",
                                               json={"status": "FAIL", "reason": "upstream late"})
                    assert pushed.status_code == 201, pushed.text

                async def all_tried() -> list[Any] | None:
                    pending = (await client.get("/api/alerts", params={"status": "pending"})).json()
                    return pending if len(pending) == 3 and all(r["attempts"] >= 1 for r in pending) else None

                waiting = await eventually(all_tried, what="every alert tried while Slack is down")
                assert {r["alert"]["pipelineId"] for r in waiting} == set(PIPELINES)
        finally:
            await anyio.to_thread.run_sync(first.kill)
        assert slack.posted == []
        assert slack.token not in first.log()

        slack.scripted.clear()  # Slack answers again
        second = await start(root, "second", env)
        try:
            async with second.client() as client:

                async def delivered() -> list[Any] | None:
                    records = (await client.get("/api/alerts", params={"status": "delivered"})).json()
                    return records if len(records) == 3 else None

                records = await eventually(delivered, what="the alerts delivered after the restart")
                assert {r["sink"] for r in records} == {"slack"} and all(r["attempts"] >= 2 for r in records)
                assert (await client.get("/api/alerts", params={"status": "pending"})).json() == []
        finally:
            await anyio.to_thread.run_sync(second.stop)
    assert sorted(p.text for p in slack.posted) == sorted(
        f":large_orange_circle: Trait signal failed for {name}: upstream late" for name in PIPELINES)
    assert slack.token not in second.log()
