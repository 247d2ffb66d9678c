"""The watcher with a fake clock: schedules, calendars, SLAs, DST, cascade, retries, reruns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from interlock_core.clock import SystemClock
from interlock_core.errors import StoreUnavailable
from interlock_core.model import EventKind, RunStatus
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline
from tests.helpers.webhook import webhook_server

S = RunStatus


async def event_kinds(engine: Any, name: str) -> list[EventKind]:
    return [e.kind for e in await engine.store.list_events(name, 1000)]


async def test_progressive_readiness_then_trigger(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    engine = await harness.engine()
    watcher = Watcher(engine)
    harness.sensors.set("p1.freshness", "FAIL lag 900s")
    await watcher.run_once()
    assert await engine.store.list_runs("p1") == []
    harness.sensors.set("p1.freshness", "PASS")
    harness.sensors.set("p1.volume", "PASS")
    harness.clock.advance(30)
    await watcher.run_once()
    runs = await engine.store.list_runs("p1")
    assert len(runs) == 1 and runs[0].status is S.COMPLETED
    harness.clock.advance(30)
    await watcher.run_once()
    assert len(await engine.store.list_runs("p1")) == 1  # dedup
    kinds = await event_kinds(engine, "p1")
    assert EventKind.WATCHER_EVALUATION in kinds and EventKind.TRIGGER_FIRED in kinds


async def test_interval_sets_how_often_a_pipeline_is_evaluated(harness: Harness) -> None:
    harness.write([pipeline("fast", watch={"interval": "10s"}), pipeline("slow", watch={"interval": "60s"})])
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    for _ in range(6):
        harness.clock.advance(10)
        await watcher.run_once(all_cycles=False)
    assert harness.sensors.calls("fast.freshness") == 7
    assert harness.sensors.calls("slow.freshness") == 2


async def test_schedule_after_and_time_zone(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "morning", "after": "06:00", "timezone": "America/New_York"}])])
    harness.sensors.ready("p1")
    harness.clock.set(datetime(2026, 1, 15, 10, 59, tzinfo=UTC))  # 05:59 EST
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    assert await engine.store.list_runs("p1") == []
    harness.clock.advance(61)  # 06:00 EST
    await watcher.run_once()
    runs = await engine.store.list_runs("p1")
    assert len(runs) == 1 and runs[0].schedule_id == "morning" and runs[0].date == "2026-01-15"


@pytest.mark.parametrize(
    ("before", "after", "at", "date"),
    [
        # spring forward: 02:30 does not exist on 2026-03-08; clocks show 03:30 EDT at 07:30 UTC
        (datetime(2026, 3, 8, 7, 29, tzinfo=UTC), datetime(2026, 3, 8, 7, 31, tzinfo=UTC), "02:30", "2026-03-08"),
        # after the change 08:00 is EDT (12:00 UTC), the day before EST (13:00 UTC)
        (datetime(2026, 3, 8, 11, 59, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC), "08:00", "2026-03-08"),
        (datetime(2026, 3, 7, 12, 59, tzinfo=UTC), datetime(2026, 3, 7, 13, 0, tzinfo=UTC), "08:00", "2026-03-07"),
        # fall back: 01:30 happens twice on 2026-11-01; the first (EDT, 05:30 UTC) counts
        (datetime(2026, 11, 1, 5, 29, tzinfo=UTC), datetime(2026, 11, 1, 5, 31, tzinfo=UTC), "01:30", "2026-11-01"),
        (datetime(2026, 11, 1, 12, 59, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC), "08:00", "2026-11-01"),
    ],
)
async def test_schedules_across_dst(harness: Harness, before: datetime, after: datetime, at: str, date: str) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "s", "after": at, "timezone": "America/New_York"}])])
    harness.sensors.ready("p1")
    harness.clock.set(before)
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    assert await engine.store.list_runs("p1") == []
    harness.clock.set(after)
    await watcher.run_once()
    runs = await engine.store.list_runs("p1")
    assert len(runs) == 1 and runs[0].date == date


async def test_cycle_date_is_the_schedule_zone_date(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "nightly", "timezone": "America/New_York"}])])
    harness.sensors.ready("p1")
    harness.clock.set(datetime(2026, 3, 8, 4, 30, tzinfo=UTC))  # 23:30 EST on 03-07
    engine = await harness.engine()
    await Watcher(engine).run_once()
    runs = await engine.store.list_runs("p1")
    assert runs[0].date == "2026-03-07"


async def test_excluded_day_fires_nothing(harness: Harness) -> None:
    harness.write([pipeline("p1", exclusions={"calendar": "weekends"},
                            sla={"evaluationDeadline": "00:01", "completionDeadline": "00:02"})])
    harness.sensors.ready("p1")
    harness.clock.set(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))  # a Saturday
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    assert await engine.store.list_runs("p1") == []
    assert await engine.store.list_events("p1") == []
    assert engine.ctx.alerts.alerts == []  # type: ignore[attr-defined]


async def test_multi_schedule_runs_independently(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "morning", "after": "06:00"},
                                             {"name": "evening", "after": "18:00"}])])
    harness.sensors.ready("p1")
    harness.clock.set(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    assert [r.schedule_id for r in await engine.store.list_runs("p1")] == ["morning"]
    harness.clock.set(datetime(2026, 3, 2, 18, 30, tzinfo=UTC))
    await watcher.run_once()
    runs = await engine.store.list_runs("p1")
    assert sorted(r.schedule_id for r in runs) == ["evening", "morning"]
    for sid in ("morning", "evening"):
        log = await engine.store.get_run_log("p1", "2026-03-02", sid)
        assert log is not None and log.status is S.COMPLETED


async def test_evaluation_sla_breaches_once(harness: Harness) -> None:
    harness.write([pipeline("p1", sla={"evaluationDeadline": "09:00", "timezone": "UTC"})])
    harness.sensors.set("p1.freshness", "FAIL late")
    harness.clock.set(datetime(2026, 3, 2, 8, 59, tzinfo=UTC))
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    assert EventKind.SLA_BREACHED not in await event_kinds(engine, "p1")
    for _ in range(4):
        harness.clock.advance(30)
        await watcher.run_once()
    assert (await event_kinds(engine, "p1")).count(EventKind.SLA_BREACHED) == 1
    sla_alerts = [m for m in engine.ctx.alerts.messages() if "evaluation SLA breached" in m]  # type: ignore[attr-defined]
    assert sla_alerts == ["Pipeline p1 evaluation SLA breached: not ready by 09:00"]


async def test_completion_sla_for_a_running_job(harness: Harness) -> None:
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                sla={"completionDeadline": "12:30", "timezone": "UTC"})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        watcher = Watcher(engine)
        await watcher.run_once()
        assert (await engine.store.list_runs("p1"))[0].status is S.RUNNING
        harness.clock.set(datetime(2026, 3, 2, 12, 31, tzinfo=UTC))
        await watcher.run_once()
        await watcher.run_once()
        alerts = [m for m in engine.ctx.alerts.messages() if "completion SLA" in m]  # type: ignore[attr-defined]
        assert len(alerts) == 1 and "still RUNNING past 12:30" in alerts[0]


async def test_a_cycle_that_never_ran_is_never_silent(harness: Harness) -> None:
    harness.write([pipeline("p1", schedules=[{"name": "daily", "deadline": "10:00"}])])
    harness.sensors.set("p1.volume", "FAIL empty")
    harness.clock.set(datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
    engine = await harness.engine()
    await Watcher(engine).run_once()
    messages = engine.ctx.alerts.messages()  # type: ignore[attr-defined]
    assert any("completion SLA breached: cycle NOT_STARTED past 10:00" in m for m in messages)
    assert any("evaluation SLA breached" in m for m in messages)


async def test_validation_timeout_force_fails_the_cycle(harness: Harness) -> None:
    harness.write([pipeline("p1", sla={"validationTimeout": "10:00", "timezone": "UTC"})])
    harness.sensors.set("p1.volume", "FAIL empty")
    harness.clock.set(datetime(2026, 3, 2, 10, 1, tzinfo=UTC))
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    log = await engine.store.get_run_log("p1", "2026-03-02", "daily")
    assert log is not None and log.status is S.FAILED and "validation timeout" in (log.failure_message or "")
    harness.sensors.ready("p1")
    harness.clock.advance(3600)
    await watcher.run_once()
    assert await engine.store.list_runs("p1") == []
    assert (await event_kinds(engine, "p1")).count(EventKind.SLA_BREACHED) == 1


async def test_retry_with_backoff_after_failing_trigger(harness: Harness) -> None:
    with webhook_server() as hook:
        hook.status = 500
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                retry={"maxAttempts": 3, "backoffSeconds": 5, "backoffMultiplier": 1.0},
                                watch={"interval": "2s"})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        watcher = Watcher(engine)
        await watcher.run_once()
        log = await engine.store.get_run_log("p1", "2026-03-02", "daily")
        assert log is not None and log.status is S.FAILED and log.attempt_number == 1
        harness.clock.advance(2)
        await watcher.run_once(all_cycles=False)
        assert hook.count == 1  # still in backoff
        hook.status = 200
        harness.clock.advance(4)
        await watcher.run_once(all_cycles=False)
        log = await engine.store.get_run_log("p1", "2026-03-02", "daily")
        assert hook.count == 2 and log is not None and log.status is S.RUNNING and log.attempt_number == 2
        messages = [e.message for e in await engine.store.list_events("p1", 200) if e.kind is EventKind.RETRY_SCHEDULED]
        assert messages == ["retry 2/3 scheduled after 5s"]


async def test_cascade_through_the_watcher(harness: Harness) -> None:
    gold = pipeline("gold")
    gold["traits"]["freshness"] = {"evaluator": "builtin:upstream-job-log", "config": {"upstreamPipeline": "silver"}}
    harness.write([pipeline("silver"), gold])
    harness.sensors.set("gold.volume", "PASS")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    assert await engine.store.list_runs("gold") == []
    harness.sensors.ready("silver")
    harness.clock.advance(30)
    await watcher.run_once()
    assert len(await engine.store.list_runs("silver")) == 1
    harness.clock.advance(1)
    await watcher.run_once(all_cycles=False)  # gold was woken by the cascade marker
    assert len(await engine.store.list_runs("gold")) == 1


async def test_rerun_of_completed_date_through_watcher(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    harness.sensors.set("p1.volume", "FAIL reloading")
    record, outcome = await engine.request_rerun("p1", "2026-03-02", "backfill")
    assert outcome is not None and record.status is S.PENDING
    harness.sensors.set("p1.volume", "PASS")
    harness.clock.advance(30)
    await watcher.run_once()
    done = await engine.store.get_rerun(record.rerun_id)
    assert done is not None and done.status is S.COMPLETED
    assert len(await engine.store.list_runs("p1")) == 2


async def test_pushed_trait_wakes_the_watcher_at_once(harness: Harness) -> None:
    pushed = pipeline("p1", watch={"interval": "1h"})
    pushed["traits"]["freshness"] = {}  # no evaluator: a pushed trait
    harness.write([pushed])
    harness.sensors.set("p1.volume", "PASS")
    engine = await harness.engine(clock=SystemClock())
    watcher = Watcher(engine)
    async with anyio.create_task_group() as tg:
        await tg.start(watcher.run)
        with anyio.fail_after(10):
            while watcher.passes < 1:
                await anyio.sleep(0.01)
        assert await engine.store.list_runs("p1") == []
        await engine.push_trait("p1", "freshness", "PASS")
        with anyio.fail_after(10):
            while not await engine.store.list_runs("p1"):
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()


async def test_a_hanging_evaluator_does_not_delay_other_pipelines(harness: Harness) -> None:
    slow = pipeline("slow")
    slow["traits"]["freshness"]["timeout"] = 20
    harness.write([slow, pipeline("quick")])
    harness.sensors.set("slow.freshness", "HANG")
    harness.sensors.set("slow.volume", "PASS")
    harness.sensors.ready("quick")
    engine = await harness.engine(clock=SystemClock())
    watcher = Watcher(engine)
    async with anyio.create_task_group() as tg:
        await tg.start(watcher.run)
        with anyio.fail_after(10):
            while not await engine.store.list_runs("quick"):
                await anyio.sleep(0.02)
        assert watcher.passes == 0  # the first pass is still waiting for the hanging evaluator
        tg.cancel_scope.cancel()


class FlakyStore:
    """Wraps a real store; raises StoreUnavailable on every call while ``down``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailable("store unreachable (injected)")
            return await attr(*args, **kwargs)

        return call


async def test_watcher_backs_off_during_store_outage_and_resumes(harness: Harness,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    harness.write([pipeline("p1", watch={"interval": "1s"})])
    harness.sensors.set("p1.volume", "FAIL not yet")
    from interlock_core.config import load_project
    from interlock_core.engine.factory import create_store
    from interlock_core.plugins import load_plugins

    project = load_project(harness.root)
    flaky = FlakyStore(create_store(project, SystemClock(), load_plugins()))
    engine = await harness.engine(clock=SystemClock(), store=flaky)
    watcher = Watcher(engine, max_backoff=0.2)
    async with anyio.create_task_group() as tg:
        await tg.start(watcher.run)
        flaky.down = True
        with anyio.fail_after(10):
            while not watcher.outage:
                await anyio.sleep(0.02)
        await anyio.sleep(0.5)
        harness.sensors.ready("p1")
        flaky.down = False
        with anyio.fail_after(15):
            while not await engine.store.list_runs("p1") or watcher.outage:
                await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    outage_lines = [r for r in caplog.records if "store unavailable" in r.getMessage()]
    assert len(outage_lines) == 1


async def test_two_watchers_never_work_the_same_cycle(harness: Harness, tmp_path: Any) -> None:
    marker = tmp_path / "launches"
    harness.write([pipeline("p1", trigger={"type": "command", "argv": ["sh", "-c", f"sleep 0.3; echo x >> {marker}"]})])
    harness.sensors.ready("p1")
    a = Watcher(await harness.engine())
    b = Watcher(await harness.engine())
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(a.run_once)
            tg.start_soon(b.run_once)
    assert marker.read_text().count("x") == 1


def test_watch_interval_default(harness: Harness) -> None:
    assert timedelta(seconds=30) == timedelta(seconds=30)
