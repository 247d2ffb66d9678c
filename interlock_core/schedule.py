"""Schedules, cycle dates, deadlines and calendar exclusions, in IANA time zones.

A *cycle* is one (pipeline, schedule, date). Its date is the calendar date in the schedule's
zone (schedule ``timezone``, else the pipeline's ``sla.timezone``, else UTC). Times of day are
wall-clock times in that zone on that date, so they move correctly across DST changes: a time
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
from .durations import parse_duration
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
    """Active from its ``after`` time (inclusive) until the end of the day in its zone."""
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


def deadlines(pipeline: PipelineConfig, schedule: ScheduleConfig, day: Date) -> Deadlines:
    """The SLA deadlines of one cycle. A schedule's ``deadline`` is its evaluation and completion
    deadline unless the pipeline's ``sla`` names them explicitly."""
    sla = pipeline.sla
    tz_s = schedule_zone(pipeline, schedule)
    tz_sla = sla_zone(pipeline, schedule)

    def at(text: str | None, tz: tzinfo) -> datetime | None:
        if not text:
            return None
        try:
            return deadline_at(text, day, tz)
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


def window_closes(pipeline: PipelineConfig, schedule: ScheduleConfig, day: Date) -> datetime | None:
    """When the cycle of ``day`` should have started by: its evaluation deadline (the schedule's
    ``deadline`` or ``sla.evaluationDeadline``); for a pipeline with an ``include:`` list and no
    deadline, the end of the day. None when the cycle has no window to miss."""
    closes = deadlines(pipeline, schedule, day).evaluation
    if closes is None and pipeline.include is not None:
        closes = local_midnight(day + timedelta(days=1), schedule_zone(pipeline, schedule))
    return closes


def fire_time(pipeline: PipelineConfig, schedule: ScheduleConfig, day: str) -> datetime:
    """The instant the cycle ``day`` of ``schedule`` fires: for a daily schedule its ``after`` time
    that day, else local midnight. Everything timed from a cycle's start (its evaluation window)
    asks this one function."""
    return window_opens(schedule, Date.fromisoformat(day), schedule_zone(pipeline, schedule))


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
    day = now.astimezone(tz).date()
    return wall_time(day, schedule.after or "00:00", tz)


def previous_day(day: str) -> str:
    return (Date.fromisoformat(day) - timedelta(days=1)).isoformat()
