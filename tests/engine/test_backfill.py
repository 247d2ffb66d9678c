"""Backfill through the engine, on the fake clock, on SQLite and Redis: one cycle per date through
the one run lifecycle, dedup on a second backfill, excluded days, the readiness gate and ``force``,
the concurrency bound, and stopping or cancelling with nothing left half-claimed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from interlock_core.engine import BackfillResult, Engine
from interlock_core.errors import StoreUnavailable, ValidationError
from interlock_core.model import RunStatus
from interlock_core.ports import LaunchResult, PollResult, Store
from tests.helpers.backends import scratch_redis_store
from tests.helpers.project import Harness, pipeline

S = RunStatus
R = BackfillResult
DAYS = ["2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27", "2026-02-28"]


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, harness: Harness) -> AsyncIterator[Store | None]:
    if request.param == "sqlite":
        yield None  # the project's own SQLite file
        return
    async with scratch_redis_store(harness.clock, "backfill") as redis:
        yield redis


def launches(marker: Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


async def ready_engine(harness: Harness, store: Store | None, marker: Path, *, volume: str = "PASS",
                       **extra: Any) -> Engine:
    """``p1``, its traits pushed (no evaluator process), its job appending its cycle date to ``marker``."""
    trigger = {"type": "command", "argv": ["sh", "-c", f"echo ${{date}} >> {marker}"]}
    harness.write([pipeline("p1", traits={}, trigger=trigger, **extra)])
    harness.clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    engine = await harness.engine(**({"store": store} if store is not None else {}))
    await engine.push_trait("p1", "freshness", "PASS")
    await engine.push_trait("p1", "volume", volume, reason=None if volume == "PASS" else "only 10 rows")
    return engine


async def test_five_days_run_once_and_a_second_backfill_does_nothing_new(
        harness: Harness, store: Store | None, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    engine = await ready_engine(harness, store, marker)

    report = await engine.backfill("p1", since=DAYS[0], until=DAYS[-1], concurrency=2)

    assert [c.cycle for c in report.cycles] == DAYS
    assert {c.result for c in report.cycles} == {R.COMPLETED}
    assert report.ok and not report.stopped and report.counts == {"completed": 5}
    assert sorted(launches(marker)) == DAYS
    for day in DAYS:
        entry = await engine.store.get_run_log("p1", day, "daily")
        assert entry is not None and entry.status is S.COMPLETED and entry.attempt_number == 1
    keys = {(await engine.store.get_run(c.run_id)).run_key.split(":", 1)[1] for c in report.cycles}  # type: ignore
    assert keys == {f"p1:daily:{day}:1" for day in DAYS}

    again = await engine.backfill("p1", since=DAYS[0], until=DAYS[-1], concurrency=3)

    assert {c.result for c in again.cycles} == {R.ALREADY_COMPLETED}
    assert again.ok and again.counts == {"already_completed": 5}
    assert [c.run_id for c in again.cycles] == [c.run_id for c in report.cycles]
    assert sorted(launches(marker)) == DAYS  # nothing launched twice


async def test_an_excluded_day_is_reported_not_run(harness: Harness, store: Store | None, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    engine = await ready_engine(harness, store, marker, exclusions={"dates": ["2026-02-26"]})

    report = await engine.backfill("p1", since=DAYS[0], until=DAYS[-1])

    results = {c.cycle: c.result for c in report.cycles}
    assert results.pop("2026-02-26") is R.EXCLUDED
    assert set(results.values()) == {R.COMPLETED}
    assert report.ok and report.counts == {"completed": 4, "excluded": 1}
    assert "2026-02-26" not in launches(marker)
    assert await engine.store.get_run_log("p1", "2026-02-26", "daily") is None


async def test_a_failing_gate_launches_nothing_and_force_launches_anyway(
        harness: Harness, store: Store | None, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    engine = await ready_engine(harness, store, marker, volume="FAIL")

    report = await engine.backfill("p1", since=DAYS[0], until=DAYS[2])

    assert {c.result for c in report.cycles} == {R.NOT_READY}
    assert all(c.blocking == ["volume"] for c in report.cycles)
    assert not report.ok
    assert launches(marker) == []
    assert await engine.store.list_run_logs("p1", 10) == []

    forced = await engine.backfill("p1", since=DAYS[0], until=DAYS[2], force=True)

    assert {c.result for c in forced.cycles} == {R.COMPLETED}
    assert all(c.forced and c.blocking == ["volume"] for c in forced.cycles)
    assert forced.ok
    assert sorted(launches(marker)) == DAYS[:3]
    run = await engine.store.get_run(forced.cycles[0].run_id or "")
    assert run is not None and run.metadata["forced"] is True and run.metadata["blocking"] == ["volume"]
    # force skips the readiness gate, never the run log's: the completed cycles stay completed
    again = await engine.backfill("p1", since=DAYS[0], until=DAYS[2], force=True)
    assert {c.result for c in again.cycles} == {R.ALREADY_COMPLETED}
    assert sorted(launches(marker)) == DAYS[:3]


class HeldTrigger:
    """A trigger whose launches count how many are under way at once; ``hold`` keeps them waiting."""

    def __init__(self, state: str = "succeeded") -> None:
        self.state = state
        self.active = 0
        self.peak = 0
        self.launched: list[str] = []
        self.entered = anyio.Event()
        self.paired = anyio.Event()
        self.hold: anyio.Event | None = None

    async def launch(self, config: Any, request: Any) -> LaunchResult:
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.launched.append(request.date)
        self.entered.set()
        if self.active >= 2:
            self.paired.set()
        try:
            if self.hold is not None:
                await self.hold.wait()
            else:
                with anyio.move_on_after(5):  # the first launch waits for a second one to come in
                    await self.paired.wait()
                await anyio.sleep(0.01)  # and each one leaves room for others to come in, if they may
        finally:
            self.active -= 1
        return LaunchResult(state=self.state)  # type: ignore[arg-type]

    async def poll(self, config: Any, metadata: Any) -> PollResult:
        return PollResult(state="succeeded")

    async def close(self) -> None:
        return None


def held(engine: Engine, trigger: HeldTrigger) -> HeldTrigger:
    engine.ctx.triggers._instances["command"] = trigger  # type: ignore[assignment]
    return trigger


async def test_concurrency_bounds_the_cycles_in_flight(harness: Harness, store: Store | None,
                                                       tmp_path: Path) -> None:
    engine = await ready_engine(harness, store, tmp_path / "launches")
    trigger = held(engine, HeldTrigger())

    report = await engine.backfill("p1", since="2026-02-20", until="2026-02-27", concurrency=2)

    assert report.counts == {"completed": 8}
    assert trigger.peak == 2
    assert sorted(trigger.launched) == [c.cycle for c in report.cycles]


async def test_a_running_job_is_followed_until_it_ends(harness: Harness, store: Store | None,
                                                       tmp_path: Path) -> None:
    engine = await ready_engine(harness, store, tmp_path / "launches")
    held(engine, HeldTrigger(state="running"))
    engine.ctx.triggers.cls("command").pollable = True

    try:
        followed = await engine.backfill("p1", since=DAYS[0], until=DAYS[1], poll_every=0)
        launched = await engine.backfill("p1", since=DAYS[2], until=DAYS[3], wait=False)
    finally:
        engine.ctx.triggers.cls("command").pollable = False

    assert {c.result for c in followed.cycles} == {R.COMPLETED}
    assert {c.result for c in launched.cycles} == {R.RUNNING}
    assert launched.ok  # launched and recorded: the watcher or the callback carries them on
    again = await engine.backfill("p1", since=DAYS[2], until=DAYS[3], wait=False)
    assert {c.result for c in again.cycles} == {R.ALREADY_RUNNING}


async def test_stopping_starts_nothing_new_and_leaves_nothing_claimed(harness: Harness, store: Store | None,
                                                                      tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    engine = await ready_engine(harness, store, marker)
    stop = anyio.Event()

    report = await engine.backfill("p1", since=DAYS[0], until=DAYS[-1], concurrency=1, stop=stop,
                                   on_cycle=lambda cycle, done, total: stop.set())

    assert [c.result for c in report.cycles] == [R.COMPLETED] + [R.NOT_STARTED] * 4
    assert report.stopped and report.ok
    assert launches(marker) == [DAYS[0]]
    assert [e.date for e in await engine.store.list_run_logs("p1", 10)] == [DAYS[0]]
    # the next backfill picks up where it stopped
    rest = await engine.backfill("p1", since=DAYS[0], until=DAYS[-1])
    assert [c.result for c in rest.cycles] == [R.ALREADY_COMPLETED] + [R.COMPLETED] * 4


async def test_cancelling_mid_launch_records_the_launch_and_claims_nothing_else(
        harness: Harness, store: Store | None, tmp_path: Path) -> None:
    engine = await ready_engine(harness, store, tmp_path / "launches")
    trigger = held(engine, HeldTrigger())
    trigger.hold = anyio.Event()

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: engine.backfill("p1", since=DAYS[0], until=DAYS[-1], concurrency=2))
        await trigger.entered.wait()
        while trigger.active < 2:
            await anyio.sleep(0.001)
        tg.cancel_scope.cancel()  # Ctrl-C with two launches in flight
        trigger.hold.set()

    entries = {e.date: e for e in await engine.store.list_run_logs("p1", 10)}
    assert sorted(entries) == DAYS[:2]
    assert {e.status for e in entries.values()} == {S.COMPLETED}  # launched and recorded, never TRIGGERING
    runs = await engine.store.list_runs("p1", 10)
    assert len(runs) == 2 and {r.status for r in runs} == {S.COMPLETED}


async def test_bad_arguments_name_the_field(harness: Harness, tmp_path: Path) -> None:
    engine = await ready_engine(harness, None, tmp_path / "launches")
    cases = [({"since": "2026-02-30", "until": DAYS[0]}, "from"),
             ({"since": DAYS[0], "until": "20260301"}, "to"),
             ({"since": DAYS[1], "until": DAYS[0]}, "from"),
             ({"since": None, "until": DAYS[0]}, "from"),
             ({"since": "2020-01-01", "until": "2026-01-01"}, "to"),
             ({"since": DAYS[0], "until": DAYS[1], "concurrency": 0}, "concurrency"),
             ({"since": DAYS[0], "until": DAYS[1], "schedule_id": "hourly"}, "schedule")]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as caught:
            await engine.backfill("p1", **kwargs)  # type: ignore[arg-type]
        assert caught.value.details.get("field") == field, kwargs
    assert await engine.store.list_run_logs("p1", 10) == []


async def test_a_downstream_backfill_follows_its_upstreams_cycles(harness: Harness, store: Store | None,
                                                                  tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    trigger = {"type": "command", "argv": ["sh", "-c", f"echo ${{pipelineID}}:${{date}} >> {marker}"]}
    harness.write([
        pipeline("ingest", traits={}, trigger=trigger),
        pipeline("report", trigger=trigger, traits={
            "freshness": {"evaluator": "builtin:upstream-cycles", "config": {"upstreamPipeline": "ingest"}},
            "volume": {"evaluator": "builtin:always-pass"}}),
    ])
    harness.clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    engine = await harness.engine(**({"store": store} if store is not None else {}))
    for trait in ("freshness", "volume"):
        await engine.push_trait("ingest", trait, "PASS")
    await engine.backfill("ingest", since=DAYS[0], until=DAYS[2])

    first = await engine.backfill("report", since=DAYS[0], until=DAYS[-1])

    assert [c.result for c in first.cycles] == [R.COMPLETED] * 3 + [R.NOT_READY] * 2
    assert first.cycles[3].blocking == ["freshness"]
    assert not first.ok
    evaluated = await engine.store.get_trait("report", "freshness")
    assert evaluated is not None and evaluated.date == DAYS[-1]
    assert evaluated.reason == f"upstream ingest has not completed 1 of 1 daily cycles: {DAYS[-1]} (no run)"
    # each upstream completion marked the downstream cycle that spans it
    assert [m.source for m in await engine.store.list_cascade_markers("report", DAYS[2], "daily")] == ["ingest"]
    assert await engine.store.list_cascade_markers("report", DAYS[3], "daily") == []

    await engine.backfill("ingest", since=DAYS[3], until=DAYS[4])
    assert [m.source for m in await engine.store.list_cascade_markers("report", DAYS[4], "daily")] == ["ingest"]
    second = await engine.backfill("report", since=DAYS[0], until=DAYS[-1])

    assert [c.result for c in second.cycles] == [R.ALREADY_COMPLETED] * 3 + [R.COMPLETED] * 2
    assert second.ok
    assert sorted(launches(marker)) == sorted([f"ingest:{d}" for d in DAYS] + [f"report:{d}" for d in DAYS])


async def test_a_cycle_that_cannot_start_is_an_error_and_the_others_go_on(
        harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "launches"
    engine = await ready_engine(harness, None, marker)
    start_run = engine.runs.start_run

    async def flaky(pipeline_id: str, schedule_id: str, date: str, **kwargs: Any) -> Any:
        if date == DAYS[1]:
            raise StoreUnavailable("the store did not answer")
        return await start_run(pipeline_id, schedule_id, date, **kwargs)

    monkeypatch.setattr(engine.runs, "start_run", flaky)
    report = await engine.backfill("p1", since=DAYS[0], until=DAYS[2])

    assert [c.result for c in report.cycles] == [R.COMPLETED, R.ERROR, R.COMPLETED]
    assert report.cycles[1].message == "the store did not answer" and not report.ok
    assert sorted(launches(marker)) == [DAYS[0], DAYS[2]]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_a_sub_daily_cron_is_backfilled_one_cycle_per_fire_time(
        harness: Harness, store: Store | None, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    trigger = {"type": "command", "argv": ["sh", "-c", f"echo ${{cycle}} >> {marker}"]}
    schedules = [{"name": "twice", "cron": "0 6,18 * * 1-5", "timezone": "Europe/Berlin"}]
    harness.write([pipeline("p1", traits={}, trigger=trigger, schedules=schedules)])
    harness.clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    engine = await harness.engine(**({"store": store} if store is not None else {}))
    for trait in ("freshness", "volume"):
        await engine.push_trait("p1", trait, "PASS")

    report = await engine.backfill("p1", since="2026-02-27", until="2026-03-01")  # Friday to Sunday

    fired = ["2026-02-27T06:00", "2026-02-27T18:00"]  # no cycle on the weekend
    assert [c.cycle for c in report.cycles] == fired and report.counts == {"completed": 2}
    assert sorted(launches(marker)) == fired
    again = await engine.backfill("p1", since="2026-02-27", until="2026-03-01")
    assert again.counts == {"already_completed": 2} and sorted(launches(marker)) == fired


async def test_a_daily_downstream_waits_for_every_cycle_of_its_sub_daily_upstream(
        harness: Harness, store: Store | None, tmp_path: Path) -> None:
    """Hourly→daily, at a smaller scale: a daily report over an every-6-hours ingest needs the four
    cycles of its date; each ingest cycle that completes marks the report's cycle of that date."""
    marker = tmp_path / "launches"
    trigger = {"type": "command", "argv": ["sh", "-c", f"echo ${{pipelineID}}:${{cycle}} >> {marker}"]}
    harness.write([
        pipeline("ingest", traits={}, trigger=trigger, schedules=[{"name": "six-hourly", "cron": "0 */6 * * *"}]),
        pipeline("report", trigger=trigger, traits={
            "freshness": {"evaluator": "builtin:upstream-cycles",
                          "config": {"upstreamPipeline": "ingest", "upstreamSchedule": "six-hourly"}},
            "volume": {"evaluator": "builtin:always-pass"}}),
    ])
    harness.clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    engine = await harness.engine(**({"store": store} if store is not None else {}))
    for trait in ("freshness", "volume"):
        await engine.push_trait("ingest", trait, "PASS")
    ingested = await engine.backfill("ingest", since=DAYS[0], until=DAYS[0])
    assert [c.cycle for c in ingested.cycles] == [f"{DAYS[0]}T{h}:00" for h in ("00", "06", "12", "18")]

    first = await engine.backfill("report", since=DAYS[0], until=DAYS[1], concurrency=1)  # the last judged: DAYS[1]

    assert [c.result for c in first.cycles] == [R.COMPLETED, R.NOT_READY]
    evaluated = await engine.store.get_trait("report", "freshness")
    assert evaluated is not None and evaluated.reason is not None
    assert evaluated.reason.startswith(f"upstream ingest has not completed 4 of 4 six-hourly cycles: {DAYS[1]}T00:00")
    markers = await engine.store.list_cascade_markers("report", DAYS[0], "daily")
    assert {m.source for m in markers} == {"ingest"}  # the date's cycle, marked by its upstream's fire times
    await engine.backfill("ingest", since=DAYS[1], until=DAYS[1])
    second = await engine.backfill("report", since=DAYS[0], until=DAYS[1])
    assert [c.result for c in second.cycles] == [R.ALREADY_COMPLETED, R.COMPLETED]
