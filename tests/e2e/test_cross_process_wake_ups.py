"""A wake-up written by one process reaches ``interlock serve`` in another, on SQLite (the store's
wake-up table, watched through ``PRAGMA data_version``) and on Redis (pub/sub).

``serve`` runs with a one-hour watcher interval, so only a wake-up makes it look at a pipeline
again soon; the CLI, in processes of its own, launches and completes an upstream job: the
downstream that the completion's cascade wakes runs in ``serve`` within seconds, for today and for
a past day (a backfill), well before any interval or the five-minute resync would have come."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.served import _ENTRY, Served, start_serve
from tests.helpers.webhook import Webhook, webhook_server

from .support import REDIS_ADDR, drop_keys, eventually, redis_store, sqlite_store

pytestmark = pytest.mark.e2e

PROMPTLY = 10.0
"""The longest ``serve`` may take to act on a wake-up here: far below the one-hour interval and
the 300 s resync (it normally takes well under a second)."""

CHAIN = {"name": "chain", "requiredTraits": [{"type": "upstream-dependency", "defaultTtl": 60}],
         "readinessRule": {"type": "all-required-pass"}}


@dataclass
class Shell:
    root: Path
    served: Served
    hook: Webhook

    def interlock(self, *args: str) -> Any:
        """One CLI command in a process of its own; its --json output."""
        done = subprocess.run([sys.executable, "-c", _ENTRY, "-C", str(self.root), *args, "--json"],
                              capture_output=True, text=True, timeout=60, cwd=self.root)
        assert done.returncode == 0, f"interlock {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout)

    async def gold_runs(self) -> list[dict[str, Any]]:
        async with self.served.client() as api:
            response = await api.get("/api/pipelines/gold/runs")
        assert response.status_code == 200, response.text
        runs: list[dict[str, Any]] = response.json()
        return runs


def write(root: Path, store: dict[str, Any], hook: Webhook) -> None:
    for sub in ("archetypes", "pipelines"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "archetypes" / "chain.yaml").write_text(yaml.safe_dump(CHAIN))
    silver = {"name": "silver", "archetype": "chain", "watch": {"enabled": False},
              "traits": {"upstream-dependency": {"evaluator": "builtin:always-pass"}},
              "trigger": {"type": "http", "url": hook.url}}
    gold = {"name": "gold", "archetype": "chain",
            "traits": {"upstream-dependency": {"evaluator": "builtin:upstream-job-log",
                                               "config": {"upstreamPipeline": "silver"}}},
            "trigger": {"type": "command", "argv": ["true"]}}
    for pipeline in (silver, gold):
        (root / "pipelines" / f"{pipeline['name']}.yaml").write_text(yaml.safe_dump(pipeline))
    config = {**store, "server": {"addr": "127.0.0.1:0"}, "alerts": [],
              "watcher": {"enabled": True, "defaultInterval": "1h"},
              "logging": {"level": "warning", "format": "json"}}
    (root / "interlock.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(params=["sqlite", "redis"])
def shell(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shell]:
    prefix = f"e2e-wake-{uuid.uuid4().hex[:10]}:"
    store = sqlite_store() if request.param == "sqlite" else redis_store(prefix, REDIS_ADDR)
    with webhook_server() as hook:
        write(tmp_path, store, hook)
        served = start_serve(tmp_path)
        try:
            yield Shell(tmp_path, served, hook)
        finally:
            served.stop()
            if request.param == "redis":
                drop_keys(prefix)


async def test_a_completion_in_a_shell_wakes_serve_at_once(shell: Shell) -> None:
    async def evaluated() -> bool:  # serve's first pass found gold not ready (silver has not run)
        async with shell.served.client() as api:
            response = await api.get("/api/pipelines/gold/events", params={"limit": 50})
        return any(e["kind"] == "WATCHER_EVALUATION" for e in response.json())

    await eventually(evaluated, what="serve's first look at gold", within=30)
    assert await shell.gold_runs() == []

    today = datetime.now(UTC).date().isoformat()
    launched = shell.interlock("run", "silver")
    assert launched["outcome"] == "triggered", launched
    shell.interlock("complete", launched["run"]["runId"], "--status", "success")

    async def gold_ran(day: str) -> list[dict[str, Any]] | None:  # None (not []) until it ran: eventually waits
        return [r for r in await shell.gold_runs() if r["date"] == day and r["status"] == "COMPLETED"] or None

    await eventually(lambda: gold_ran(today), what="gold run by serve for today", within=PROMPTLY)

    backfill = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    launched = shell.interlock("run", "silver", "--date", backfill)
    assert launched["outcome"] == "triggered", launched
    shell.interlock("complete", launched["run"]["runId"], "--status", "success")
    await eventually(lambda: gold_ran(backfill), what="gold run by serve for the backfilled day", within=PROMPTLY)
    assert sorted(r["date"] for r in await shell.gold_runs()) == [backfill, today]
    assert shell.served.alive()
