"""``job.pollWindow`` on the fake clock, on SQLite and Redis: a job still RUNNING past it fails as
TIMEOUT with JOB_POLL_EXHAUSTED (event and alert, once per run), and the retry policy decides what
follows — retried by default, not when TIMEOUT is not retryable. Without a window a run is
followed until it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from interlock_core.engine import Engine
from interlock_core.model import EventKind, FailureCategory, RunStatus
from interlock_core.ports import Store
from interlock_core.watcher import Watcher
from tests.helpers.backends import scratch_redis_store
from tests.helpers.project import Harness, MemoryAlerts, pipeline
from tests.helpers.webhook import webhook_server

K = EventKind
S = RunStatus
DAY = "2026-03-02"


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, harness: Harness) -> AsyncIterator[Store | None]:
    if request.param == "sqlite":
        yield None
        return
    async with scratch_redis_store(harness.clock, "pollwin") as redis:
        yield redis


async def events(engine: Engine, name: str, kind: EventKind) -> list[Any]:
    return [e for e in await engine.store.list_events(name, 1000) if e.kind is kind]


async def test_poll_window_exhausted_fails_as_timeout_and_is_retried(harness: Harness, store: Store | None) -> None:
    with webhook_server() as hook:  # an http trigger: the job runs until its callback, which never comes
        trigger = {"type": "http", "url": hook.url}
        harness.write([
            pipeline("slow", trigger=trigger, job={"pollWindow": "30m"},
                     retry={"maxAttempts": 2, "backoffSeconds": 60}),
            pipeline("strict", trigger=trigger, job={"pollWindow": "30m"},
                     retry={"maxAttempts": 3, "retryableFailures": ["TRANSIENT"]}),
            pipeline("patient", trigger=trigger),
        ])
        for name in ("slow", "strict", "patient"):
            harness.sensors.ready(name)
        alerts = MemoryAlerts()
        engine = await (harness.engine(store=store, alerts=alerts) if store else harness.engine(alerts=alerts))
        watcher = Watcher(engine)
        await watcher.run_once()
        harness.clock.advance(29 * 60)
        await watcher.run_once()
        assert [r.status for r in await engine.store.list_runs("slow")] == [S.RUNNING]
        harness.clock.advance(2 * 60)
        await watcher.run_once()  # past the window: failed, a retry scheduled
        [first] = await engine.store.list_runs("slow")
        assert first.status is S.FAILED and first.failure_category is FailureCategory.TIMEOUT
        assert "job.pollWindow (30m0s)" in (first.failure_message or "")
        [exhausted] = await events(engine, "slow", K.JOB_POLL_EXHAUSTED)
        assert exhausted.run_id == first.run_id and exhausted.failure_category is FailureCategory.TIMEOUT
        assert exhausted.details == {"pollWindow": "30m0s", "launchedAt": "2026-03-02T12:00:00Z"}
        assert len(await events(engine, "slow", K.RETRY_SCHEDULED)) == 1
        assert sum(f"Run {first.run_id} of pipeline slow failed" in m for m in alerts.messages()) == 1
        await watcher.run_once()
        assert len(await events(engine, "slow", K.JOB_POLL_EXHAUSTED)) == 1  # once per run

        harness.clock.advance(61)
        await watcher.run_once()  # the retry: a second attempt
        runs = await engine.store.list_runs("slow")
        assert len(runs) == 2 and {r.attempt for r in runs} == {1, 2}
        harness.clock.advance(31 * 60)
        await watcher.run_once()
        entry = await engine.store.get_run_log("slow", DAY, "daily")
        assert entry is not None and entry.status is S.FAILED and entry.attempt_number == 2
        assert entry.failure_category is FailureCategory.TIMEOUT
        assert [a.failure_category for a in entry.retry_history] == [FailureCategory.TIMEOUT] * 2
        assert all(a.job_failure for a in entry.retry_history)
        assert len(await events(engine, "slow", K.JOB_POLL_EXHAUSTED)) == 2
        assert len(await events(engine, "slow", K.RETRY_EXHAUSTED)) == 1

        # TIMEOUT not retryable for this pipeline: it fails for good at the first window
        [strict] = await engine.store.list_runs("strict")
        assert strict.status is S.FAILED and await events(engine, "strict", K.RETRY_SCHEDULED) == []
        assert any("strict failed with non-retryable error" in m for m in alerts.messages())
        # no window: followed until it ends
        assert [r.status for r in await engine.store.list_runs("patient")] == [S.RUNNING]
        assert await events(engine, "patient", K.JOB_POLL_EXHAUSTED) == []
