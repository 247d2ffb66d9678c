"""The watcher works the cycle a wake-up names, not only today's (fake clock).

An upstream run for day D that completes after midnight writes its cascade marker for D and wakes
the downstream for D: the downstream runs for D (within the look-back window), not for D+1 unless
D+1 is itself ready; a backfill of an older day cascades the same way; a day outside the window is
ignored with a log line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from interlock_core.engine import Engine, Outcome
from interlock_core.engine.cycle import LOOKBACK_DAYS
from interlock_core.model import RunStatus
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline
from tests.helpers.webhook import Webhook, webhook_server

S = RunStatus
D = "2026-12-05"
NEXT = "2026-12-06"


def downstream(name: str = "gold", upstream: str = "silver", **extra: Any) -> dict[str, Any]:
    gold = pipeline(name, **extra)
    gold["traits"]["freshness"] = {"evaluator": "builtin:upstream-job-log", "config": {"upstreamPipeline": upstream}}
    return gold


async def project(harness: Harness, hook: Webhook, **gold: Any) -> tuple[Engine, Watcher]:
    """silver (launched by hand, completed by callback) feeds gold (watched, command trigger)."""
    harness.write([pipeline("silver", trigger={"type": "http", "url": hook.url}, watch={"enabled": False}),
                   downstream(**gold)])
    harness.sensors.ready("silver")
    harness.sensors.set("gold.volume", "PASS")
    harness.clock.set(datetime(2026, 12, 5, 22, 0, tzinfo=UTC))
    engine = await harness.engine()
    return engine, Watcher(engine)


async def upstream_run(engine: Engine, day: str) -> str:
    started = await engine.start_run("silver", date=day)
    assert started.outcome is Outcome.TRIGGERED and started.run is not None, started.message
    return started.run.run_id


async def gold_days(engine: Engine) -> dict[str, str]:
    return {entry.date: entry.status.value for entry in await engine.store.list_run_logs("gold", 50)}


async def test_an_upstream_run_ending_after_midnight_runs_the_downstream_for_its_day(harness: Harness) -> None:
    with webhook_server() as hook:
        engine, watcher = await project(harness, hook)
        run_id = await upstream_run(engine, D)  # the nightly run starts on D ...
        await watcher.run_once()
        assert await gold_days(engine) == {}  # gold waits for silver on D
        harness.clock.set(datetime(2026, 12, 6, 0, 40, tzinfo=UTC))
        await watcher.run_once()
        await engine.complete_run(run_id, "success")  # ... and ends on D+1: marker and wake-up for D
        assert [m.date for m in await engine.store.list_cascade_markers("gold", D, "daily")] == [D]
        await watcher.run_once(all_cycles=False)
        assert await gold_days(engine) == {D: "COMPLETED"}  # not D+1: silver has not run for it
        harness.clock.advance(30)
        await watcher.run_once(all_cycles=False)
        assert await gold_days(engine) == {D: "COMPLETED"}
        assert len(await engine.store.list_runs("gold")) == 1


async def test_a_woken_day_not_ready_yet_is_worked_until_it_runs(harness: Harness) -> None:
    with webhook_server() as hook:
        engine, watcher = await project(harness, hook)
        run_id = await upstream_run(engine, D)
        harness.clock.set(datetime(2026, 12, 6, 0, 40, tzinfo=UTC))
        harness.sensors.set("gold.volume", "FAIL still loading")
        await watcher.run_once()
        await engine.complete_run(run_id, "success")
        await watcher.run_once(all_cycles=False)
        assert await gold_days(engine) == {}
        harness.sensors.set("gold.volume", "PASS")  # nothing wakes gold: its interval comes round
        harness.clock.advance(30)
        await watcher.run_once(all_cycles=False)
        assert await gold_days(engine) == {D: "COMPLETED"}


async def test_a_backfill_cascades_to_its_own_day(harness: Harness) -> None:
    with webhook_server() as hook:
        engine, watcher = await project(harness, hook)
        harness.clock.set(datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
        await watcher.run_once()
        backfill = "2026-12-01"
        await engine.complete_run(await upstream_run(engine, backfill), "success")
        await watcher.run_once(all_cycles=False)
        assert await gold_days(engine) == {backfill: "COMPLETED"}
        runs = await engine.store.list_runs("gold")
        assert [(r.date, r.attempt) for r in runs] == [(backfill, 1)]


async def test_a_day_outside_the_look_back_window_is_ignored_with_a_log_line(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with webhook_server() as hook:
        engine, watcher = await project(harness, hook)
        harness.clock.set(datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
        await watcher.run_once()
        old = (datetime(2026, 12, 6) - timedelta(days=LOOKBACK_DAYS + 1)).date().isoformat()
        with caplog.at_level(logging.INFO, logger="interlock.watcher"):
            await engine.complete_run(await upstream_run(engine, old), "success")
            await watcher.run_once(all_cycles=False)
        assert await gold_days(engine) == {}
        assert any(old in r.getMessage() and "look-back window" in r.getMessage() for r in caplog.records), \
            [r.getMessage() for r in caplog.records]


async def test_a_settled_today_does_not_hide_a_woken_past_day(harness: Harness) -> None:
    with webhook_server() as hook:
        engine, watcher = await project(harness, hook)
        harness.clock.set(datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
        await engine.complete_run(await upstream_run(engine, NEXT), "success")
        await watcher.run_once()
        assert await gold_days(engine) == {NEXT: "COMPLETED"}
        harness.clock.advance(30)
        stats = await watcher.run_once(all_cycles=False)
        harness.clock.advance(30)
        stats = await watcher.run_once(all_cycles=False)
        assert stats.settled == 1  # today's cycle is done: passes skip it
        await engine.complete_run(await upstream_run(engine, D), "success")  # yesterday's, late
        await watcher.run_once(all_cycles=False)
        assert await gold_days(engine) == {D: "COMPLETED", NEXT: "COMPLETED"}


async def test_a_rerun_of_a_day_that_never_ran_does_not_also_start_its_scheduled_run(harness: Harness) -> None:
    harness.write([pipeline("solo")])
    harness.sensors.ready("solo")
    harness.clock.set(datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    record, outcome = await engine.request_rerun("solo", "2026-12-03", "backfill by hand")
    assert outcome is not None and outcome.outcome is Outcome.TRIGGERED
    await watcher.run_once(all_cycles=False)  # woken for 2026-12-03 by the rerun and by its run's end
    harness.clock.advance(30)
    await watcher.run_once(all_cycles=False)
    assert [e.date for e in await engine.store.list_run_logs("solo", 50)] == [NEXT]  # no scheduled run of 12-03
    assert [r.rerun_id for r in await engine.store.list_runs("solo") if r.date == "2026-12-03"] == \
        [record.rerun_id]


async def test_a_wake_up_for_a_later_day_or_no_day_at_all_is_ignored_with_a_log_line(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with webhook_server() as hook:
        engine, watcher = await project(harness, hook)
        harness.clock.set(datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
        await watcher.run_once()
        with caplog.at_level(logging.INFO, logger="interlock.watcher"):
            watcher.wake("gold", "daily", "2026-12-09")
            watcher.wake("gold", None, "20261205")  # another spelling of a day is not a cycle date
            watcher.wake("gold", "daily", "2026-12-05\n[ERROR] forged")
            await watcher.run_once(all_cycles=False)
        lines = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
        assert len(lines) == 3, lines
        assert any("2026-12-09" in line and "after today" in line for line in lines)
        assert not any("\n" in line for line in lines)  # a forged date is quoted, never a line of its own
        assert await gold_days(engine) == {}


async def test_a_watcher_started_after_the_cascade_still_runs_the_past_day(harness: Harness) -> None:
    with webhook_server() as hook:
        engine, _ = await project(harness, hook)
        harness.clock.set(datetime(2026, 12, 6, 0, 40, tzinfo=UTC))
        await engine.complete_run(await upstream_run(engine, D), "success")  # no watcher heard the wake-up
        restarted = Watcher(await harness.engine())
        await restarted.run_once()
        assert await gold_days(engine) == {D: "COMPLETED"}
        harness.clock.advance(30)
        await restarted.run_once(all_cycles=False)
        assert len(await engine.store.list_runs("gold")) == 1
