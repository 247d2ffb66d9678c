"""``builtin:upstream-cycles`` (pure logic: a stand-in answers get_pipeline and get_run_log), and the
cycle arithmetic it stands on (:mod:`interlock_core.cycle_spans`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pydantic
import pytest

from interlock_core.calendars import CalendarRegistry
from interlock_core.clock import FakeClock
from interlock_core.cycle_spans import spanning_cycle
from interlock_core.model import Calendar, FailureCategory, PipelineConfig, RunLogEntry, RunStatus
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, RunnerContext, Store
from interlock_plugins.evaluators.builtin import BuiltinRunner
from interlock_plugins.evaluators.upstream_cycles import UpstreamCyclesConfig

AT = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
DAY = "2026-03-05"
C, R, F = RunStatus.COMPLETED, RunStatus.RUNNING, RunStatus.FAILED


def pipeline(name: str, **extra: Any) -> PipelineConfig:
    return PipelineConfig.model_validate({"name": name, "archetype": "gate", **extra})


class Stand:
    """Stands in for the store: pipelines, and the upstream's run logs by date."""

    def __init__(self, logs: dict[str, RunStatus], *pipelines: PipelineConfig, schedule: str = "daily") -> None:
        self.pipelines = {p.name: p for p in pipelines or (pipeline("ingest"), pipeline("report"))}
        self.logs = {(day, schedule): status for day, status in logs.items()}
        self.asked: list[str] = []

    async def get_pipeline(self, name: str) -> PipelineConfig | None:
        return self.pipelines.get(name)

    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None:
        assert pipeline_id == "ingest"
        self.asked.append(date)
        status = self.logs.get((date, schedule_id))
        if status is None:
            return None
        return RunLogEntry(pipeline_id=pipeline_id, date=date, schedule_id=schedule_id, status=status,
                           run_id=f"ingest-{date}", started_at=AT, updated_at=AT)


async def judge(store: Stand, calendars: CalendarRegistry | None = None, *, date: str = DAY,
                schedule: str = "daily", **config: Any) -> EvaluatorOutput:
    context = RunnerContext(evaluator_dirs=(), store=cast(Store, store), clock=FakeClock(),
                            options={"calendars": calendars} if calendars else {})
    request = EvaluatorInput(pipeline_id="report", trait_type="upstream-dependency",
                             config={"upstreamPipeline": "ingest", **config}, schedule_id=schedule, date=date,
                             timeout=5.0)
    return await BuiltinRunner(context).run("builtin:upstream-cycles", request)


async def test_a_daily_cycle_over_a_daily_upstream_needs_that_date() -> None:
    done = await judge(Stand({DAY: C}))
    assert (done.status, done.reason) == ("PASS", "upstream ingest completed 1 daily cycle (2026-03-05)")
    assert done.value == {"upstreamPipeline": "ingest", "upstreamSchedule": "daily", "required": [DAY],
                          "completed": [DAY], "missing": []}

    store = Stand({"2026-03-04": C})
    missing = await judge(store)
    assert missing.status == "FAIL" and missing.failure_category is None  # a plain not-ready
    assert missing.reason == "upstream ingest has not completed 1 of 1 daily cycles: 2026-03-05 (no run)"
    assert store.asked == [DAY]


async def test_the_last_n_cycles_name_each_missing_one() -> None:
    out = await judge(Stand({"2026-03-01": C, "2026-03-02": F, "2026-03-03": C, "2026-03-04": R}), last=5)
    assert out.status == "FAIL"
    assert out.reason == ("upstream ingest has not completed 3 of 5 daily cycles: 2026-03-02 (FAILED), "
                          "2026-03-04 (RUNNING), 2026-03-05 (no run)")
    assert out.value is not None and out.value["missing"] == ["2026-03-02", "2026-03-04", "2026-03-05"]

    days = {f"2026-03-0{d}": C for d in range(1, 6)}
    done = await judge(Stand(days), last=3)
    assert (done.status, done.reason) == ("PASS", "upstream ingest completed 3 daily cycles "
                                                  "(2026-03-03 … 2026-03-05)")


async def test_days_the_upstream_does_not_run_are_not_required() -> None:
    holidays = CalendarRegistry([Calendar(name="holidays", dates=["2026-03-04"])])
    upstream = pipeline("ingest", exclusions={"calendar": "holidays", "days": ["Saturday", "Sunday"]})
    # 2026-03-05 is a Thursday: the last 3 working days of the upstream are 03-02, 03-03 and 03-05
    store = Stand({"2026-03-02": C, "2026-03-03": C, DAY: C}, upstream, pipeline("report"))
    out = await judge(store, holidays, last=3)
    assert out.status == "PASS", out.reason
    assert out.value is not None and out.value["required"] == ["2026-03-02", "2026-03-03", DAY]

    quiet = await judge(Stand({}, upstream, pipeline("report")), holidays, date="2026-03-04")
    assert quiet.status == "PASS" and quiet.reason == "upstream ingest has no daily cycle this cycle depends on"


async def test_max_lag_accepts_the_latest_cycles_missing() -> None:
    yesterday = await judge(Stand({"2026-03-04": C}), maxLag="1d")
    assert yesterday.status == "PASS", yesterday.reason
    assert yesterday.value is not None and yesterday.value["required"] == ["2026-03-04"]
    assert yesterday.reason == "upstream ingest completed 1 daily cycle (2026-03-04) (maxLag 1d)"

    window = await judge(Stand({"2026-03-03": C}), last=3, maxLag="1d")
    assert window.status == "FAIL"
    assert window.reason == ("upstream ingest has not completed 1 of 2 daily cycles (maxLag 1d): "
                             "2026-03-04 (no run)")
    assert window.value is not None and window.value["lagAccepted"] == [DAY]


async def test_the_upstream_schedule_defaults_to_this_cycles_or_the_upstreams_first() -> None:
    upstream = pipeline("ingest", schedules=[{"name": "early"}, {"name": "morning"}])
    both = Stand({DAY: C}, upstream, pipeline("report"), schedule="morning")
    assert (await judge(both, schedule="morning")).status == "PASS"
    assert (await judge(Stand({DAY: C}, upstream, pipeline("report"), schedule="early"))).status == "PASS"
    named = await judge(both, upstreamSchedule="morning")
    assert named.status == "PASS" and named.value is not None and named.value["upstreamSchedule"] == "morning"


async def test_what_cannot_work_says_so() -> None:
    unknown = await judge(Stand({}), upstreamPipeline="nope")
    assert (unknown.status, unknown.reason, unknown.failure_category) == (
        "FAIL", "upstream pipeline nope is not registered", None)
    schedule = await judge(Stand({}), upstreamSchedule="hourly")
    assert schedule.failure_category is FailureCategory.PERMANENT and "no schedule 'hourly'" in (schedule.reason or "")
    bad = await judge(Stand({}), last=0)
    assert bad.failure_category is FailureCategory.PERMANENT and "last" in (bad.reason or "")
    for config in ({"upstreamPipeline": "x", "last": 0}, {"upstreamPipeline": "x", "maxLag": "-1d"},
                   {"upstreamPipeline": "x", "lastN": 3}, {}):
        with pytest.raises(pydantic.ValidationError):
            UpstreamCyclesConfig.model_validate(config)


def test_the_downstream_cycle_spanning_an_upstream_one() -> None:
    daily = pipeline("report")
    schedule = daily.resolved_schedules()[0]
    assert spanning_cycle(daily, schedule, "2026-03-03") == "2026-03-03"
    assert spanning_cycle(daily, schedule, "2026-03-03T10:00") == "2026-03-03"


def test_the_spanning_cycle_of_a_sub_daily_downstream_is_the_one_open_at_the_upstreams_fire_time() -> None:
    hourly = pipeline("hourly", schedules=[{"name": "h", "cron": "15 * * * *"}])
    [schedule] = hourly.resolved_schedules()
    assert spanning_cycle(hourly, schedule, "2026-03-02T10:40") == "2026-03-02T10:15"
    assert spanning_cycle(hourly, schedule, "2026-03-02T10:05") == "2026-03-02T09:15"
    assert spanning_cycle(hourly, schedule, "2026-03-02") == "2026-03-01T23:15"  # a daily upstream: its midnight
    daily = pipeline("daily")
    assert spanning_cycle(daily, daily.resolved_schedules()[0], "2026-03-02T10:40") == "2026-03-02"


async def test_a_daily_cycle_over_an_hourly_upstream_needs_its_24_cycles() -> None:
    hourly = pipeline("ingest", schedules=[{"name": "hourly", "cron": "@hourly"}])
    hours = [f"{DAY}T{h:02d}:00" for h in range(24)]
    store = Stand({key: C for key in hours if key != f"{DAY}T17:00"}, hourly, pipeline("report"), schedule="hourly")
    out = await judge(store, upstreamSchedule="hourly")
    assert out.status == "FAIL" and out.value is not None
    assert out.value["required"] == hours and out.value["missing"] == [f"{DAY}T17:00"]
    assert "has not completed 1 of 24 hourly cycles: 2026-03-05T17:00 (no run)" in (out.reason or "")
    store.logs[(f"{DAY}T17:00", "hourly")] = C
    assert (await judge(store, upstreamSchedule="hourly")).status == "PASS"
