"""Schedules, cycle keys, deadlines and calendar exclusions, in IANA time zones.

A *cycle* is one (pipeline, schedule, key). For a daily schedule (a named window with ``after``,
or a cron firing at most once a day) the key is the calendar date in the schedule's zone (schedule
``timezone``, else the pipeline's ``sla.timezone``, else UTC); for a sub-daily cron schedule it is
the fire time ``YYYY-MM-DDTHH:MM`` on that zone's wall clock (see :mod:`.cycles`). Times of day
are wall-clock times in that zone on that date, so they move correctly across DST changes: a time
that does not exist on a spring-forward day resolves to the instant one hour later, an ambiguous
one on a fall-back day to its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from datetime import date as Date
from zoneinfo import ZoneInfo

from .calendars import CalendarRegistry, is_excluded, is_included
from .cycles import (
    cycle_day,
    cycle_key_problem,
    fire_iter,
    fire_times,
    fires_on,
    format_key,
    is_sub_daily_key,
    key_instant,
    latest_fire,
    next_fire,
)
from .durations import parse_duration
from .errors import ValidationError
from .model import PipelineConfig, ScheduleConfig

_HHMM = re.compile(r"^(\d{1,2}):(\d{1,2})$")


def zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except Exception:
        return UTC


def schedule_zone(pipeline: PipelineConfig, schedule: ScheduleConfig | None) -> tzinfo:
    if schedule is not None and schedule.timezone:
        return zone(schedule.timezone)
    if pipeline.sla is not None and pipeline.sla.timezone:
        return zone(pipeline.sla.timezone)
    return UTC


def sla_zone(pipeline: PipelineConfig, schedule: ScheduleConfig | None) -> tzinfo:
    if pipeline.sla is not None and pipeline.sla.timezone:
        return zone(pipeline.sla.timezone)
    return schedule_zone(pipeline, schedule)


def cycle_date(now: datetime, tz: tzinfo) -> str:
    return now.astimezone(tz).date().isoformat()


SUB_DAILY_IN_VIEW = 12
"""How many of a sub-daily schedule's latest cycles a pass looks after (within the look-back days)."""


def current_cycle(pipeline: PipelineConfig, schedule: ScheduleConfig, now: datetime) -> str:
    """The key of the cycle ``now`` belongs to: today's date, or for a sub-daily cron schedule its
    latest fire time at or before ``now`` (today's date when it has not fired for 400 days)."""
    tz = schedule_zone(pipeline, schedule)
    if schedule.cron and schedule.sub_daily:
        fire = latest_fire(schedule.cron, tz, now)
        if fire is not None:
            return format_key(fire, tz, sub_daily=True)
    return cycle_date(now, tz)


def cycle_problem(schedule: ScheduleConfig, key: object) -> str | None:
    """Why ``key`` does not name a cycle of ``schedule`` (None: it does): a sub-daily cron schedule's
    cycles are fire times, every other schedule's are dates."""
    problem = cycle_key_problem(key)
    if problem is not None:
        return problem
    assert isinstance(key, str)
    if schedule.sub_daily and not is_sub_daily_key(key):
        return f"schedule {schedule.name!r} fires several times a day: name a cycle as YYYY-MM-DDTHH:MM"
    if not schedule.sub_daily and is_sub_daily_key(key):
        return f"schedule {schedule.name!r} has one cycle a day: name it by its date YYYY-MM-DD"
    return None


def check_cycle(schedule: ScheduleConfig, key: str, field: str = "date") -> str:
    """``key`` when it names a cycle of ``schedule``; ValidationError naming ``field`` otherwise."""
    problem = cycle_problem(schedule, key)
    if problem is not None:
        raise ValidationError(f"{field}: {problem}", field=field)
    return key


def cycles_between(pipeline: PipelineConfig, schedule: ScheduleConfig, start: datetime,
                   end: datetime) -> list[tuple[str, datetime]]:
    """The cycles that open in ``(start, end]`` with the instant each opens, oldest first: cron fire
    times (one per key), or for a named daily window each day's ``after`` time."""
    tz = schedule_zone(pipeline, schedule)
    out: list[tuple[str, datetime]] = []
    if schedule.cron:
        sub = schedule.sub_daily
        for fire in fire_times(schedule.cron, tz, start, end):
            key = format_key(fire, tz, sub_daily=sub)
            if key not in {k for k, _ in out[-3:]}:  # a repeated wall-clock hour is one cycle
                out.append((key, fire))
        return out
    day = start.astimezone(tz).date()
    while day <= end.astimezone(tz).date():
        opens = window_opens(schedule, day, tz)
        if start < opens <= end:
            out.append((day.isoformat(), opens))
        day += timedelta(days=1)
    return out


def cycles_on_days(pipeline: PipelineConfig, schedule: ScheduleConfig, first: Date,
                   last: Date) -> list[tuple[str, datetime]]:
    """The cycles that open on the local dates ``first`` to ``last`` (both included), with the
    instant each opens: :func:`cycles_between` over those whole days."""
    tz = schedule_zone(pipeline, schedule)
    start = local_midnight(first, tz) - timedelta(microseconds=1)  # (start, end]: midnight of `first` included
    end = local_midnight(last + timedelta(days=1), tz) - timedelta(microseconds=1)
    return cycles_between(pipeline, schedule, start, end)


def has_cycle(pipeline: PipelineConfig, schedule: ScheduleConfig, key: str) -> bool:
    """Whether ``key`` is a cycle of the schedule at all: a daily cron has none on a day it does not
    fire (``30 6 * * 1-5`` on a Saturday); every other schedule has one every day (calendars aside)."""
    if not schedule.cron or is_sub_daily_key(key):
        return True
    return bool(fires_on(schedule.cron, schedule_zone(pipeline, schedule), cycle_day(key)))


def cycles_in_view(pipeline: PipelineConfig, schedule: ScheduleConfig, today: str, lookback_days: int) -> list[str]:
    """The cycles a pass looks after, oldest first, ending with ``today`` (the current cycle): the
    ``lookback_days`` days before it, or a sub-daily schedule's ``SUB_DAILY_IN_VIEW`` latest cycles
    within them."""
    if not is_sub_daily_key(today) or not schedule.cron:
        day = cycle_day(today)
        days = [(day - timedelta(days=back)).isoformat() for back in range(lookback_days, -1, -1)]
        if schedule.cron:  # a daily cron's days without a fire time hold no cycle (today stays last)
            days = [d for d in days[:-1] if has_cycle(pipeline, schedule, d)] + [today]
        return days
    tz = schedule_zone(pipeline, schedule)
    at = key_instant(today, tz)
    floor = at - timedelta(days=lookback_days)
    start = at
    for _ in range(SUB_DAILY_IN_VIEW + 2):  # far enough back for SUB_DAILY_IN_VIEW distinct keys
        previous = latest_fire(schedule.cron, tz, start - timedelta(minutes=1))
        if previous is None or previous < floor:
            break
        start = previous
    keys: list[str] = []
    for fire in fire_iter(schedule.cron, tz, start - timedelta(seconds=1)):
        key = format_key(fire, tz, sub_daily=True)
        if key > today:  # (a repeated wall-clock hour steps back: its keys are listed already)
            break
        if key not in keys[-3:]:
            keys.append(key)
    if not keys or keys[-1] != today:
        keys.append(today)
    return keys[-(SUB_DAILY_IN_VIEW + 1):]


def wall_time(day: Date, hhmm: str, tz: tzinfo) -> datetime:
    """``HH:MM`` on ``day`` in ``tz`` as an aware UTC instant (DST-safe, see module doc)."""
    match = _HHMM.match(hhmm.strip())
    if not match:
        raise ValueError(f"invalid time of day {hhmm!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"invalid time of day {hhmm!r}")
    local = datetime.combine(day, time(hour, minute), tzinfo=tz)
    instant = local.astimezone(UTC)
    # A wall time inside a spring-forward gap round-trips to a different wall time: keep the
    # instant zoneinfo gives (one hour later than the naive reading), which is what clocks show.
    return instant


def local_midnight(day: Date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)


def deadline_at(text: str, day: Date, tz: tzinfo) -> datetime:
    """An SLA deadline: ``HH:MM`` on ``day``, or a duration after local midnight (``2h``, ``+45m``)."""
    if _HHMM.match(text.strip()):
        return wall_time(day, text, tz)
    return local_midnight(day, tz) + parse_duration(text)


def is_schedule_active(schedule: ScheduleConfig, now: datetime, tz: tzinfo) -> bool:
    """Active from its ``after`` time (inclusive) until the end of the day in its zone; a daily cron
    schedule from today's fire time (never on a day it does not fire); a sub-daily one always (its
    current cycle is its latest fire time)."""
    if schedule.cron:
        if schedule.sub_daily:
            return True
        fires = fires_on(schedule.cron, tz, now.astimezone(tz).date())
        return bool(fires) and now >= fires[0]
    if not schedule.after:
        return True
    day = now.astimezone(tz).date()
    try:
        return now >= wall_time(day, schedule.after, tz)
    except ValueError:
        return True


def excluded(pipeline: PipelineConfig, day: Date, calendars: CalendarRegistry | None) -> bool:
    """Whether the pipeline does not run on ``day``: an excluded day, or, for a pipeline with an
    ``include:`` list, a day not on it."""
    return is_excluded(pipeline.exclusions, day, calendars) or not is_included(pipeline.include, day, calendars)


@dataclass(frozen=True)
class Cycle:
    pipeline_id: str
    schedule_id: str
    date: str

    @property
    def key(self) -> str:
        return f"{self.pipeline_id}:{self.schedule_id}:{self.date}"


@dataclass(frozen=True)
class Deadlines:
    evaluation: datetime | None
    completion: datetime | None
    validation: datetime | None
    evaluation_label: str | None
    completion_label: str | None
    validation_label: str | None


def deadlines(pipeline: PipelineConfig, schedule: ScheduleConfig, day: Date | str) -> Deadlines:
    """The SLA deadlines of one cycle (a date, or a cycle key). A schedule's ``deadline`` is its
    evaluation and completion deadline unless the pipeline's ``sla`` names them explicitly. For a
    sub-daily cycle a deadline written as a duration counts from its fire time."""
    sla = pipeline.sla
    tz_s = schedule_zone(pipeline, schedule)
    tz_sla = sla_zone(pipeline, schedule)
    key = day if isinstance(day, str) else day.isoformat()
    the_day = cycle_day(key)
    fired = key_instant(key, tz_s) if is_sub_daily_key(key) else None

    def at(text: str | None, tz: tzinfo) -> datetime | None:
        if not text:
            return None
        try:
            if fired is not None and not _HHMM.match(text.strip()):
                return fired + parse_duration(text)
            return deadline_at(text, the_day, tz)
        except ValueError:
            return None

    sched_deadline = at(schedule.deadline, tz_s)
    evaluation_label = (sla.evaluation_deadline if sla else None) or schedule.deadline
    completion_label = (sla.completion_deadline if sla else None) or schedule.deadline
    evaluation = at(sla.evaluation_deadline, tz_sla) if sla and sla.evaluation_deadline else sched_deadline
    completion = at(sla.completion_deadline, tz_sla) if sla and sla.completion_deadline else sched_deadline
    validation_label = sla.validation_timeout if sla else None
    validation = at(validation_label, tz_sla)
    return Deadlines(evaluation, completion, validation, evaluation_label, completion_label, validation_label)


def window_opens(schedule: ScheduleConfig, day: Date, tz: tzinfo) -> datetime:
    """When the cycle of ``day`` may start: its ``after`` time, else local midnight."""
    try:
        return wall_time(day, schedule.after, tz) if schedule.after else local_midnight(day, tz)
    except ValueError:
        return local_midnight(day, tz)


def cycle_opens(pipeline: PipelineConfig, schedule: ScheduleConfig, key: str) -> datetime:
    """When the cycle ``key`` may start: its fire time (a cron schedule's first one that day for a
    daily key), else its ``after`` time, else local midnight."""
    tz = schedule_zone(pipeline, schedule)
    if is_sub_daily_key(key):
        return key_instant(key, tz)
    day = cycle_day(key)
    if schedule.cron:  # that day's first fire time; on a day with none, the next cycle's
        fires = fires_on(schedule.cron, tz, day)
        return fires[0] if fires else next_fire(schedule.cron, tz, local_midnight(day, tz))
    return window_opens(schedule, day, tz)


def window_closes(pipeline: PipelineConfig, schedule: ScheduleConfig, day: Date | str) -> datetime | None:
    """When the cycle of ``day`` (a date or cycle key) should have started by: its evaluation
    deadline (the schedule's ``deadline`` or ``sla.evaluationDeadline``); for a pipeline with an
    ``include:`` list and no deadline, the end of the day. None when the cycle has no window to miss."""
    closes = deadlines(pipeline, schedule, day).evaluation
    if closes is None and pipeline.include is not None:
        the_day = cycle_day(day) if isinstance(day, str) else day
        closes = local_midnight(the_day + timedelta(days=1), schedule_zone(pipeline, schedule))
    return closes


def fire_time(pipeline: PipelineConfig, schedule: ScheduleConfig, day: str) -> datetime:
    """The instant the cycle ``day`` (a cycle key) of ``schedule`` fires (:func:`cycle_opens`: a
    cron fire time, else its ``after`` time that day, else local midnight). Everything timed from a
    cycle's start (its evaluation window) asks this one function."""
    return cycle_opens(pipeline, schedule, day)


@dataclass(frozen=True)
class EvaluationSpan:
    """The evaluation window of one cycle: from its fire time for ``schedule.evaluation.window``."""

    opens: datetime
    closes: datetime
    interval: timedelta | None


def evaluation_span(pipeline: PipelineConfig, schedule: ScheduleConfig, day: str) -> EvaluationSpan | None:
    """The cycle's evaluation window, or None when its schedule has no ``evaluation:``."""
    if schedule.evaluation is None:
        return None
    opens = fire_time(pipeline, schedule, day)
    return EvaluationSpan(opens, opens + schedule.evaluation.window, schedule.evaluation.interval)


def next_window(schedule: ScheduleConfig, now: datetime, tz: tzinfo) -> datetime:
    """When this schedule next becomes active (``now`` if it is active already)."""
    if is_schedule_active(schedule, now, tz):
        return now
    if schedule.cron:
        day_fires = fires_on(schedule.cron, tz, now.astimezone(tz).date())
        later = [f for f in day_fires if f > now]
        return later[0] if later else now
    day = now.astimezone(tz).date()
    return wall_time(day, schedule.after or "00:00", tz)


def previous_day(day: str) -> str:
    return (cycle_day(day) - timedelta(days=1)).isoformat()
