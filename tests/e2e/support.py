"""What the end-to-end scenarios share: a project on disk for a real ``interlock serve``, the
sensor files its evaluators read, pipeline builders, and a client that polls the API until the
deployment has done what a scenario waits for."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import anyio
import httpx
import psycopg
import pytest
import redis
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.helpers.backends import POSTGRES_DSN, REDIS_ADDR
from tests.helpers.orchestrator import Orchestrator
from tests.helpers.served import Served

E2E_EVALUATORS = Path(__file__).resolve().parents[1] / "fixtures" / "e2e_evaluators"
SENSORS_ENV = "INTERLOCK_E2E_SENSORS"
WAIT = 30.0
"""The longest a scenario waits for the deployment to react (it normally takes a second or two;
the margin is for a loaded CI machine)."""

WATCH_INTERVAL = 1.0
"""``watcher.defaultInterval`` of the deployments (seconds)."""

T = TypeVar("T")

MEDALLION = {
    "name": "medallion",
    "description": "A layer built from the layer below it",
    "requiredTraits": [{"type": "upstream-dependency", "defaultTtl": 60, "defaultTimeout": 15}],
    "readinessRule": {"type": "all-required-pass"},
}
RELAY = {
    "name": "relay",
    "description": "One slow evaluated trait and one pushed signal",
    "requiredTraits": [{"type": "slow-check", "defaultTtl": 300},
                       {"type": "signal", "defaultTtl": 600}],
    "readinessRule": {"type": "all-required-pass"},
}


def write_project(root: Path, store: dict[str, Any], **config: Any) -> Path:
    """A project whose evaluators read sensor files, alerts go to ``alerts.jsonl``, the API on an
    ephemeral loopback port, logs as JSON lines."""
    for sub in ("archetypes", "pipelines", "calendars", "sensors"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for archetype in (MEDALLION, RELAY):
        (root / "archetypes" / f"{archetype['name']}.yaml").write_text(yaml.safe_dump(archetype))
    cfg: dict[str, Any] = {
        **store,
        "server": {"addr": "127.0.0.1:0"},
        "watcher": {"enabled": True, "defaultInterval": f"{WATCH_INTERVAL:g}s"},
        "alerts": [{"type": "file", "path": "alerts.jsonl"}],
        "evaluatorDirs": [str(E2E_EVALUATORS)],
        "evaluatorEnv": [SENSORS_ENV],
        "logging": {"level": "warning", "format": "json"},
    }
    cfg.update(config)
    (root / "interlock.yaml").write_text(yaml.safe_dump(cfg))
    return root


def redis_store(prefix: str, addr: str = REDIS_ADDR) -> dict[str, Any]:
    return {"provider": "redis", "redis": {"addr": addr, "keyPrefix": prefix}}


def sqlite_store() -> dict[str, Any]:
    return {"provider": "sqlite", "sqlite": {"path": "./interlock.db"}}


@contextmanager
def archive_database() -> Iterator[str]:
    """A PostgreSQL database of its own for the archiver (dropped afterwards); yields its DSN."""
    name = f"interlock_e2e_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {POSTGRES_DSN} (set INTERLOCK_TEST_POSTGRES_DSN): {exc}")
    try:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield make_conninfo(POSTGRES_DSN, dbname=name)
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def drop_keys(prefix: str, addr: str = REDIS_ADDR) -> None:
    """Remove every key under ``prefix`` (a test's own key space)."""
    client = redis.Redis.from_url(f"redis://{addr}")
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def batch_pipeline(name: str, orchestrator: Orchestrator, *, max_lag: int = 60, threshold: int = 1000,
                   **extra: Any) -> dict[str, Any]:
    """The reference scenarios' pipeline shape: ``batch-ingestion`` with the three sensor
    evaluators and an ``http`` trigger to the orchestrator's job ``name``."""
    data: dict[str, Any] = {
        "name": name,
        "archetype": "batch-ingestion",
        "traits": {
            "source-freshness": {"evaluator": "check-freshness", "config": {"maxLagSeconds": max_lag},
                                 "timeout": 15, "ttl": 300},
            "upstream-dependency": {"evaluator": "check-upstream", "timeout": 15, "ttl": 300},
            "resource-availability": {"evaluator": "check-record-count", "config": {"threshold": threshold},
                                      "timeout": 15, "ttl": 300},
        },
        "trigger": http_trigger(name, orchestrator),
    }
    data.update(extra)
    return data


def http_trigger(name: str, orchestrator: Orchestrator) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "url": orchestrator.job_url(name),
            "body": {"pipeline": name, "date": "${date}"}, "timeout": 10}


def today(zone: str = "UTC") -> str:
    return datetime.now(ZoneInfo(zone)).date().isoformat()


def weekday(days_ahead: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=days_ahead)).strftime("%A")


def late_enough_zone() -> str:
    """A zone where it is at least 00:02, so a "00:01" deadline is already past today there."""
    now = datetime.now(UTC)
    return "UTC" if (now.hour, now.minute) >= (0, 2) else "Etc/GMT+1"


async def eventually(check: Callable[[], Awaitable[T | None]], *, what: str, within: float = WAIT,
                     every: float = 0.1) -> T:
    """Poll ``check`` until it returns something other than None/False; fail saying ``what``."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        last = await check()
        if last is not None and last is not False:
            found: T = last
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await anyio.sleep(every)


@dataclass
class Sensors:
    root: Path

    def set(self, pipeline: str, kind: str, value: object) -> None:
        """Atomically (an evaluator never reads half a file)."""
        target = self.root / f"{pipeline}.{kind}"
        scratch = target.with_name(target.name + ".tmp")
        scratch.write_text(str(value).lower() if isinstance(value, bool) else str(value))
        os.replace(scratch, target)

    def ready(self, pipeline: str) -> None:
        self.set(pipeline, "freshness", 30)
        self.set(pipeline, "record-count", 5000)
        self.set(pipeline, "upstream", True)


@dataclass
class Deployment:
    """One running ``interlock serve`` as a scenario sees it."""

    provider: str
    served: Served
    orchestrator: Orchestrator
    sensors: Sensors
    client: httpx.AsyncClient
    archive_dsn: str | None = None
    registered: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------------ requests
    async def get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    async def post(self, path: str, body: Any = None, expect: int | tuple[int, ...] = 200) -> Any:
        response = await self.client.post(path, json=body)
        allowed = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in allowed, f"POST {path}: {response.status_code} {response.text}"
        return response.json()

    async def register(self, pipeline: dict[str, Any]) -> dict[str, Any]:
        stored: dict[str, Any] = await self.post("/api/pipelines", pipeline, expect=201)
        self.registered.append(pipeline["name"])
        return stored

    async def unregister_all(self) -> None:
        for name in self.registered:
            await self.client.delete(f"/api/pipelines/{name}")
        self.registered.clear()

    async def runs(self, pipeline: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = await self.get(f"/api/pipelines/{pipeline}/runs", limit=200)
        return runs

    async def run(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = await self.get(f"/api/runs/{run_id}")
        return run

    async def run_log(self, pipeline: str, date: str) -> dict[str, Any] | None:
        response = await self.client.get(f"/api/pipelines/{pipeline}/runlogs/{date}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        entry: dict[str, Any] = response.json()
        return entry

    async def events(self, pipeline: str, *kinds: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = await self.get(f"/api/pipelines/{pipeline}/events", limit=500)
        return [e for e in events if not kinds or e["kind"] in kinds]

    async def reruns(self, pipeline: str) -> list[dict[str, Any]]:
        reruns: list[dict[str, Any]] = await self.get(f"/api/pipelines/{pipeline}/reruns")
        return reruns

    def alerts(self, pipeline: str) -> list[dict[str, Any]]:
        path = self.served.root / "alerts.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [a for a in map(json.loads, lines) if a.get("pipelineId") == pipeline]

    async def watcher_passes(self) -> int:
        health = (await self.client.get("/api/health")).json()
        return int(health["watcher"]["passes"])

    # ------------------------------------------------------------------------ waiting
    async def wait_run(self, pipeline: str, status: str, *, within: float = WAIT,
                       where: Callable[[dict[str, Any]], bool] = lambda run: True) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((r for r in await self.runs(pipeline) if r["status"] == status and where(r)), None)

        return await eventually(found, what=f"a {status} run of {pipeline}", within=within)

    async def wait_run_status(self, run_id: str, status: str, *, within: float = WAIT) -> dict[str, Any]:
        """The run once it is ``status``: the orchestrator has a launch before the engine recorded
        the launch's answer (TRIGGERING → RUNNING), so a run read right after a launch may lag."""
        async def found() -> dict[str, Any] | None:
            run = await self.run(run_id)
            return run if run["status"] == status else None

        return await eventually(found, what=f"run {run_id} {status}", within=within)

    async def wait_event(self, pipeline: str, kind: str, *, within: float = WAIT) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            matching = await self.events(pipeline, kind)
            return matching[-1] if matching else None

        return await eventually(found, what=f"a {kind} event of {pipeline}", within=within)

    async def wait_run_log(self, pipeline: str, date: str, status: str, *,
                           within: float = WAIT) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            entry = await self.run_log(pipeline, date)
            return entry if entry is not None and entry["status"] == status else None

        return await eventually(found, what=f"run log {pipeline} {date} {status}", within=within)

    async def wait_alert(self, pipeline: str, text: str, *, within: float = WAIT) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((a for a in self.alerts(pipeline) if text in a["message"]), None)

        return await eventually(found, what=f"an alert {text!r} for {pipeline}", within=within)

    async def wait_launch(self, name: str, count: int = 1, *, within: float = WAIT) -> Any:
        async def found() -> Any:
            launches = self.orchestrator.launches(name)
            return launches if len(launches) >= count else None

        return await eventually(found, what=f"{count} launch(es) of job {name}", within=within)

    async def wait_intervals(self, count: int = 2) -> None:
        """Let ``count`` watcher intervals go by, the watcher passing all along, so that "nothing
        happened" means the watcher looked and did nothing.

        A pass under way when this starts may have begun before the caller's last step, so at least
        one whole pass more than that must end: two passes counted from now, or ``count`` if more.
        A pass takes its own time beside the interval, so on a busy machine the wait may run past
        ``count`` intervals; the watcher has stopped only if no pass ends within ``WAIT``."""
        start = await self.watcher_passes()
        await anyio.sleep(count * WATCH_INTERVAL)
        needed = start + max(count, 2)

        async def passed() -> bool:
            return await self.watcher_passes() >= needed

        await eventually(passed, what=f"the watcher to pass {needed - start} times (it stopped passing)")
