"""Cron schedules and sub-daily cycles on the fake clock, on SQLite and Redis: each fire time is one
cycle that triggers once; DST days in two zones fire a skipped time once and a repeated one once;
keys are validated against the schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from interlock_core.errors import ValidationError
from tests.helpers.cycles import at, cron_project, cycle_store_config, cycles
from tests.helpers.project import Harness, pipeline

__all__ = ["cycle_store_config"]  # the store_config fixture (SQLite, Redis)

async def test_each_hourly_fire_time_is_one_cycle_that_runs_once(harness: Harness,
                                                                 store_config: dict[str, Any]) -> None:
    harness.clock.set(datetime(2026, 3, 3, 9, 59, tzinfo=UTC))
    engine, watcher = await cron_project(harness, "@hourly", config={**store_config,
                                                                     "watcher": {"defaultInterval": "2h"}})
    for when in (datetime(2026, 3, 3, 10, 0, 5, tzinfo=UTC), datetime(2026, 3, 3, 10, 30, tzinfo=UTC),
                 datetime(2026, 3, 3, 11, 0, 1, tzinfo=UTC), datetime(2026, 3, 3, 11, 40, tzinfo=UTC)):
        await at(harness, watcher, when)
    assert await cycles(engine) == ["2026-03-03T10:00", "2026-03-03T11:00"]
    runs = await engine.store.list_runs("hourly", 10)
    assert sorted(r.date for r in runs) == await cycles(engine)  # one run per cycle, never two
    # the watcher is due again at the next fire time, however long its interval
    assert min(watcher._due.values()) == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


async def test_a_cycle_key_must_fit_the_schedule(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 3, 3, 10, 5, tzinfo=UTC))
    engine, _ = await cron_project(harness, "0 * * * *")
    with pytest.raises(ValidationError, match="YYYY-MM-DDTHH:MM"):
        await engine.start_run("hourly", date="2026-03-03")
    outcome = await engine.start_run("hourly", date="2026-03-03T08:00")
    assert outcome.run is not None and outcome.run.date == "2026-03-03T08:00"


@pytest.mark.parametrize("tz, day, gap", [("America/New_York", (2026, 3, 8), 7), ("Europe/Berlin", (2026, 3, 29), 1)])
async def test_spring_forward_a_missing_fire_time_fires_once(harness: Harness, tz: str, day: tuple[int, int, int],
                                                              gap: int) -> None:
    """02:30 does not exist that day: the cycle fires once, at 03:00 local (right after the jump)."""
    harness.clock.set(datetime(*day, 0, 0, tzinfo=UTC))
    engine, watcher = await cron_project(harness, "30 2 * * *", tz)
    jump = datetime(*day, gap, 0, tzinfo=UTC)  # 03:00 local, the first instant after the gap
    await at(harness, watcher, jump - timedelta(minutes=1))
    assert await cycles(engine) == []
    for when in (jump + timedelta(seconds=5), jump + timedelta(minutes=30), jump + timedelta(hours=2)):
        await at(harness, watcher, when)
    assert await cycles(engine) == [datetime(*day).date().isoformat()]


@pytest.mark.parametrize("tz, day, first", [("America/New_York", (2026, 11, 1), 5),
                                            ("Europe/Berlin", (2026, 10, 25), 0)])
async def test_fall_back_a_repeated_fire_time_fires_once(harness: Harness, tz: str, day: tuple[int, int, int],
                                                         first: int) -> None:
    """01:30 (New York) / 02:30 (Berlin) happens twice that day: the cycle fires at the first one only,
    and the hourly cycle of the repeated hour runs once."""
    hour = 1 if tz.startswith("America") else 2
    harness.clock.set(datetime(*day, first, 0, tzinfo=UTC) - timedelta(hours=1))
    engine, watcher = await cron_project(harness, f"30 {hour} * * *", tz)
    for when in (datetime(*day, first, 31, tzinfo=UTC), datetime(*day, first + 1, 31, tzinfo=UTC)):
        await at(harness, watcher, when)  # the first 0X:30, then the second one an hour later
    assert await cycles(engine) == [datetime(*day).date().isoformat()]
    runs = await engine.store.list_runs("hourly", 10)
    assert len(runs) == 1 and runs[0].created_at == datetime(*day, first, 31, tzinfo=UTC)


async def test_hourly_cycles_through_a_fall_back_day(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 11, 1, 3, 55, tzinfo=UTC))  # 23:55 EDT the day before
    engine, watcher = await cron_project(harness, "0 * * * *", "America/New_York")
    when = datetime(2026, 11, 1, 4, 1, tzinfo=UTC)  # 00:01 EDT
    for _ in range(4):  # 00:01 EDT, 01:01 EDT, 01:01 EST, 02:01 EST
        await at(harness, watcher, when)
        when += timedelta(hours=1)
    assert await cycles(engine) == ["2026-11-01T00:00", "2026-11-01T01:00", "2026-11-01T02:00"]


async def test_schedule_missed_judges_each_sub_daily_cycle_by_its_own_deadline(harness: Harness) -> None:
    """With no watcher (AWS mode's sweep): an hourly cycle with no evaluation and no run is missed
    45 minutes after its fire time, once; the next cycle is judged by its own deadline."""
    harness.clock.set(datetime(2026, 3, 3, 9, 50, tzinfo=UTC))
    engine, _ = await cron_project(harness, "0 * * * *", deadline="45m")
    await engine.watchdog_sweep()  # the watchdog's start mark
    missed: list[str] = []
    for when in (datetime(2026, 3, 3, 10, 40, tzinfo=UTC), datetime(2026, 3, 3, 10, 50, tzinfo=UTC),
                 datetime(2026, 3, 3, 11, 20, tzinfo=UTC), datetime(2026, 3, 3, 11, 46, tzinfo=UTC)):
        harness.clock.set(when)
        await engine.watchdog_sweep()
        missed.append(",".join(sorted(e.date or "" for e in await engine.store.list_events("hourly", 200)
                                      if e.kind.value == "SCHEDULE_MISSED")))
    assert missed == ["", "2026-03-03T10:00", "2026-03-03T10:00", "2026-03-03T10:00,2026-03-03T11:00"]


async def test_a_weekday_cron_has_no_cycle_at_the_weekend(harness: Harness) -> None:
    """``0 6 * * 1-5`` with a deadline: Saturday is no cycle — nothing runs, nothing is missed or late."""
    harness.clock.set(datetime(2026, 3, 6, 6, 30, tzinfo=UTC))  # a Friday, after its fire time
    engine, watcher = await cron_project(harness, "0 6 * * 1-5", deadline="09:00")
    await watcher.run_once()
    for when in (datetime(2026, 3, 7, 10, 0, tzinfo=UTC), datetime(2026, 3, 9, 6, 1, tzinfo=UTC)):
        await at(harness, watcher, when)
    assert await cycles(engine) == ["2026-03-06", "2026-03-09"]
    kinds = {e.kind.value for e in await engine.store.list_events("hourly", 200)}
    assert not kinds & {"SCHEDULE_MISSED", "SLA_BREACHED", "SLA_WARNING", "CYCLE_SKIPPED"}


async def test_aws_steps_resolve_a_sub_daily_cycle_and_skip_a_day_without_fire_time(harness: Harness) -> None:
    from interlock_core.engine.steps import Steps

    harness.clock.set(datetime(2026, 3, 7, 10, 20, tzinfo=UTC))  # a Saturday
    engine, _ = await cron_project(harness, "0 * * * *")
    steps = Steps(engine)
    cycle = await steps.resolve_cycle("hourly")
    assert cycle.date == "2026-03-07T10:00" and (await steps.check_exclusion(cycle)).proceed
    harness.write([pipeline("hourly", schedules=[{"name": "s", "cron": "0 6 * * 1-5"}])])
    weekday = await harness.engine()
    skipped = await Steps(weekday).check_exclusion(await Steps(weekday).resolve_cycle("hourly"))
    assert not skipped.proceed and "does not fire on 2026-03-07" in str(skipped.to_json())
