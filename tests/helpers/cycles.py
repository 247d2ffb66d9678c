"""Helpers for cron-schedule and catch-up tests: a project with one cron pipeline, the store to
run it on (SQLite or Redis), its cycles and passes at given instants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis

from interlock_core.engine import Engine
from interlock_core.watcher import Watcher
from tests.helpers.backends import REDIS_ADDR
from tests.helpers.project import Harness, pipeline


@pytest.fixture(params=["sqlite", "redis"], name="store_config")
def cycle_store_config(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "sqlite":
        yield {}
        return
    prefix = f"cron-{uuid.uuid4().hex[:8]}:"
    yield {"provider": "redis", "redis": {"addr": REDIS_ADDR, "keyPrefix": prefix}}
    client = redis.Redis.from_url(f"redis://{REDIS_ADDR}")
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


async def cron_project(harness: Harness, cron: str | None, tz: str = "UTC", config: dict[str, Any] | None = None,
                       **schedule: Any) -> tuple[Engine, Watcher]:
    """One ready pipeline ``hourly`` with one schedule ``s`` (``cron``, else a named daily window)."""
    timing = {"cron": cron} if cron else {}
    harness.write([pipeline("hourly", schedules=[{"name": "s", **timing, "timezone": tz, **schedule}])],
                  config=config)
    harness.sensors.ready("hourly")
    engine = await harness.engine()
    return engine, Watcher(engine)


async def cycles(engine: Engine) -> list[str]:
    return sorted(entry.date for entry in await engine.store.list_run_logs("hourly", 100))


async def at(harness: Harness, watcher: Watcher, when: datetime) -> None:
    harness.clock.set(when)
    await watcher.run_once()
