"""Catch-up after downtime on the fake clock: an outage of 3 days over an hourly cron schedule,
with each ``catchUp`` policy, on SQLite and Redis; month ends and a leap day for a daily cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from interlock_core.engine import Engine
from interlock_core.engine.outcome import Outcome
from interlock_core.model import EventKind, RunStatus
from interlock_core.pipeline_state import PipelineState
from interlock_core.watcher import Watcher
from tests.helpers.cycles import at, cron_project, cycle_store_config, cycles
from tests.helpers.project import Harness, MemoryAlerts

__all__ = ["cycle_store_config"]  # the store_config fixture (SQLite, Redis)

BEFORE = datetime(2026, 3, 3, 10, 0, 5, tzinfo=UTC)
BACK = datetime(2026, 3, 6, 10, 30, tzinfo=UTC)  # three days later


async def ran(engine: Engine) -> list[str]:
    """The cycles that ran (a cycle skipped by catch-up has a SKIPPED run log)."""
    return sorted(e.date for e in await engine.store.list_run_logs("hourly", 500) if e.status is not RunStatus.SKIPPED)


async def skipped_logs(engine: Engine) -> list[str]:
    return sorted(e.date for e in await engine.store.list_run_logs("hourly", 500) if e.status is RunStatus.SKIPPED)


async def events(engine: Engine, kind: EventKind) -> list[str]:
    return sorted(e.date or "" for e in await engine.store.list_events("hourly", 500) if e.kind is kind)


async def outage(harness: Harness, policy: str | None, config: dict[str, Any] | None = None,
                 **schedule: Any) -> tuple[Engine, Watcher]:
    """The watcher runs the 10:00 cycle, stops for three days, and a new one comes back at 10:30."""
    harness.clock.set(BEFORE)
    extra = {"catchUp": policy} if policy else {}
    engine, watcher = await cron_project(harness, "0 * * * *", config=config, **extra, **schedule)
    await watcher.run_once()
    assert await cycles(engine) == ["2026-03-03T10:00"]
    await engine.aclose()
    harness.clock.set(BACK)
    engine = await harness.engine(alerts=MemoryAlerts())
    watcher = Watcher(engine)
    await watcher.run_once()
    return engine, watcher


async def test_latest_runs_the_current_cycle_and_records_each_skipped_one(harness: Harness,
                                                                          store_config: dict[str, Any]) -> None:
    engine, watcher = await outage(harness, None, config=store_config)  # latest is the default
    assert sorted(r.date for r in await engine.store.list_runs("hourly")) == ["2026-03-03T10:00", "2026-03-06T10:00"]
    skipped = await events(engine, EventKind.CYCLE_SKIPPED)
    assert len(skipped) == 71 and skipped[0] == "2026-03-03T11:00" and skipped[-1] == "2026-03-06T09:00"
    assert await skipped_logs(engine) == skipped  # recorded SKIPPED, as onDeadline: skip records a cycle
    alerts = [m for m in engine.ctx.alerts.messages() if "while no watcher ran" in m]  # type: ignore[attr-defined]
    assert len(alerts) == 1 and "skipped 71" in alerts[0]
    await at(harness, watcher, BACK + timedelta(minutes=10))  # alerted and recorded once
    assert len(await events(engine, EventKind.CYCLE_SKIPPED)) == 71
    assert len([m for m in engine.ctx.alerts.messages() if "while no watcher ran" in m]) == 1  # type: ignore[attr-defined]


async def test_none_skips_the_current_cycle_too_and_the_next_fire_time_runs(harness: Harness) -> None:
    engine, watcher = await outage(harness, "none")
    assert await ran(engine) == ["2026-03-03T10:00"]
    assert len(await events(engine, EventKind.CYCLE_SKIPPED)) == 72
    assert len(await skipped_logs(engine)) == 72 and "2026-03-06T10:00" in await skipped_logs(engine)
    await at(harness, watcher, BACK + timedelta(minutes=10))
    assert await ran(engine) == ["2026-03-03T10:00"]
    await at(harness, watcher, datetime(2026, 3, 6, 11, 0, 5, tzinfo=UTC))
    assert await ran(engine) == ["2026-03-03T10:00", "2026-03-06T11:00"]


async def test_all_runs_the_cycles_of_the_window_oldest_first_one_at_a_time(harness: Harness) -> None:
    engine, watcher = await outage(harness, "all", catchUpWindow="3h")
    assert await events(engine, EventKind.CYCLE_CAUGHT_UP) == ["2026-03-06T08:00", "2026-03-06T09:00"]
    assert await events(engine, EventKind.CYCLE_SKIPPED) == []  # older than the window: counted, not recorded
    assert await ran(engine) == ["2026-03-03T10:00", "2026-03-06T08:00", "2026-03-06T10:00"]
    # the watcher stops again before 09:00 ran: the next one catches it up (the mark had not moved on)
    await engine.aclose()
    engine = await harness.engine()
    watcher = Watcher(engine)
    for minutes in (1, 2, 3):
        await at(harness, watcher, BACK + timedelta(minutes=minutes))
    assert await ran(engine) == ["2026-03-03T10:00", "2026-03-06T08:00", "2026-03-06T09:00", "2026-03-06T10:00"]
    runs = sorted((r.created_at, r.date) for r in await engine.store.list_runs("hourly", 20))
    assert [d for _, d in runs][1:3] == ["2026-03-06T08:00", "2026-03-06T10:00"]  # 09:00 waited for 08:00
    assert len(runs) == 4 and not engine.cycles.catch_up.pending("hourly", "s")
    assert await engine.store.lease_owner("catchup:hourly:s") == "2026-03-06T10:00"


async def test_a_daily_cron_over_month_ends_and_a_leap_day(harness: Harness) -> None:
    harness.clock.set(datetime(2028, 1, 31, 5, 0, tzinfo=UTC))
    engine, watcher = await cron_project(harness, "0 6 L * *", "Europe/Berlin")
    seen: set[str] = set()
    for when in (datetime(2028, 1, 31, 5, 1, tzinfo=UTC), datetime(2028, 2, 29, 5, 1, tzinfo=UTC),
                 datetime(2028, 3, 31, 4, 1, tzinfo=UTC)):  # 06:01 in Berlin (CET, then CEST)
        await at(harness, watcher, when)
        seen.update(await ran(engine))  # (run logs older than the retention are gone)
    assert sorted(seen) == ["2028-01-31", "2028-02-29", "2028-03-31"]
    assert await events(engine, EventKind.CYCLE_SKIPPED) == []  # a month between fire times is no outage


async def test_a_named_daily_window_takes_part_only_when_catch_up_is_set(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    engine, watcher = await cron_project(harness, None, after="06:00", catchUp="latest")
    await watcher.run_once()
    await at(harness, watcher, datetime(2026, 3, 6, 7, 0, tzinfo=UTC))
    assert await ran(engine) == ["2026-03-03", "2026-03-06"]
    assert await events(engine, EventKind.CYCLE_SKIPPED) == ["2026-03-04", "2026-03-05"]
    assert await skipped_logs(engine) == ["2026-03-04", "2026-03-05"]


async def test_a_cycle_skipped_by_catch_up_reads_like_one_skipped_at_its_deadline(harness: Harness) -> None:
    engine, _ = await outage(harness, "none", catchUpWindow="2h")  # 09:00 and the current 10:00 skipped
    assert await skipped_logs(engine) == ["2026-03-06T09:00", "2026-03-06T10:00"]
    entry = await engine.store.get_run_log("hourly", "2026-03-06T10:00", "s")
    assert entry is not None and entry.run_id is None and "catchUp: none" in (entry.failure_message or "")
    state = await engine.pipeline_state("hourly")
    assert state.state is PipelineState.SKIPPED and "was skipped (passed while no watcher ran" in state.message
    outcome = await engine.start_run("hourly", "s", "2026-03-06T10:00")  # refused like a deadline skip
    assert outcome.outcome is Outcome.SKIPPED and "request a rerun" in outcome.message
    _, rerun = await engine.request_rerun("hourly", "2026-03-06T10:00", "ran after all", schedule_id="s")
    assert rerun is not None and rerun.run is not None and rerun.run.status is RunStatus.COMPLETED
    assert sorted(r.date for r in await engine.store.list_runs("hourly")) == ["2026-03-03T10:00", "2026-03-06T10:00"]
