"""Cycle keys and cron fire times (interlock_core.cycles): DST both ways in two zones, month ends,
leap day, aliases and bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from interlock_core.cycles import (
    cron_problem,
    cycle_day,
    cycle_key_problem,
    cycle_keys,
    fire_times,
    fires_on,
    format_key,
    is_sub_daily_cron,
    key_instant,
    latest_fire,
    next_fire,
)
from interlock_core.model import ScheduleConfig
from interlock_core.templating import run_variables
from interlock_server.cli.main import build_parser

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def local(tz: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold).astimezone(UTC)  # type: ignore[misc]


@pytest.mark.parametrize("key", ["2026-03-03", "2026-03-03T10:00", "2028-02-29T23:59"])
def test_cycle_keys_accepted(key: str) -> None:
    assert cycle_key_problem(key) is None


@pytest.mark.parametrize("key", ["2026-3-3", "20260303", "2026-02-30", "2026-03-03T24:00", "2026-03-03T10:60",
                                 "2026-03-03T10:00:00", "2026-03-03 10:00", 20260303, None, "2026-W09-2"])
def test_bad_cycle_keys_named(key: object) -> None:
    assert cycle_key_problem(key) is not None


def test_key_day_and_instant() -> None:
    assert cycle_day("2026-03-03T10:00").isoformat() == "2026-03-03"
    assert key_instant("2026-03-03T10:00", BERLIN) == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert format_key(datetime(2026, 3, 3, 9, 0, tzinfo=UTC), BERLIN, sub_daily=True) == "2026-03-03T10:00"
    assert format_key(datetime(2026, 3, 3, 23, 30, tzinfo=UTC), BERLIN, sub_daily=False) == "2026-03-04"


@pytest.mark.parametrize("expr, sub", [("@hourly", True), ("@daily", False), ("*/15 * * * *", True),
                                       ("30 6 * * 1-5", False), ("0 6,18 * * *", True), ("@weekly", False)])
def test_sub_daily(expr: str, sub: bool) -> None:
    assert cron_problem(expr) is None
    assert is_sub_daily_cron(expr) is sub


@pytest.mark.parametrize("expr", ["61 * * * *", "* * *", "@reboot", "0 0 30 2 *", "", "* * * * * *"])
def test_bad_cron_named(expr: str) -> None:
    assert cron_problem(expr)


@pytest.mark.parametrize("tz, day", [(NY, (2026, 3, 8)), (BERLIN, (2026, 3, 29))])
def test_spring_forward_missing_time_fires_once(tz: ZoneInfo, day: tuple[int, int, int]) -> None:
    fires = fires_on("30 2 * * *", tz, datetime(*day).date())
    assert len(fires) == 1 and fires[0] == local(tz, *day, 3, 0)  # right after the jump
    hourly = fires_on("0 * * * *", tz, datetime(*day).date())
    assert len(hourly) == 23 and len(set(cycle_keys("0 * * * *", tz, hourly[0] - timedelta(seconds=1),
                                                    hourly[-1]))) == 23


@pytest.mark.parametrize("tz, day", [(NY, (2026, 11, 1)), (BERLIN, (2026, 10, 25))])
def test_fall_back_repeated_time_fires_once(tz: ZoneInfo, day: tuple[int, int, int]) -> None:
    at = 1 if tz is NY else 2
    fires = fires_on(f"30 {at} * * *", tz, datetime(*day).date())
    assert fires == [local(tz, *day, at, 30)]  # the first occurrence only
    # an hourly cron runs on real time (25 fire instants), but the repeated hour is one cycle key
    start = local(tz, *day, 0, 0) - timedelta(seconds=1)
    end = local(tz, *day, 23, 0)
    assert len(fire_times("0 * * * *", tz, start, end)) == 25
    keys = cycle_keys("0 * * * *", tz, start, end)
    assert len(keys) == 24 and keys[at] == f"{datetime(*day).date()}T{at:02d}:00"
    # the second occurrence of the repeated hour names the cycle already run
    second = local(tz, *day, at, 10, fold=1)
    assert format_key(latest_fire("0 * * * *", tz, second) or second, tz, sub_daily=True) == keys[at]


def test_month_ends_and_leap_day() -> None:
    tz = BERLIN
    fires = fire_times("0 6 L * *", tz, local(tz, 2028, 1, 1, 0, 0), local(tz, 2028, 4, 1, 0, 0))
    assert [f.astimezone(tz).date().isoformat() for f in fires] == ["2028-01-31", "2028-02-29", "2028-03-31"]
    leap = fire_times("0 0 29 2 *", UTC, datetime(2026, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC))
    assert leap == [datetime(2028, 2, 29, tzinfo=UTC)]
    assert latest_fire("0 0 29 2 *", UTC, datetime(2028, 12, 1, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert latest_fire("0 0 29 2 *", UTC, datetime(2026, 12, 1, tzinfo=UTC)) is None  # none in 400 days


def test_latest_and_next_fire_match_a_forward_walk() -> None:
    for tz in (NY, BERLIN):
        for expr in ("0 * * * *", "30 2 * * *", "30 1 * * *", "*/20 * * * *"):
            for base in (local(tz, 2026, 3, 8, 0, 0), local(tz, 2026, 10, 25, 0, 0), local(tz, 2026, 11, 1, 0, 0),
                         local(tz, 2026, 3, 29, 0, 0)):
                for minutes in range(0, 26 * 60, 131):
                    at = base + timedelta(minutes=minutes, seconds=13)
                    walk = fire_times(expr, tz, at - timedelta(days=1, hours=2), at)
                    assert latest_fire(expr, tz, at) == walk[-1]
                    assert next_fire(expr, tz, walk[-1]) > at


def test_run_variables_name_the_cycle() -> None:
    hourly = run_variables("p", "s", "2026-03-03T10:15")
    assert (hourly["cycle"], hourly["date"], hourly["hour"], hourly["minute"]) == ("2026-03-03T10:15", "2026-03-03",
                                                                                 "10", "15")
    daily = run_variables("p", "h07", "2026-03-03")
    assert (daily["cycle"], daily["date"], daily["hour"], daily["minute"]) == ("2026-03-03", "2026-03-03", "07", "")


@pytest.mark.parametrize("command", ["run", "evaluate", "rerun"])
def test_the_cli_takes_cycle_beside_date(command: str) -> None:
    extra = ["--reason", "r"] if command == "rerun" else []
    args = build_parser().parse_args([command, "p", "--cycle", "2026-03-03T10:00", *extra])
    assert args.date == "2026-03-03T10:00"
    assert build_parser().parse_args([command, "p", "--date", "2026-03-03", *extra]).date == "2026-03-03"


def test_the_readme_schedules_load() -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text[text.index("### Schedules: cron, sub-daily cycles and catch-up"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    schedules = [ScheduleConfig.model_validate(s) for s in yaml.safe_load(block.group(1))["schedules"]]
    assert [s.sub_daily for s in schedules] == [False, True, True]
    assert schedules[2].catch_up == "all" and schedules[2].catch_up_window == timedelta(hours=2)


def test_aws_mode_takes_a_cycle_key() -> None:
    """A Lambda input and an execution name carry a sub-daily cycle key (``:`` is not a name character)."""
    from interlock_server.aws import payloads
    from interlock_server.aws.stream_router import execution_name

    assert payloads.request({"pipelineId": "p", "date": "2026-03-03T10:00"})["date"] == "2026-03-03T10:00"
    assert execution_name("p", "2026-03-03T10:00", "s", "id").startswith("p_2026-03-03T10_00_s_")


def test_a_named_window_takes_part_in_catch_up_only_when_set_even_after_a_store_round_trip() -> None:
    from interlock_core.engine.catch_up import takes_part

    for written, expected in (({"name": "a", "after": "06:00"}, False), ({"name": "a", "catchUp": "all"}, True),
                              ({"name": "a", "cron": "@hourly"}, True)):
        schedule = ScheduleConfig.model_validate(written)
        stored = ScheduleConfig.model_validate_json(schedule.model_dump_json(by_alias=True))
        assert takes_part(schedule) is takes_part(stored) is expected


def test_the_cycles_in_view_of_an_hourly_schedule_through_a_fall_back_day() -> None:
    from interlock_core.model import PipelineConfig
    from interlock_core.schedule import SUB_DAILY_IN_VIEW, cycles_in_view

    pipeline = PipelineConfig.model_validate({"name": "pp", "archetype": "a", "schedules": [
        {"name": "h", "cron": "0 * * * *", "timezone": "America/New_York"}]})
    schedule = pipeline.resolved_schedules()[0]
    keys = cycles_in_view(pipeline, schedule, "2026-11-01T02:00", 7)
    assert len(keys) == SUB_DAILY_IN_VIEW + 1 and keys == sorted(set(keys)) and keys[-1] == "2026-11-01T02:00"
    assert keys[-3:] == ["2026-11-01T00:00", "2026-11-01T01:00", "2026-11-01T02:00"]
    assert cycles_in_view(pipeline, schedule, "2026-11-01T01:00", 7)[-2:] == ["2026-11-01T00:00", "2026-11-01T01:00"]
