"""How the cycles of two schedules line up: which upstream cycles lie inside a downstream cycle's
span, which are the last N before it, and which downstream cycle spans an upstream one.

A cycle *spans* the time from its start to the start of the next one: a daily cycle its whole
calendar date in its schedule's zone. Every function here is written over cycles (a key and the
instant its span ends), so a schedule with several fire times a day plugs its fire times in
:func:`cycles_of_days` and :func:`spanning_cycle` and everything built on them keeps working.
Days a pipeline does not run (its exclusions, holiday calendars, days off its ``include:`` list)
have no cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta

from .calendars import CalendarRegistry
from .cycles import fires_on, is_sub_daily_key, key_instant, next_fire
from .model import PipelineConfig, ScheduleConfig
from .schedule import current_cycle, cycles_on_days, excluded, local_midnight, schedule_zone

LOOK_BACK_LIMIT = 400
"""How many days back the last N cycles are looked for at most (a calendar that excludes most days
never sends the search back for ever)."""


@dataclass(frozen=True)
class CycleRef:
    """One cycle of a schedule: its key and when its span ends."""

    key: str
    """``YYYY-MM-DD`` for a daily schedule, ``YYYY-MM-DDTHH:MM`` for a sub-daily cron."""
    day: Date
    ends: datetime
    """The end of the cycle's span: for a daily cycle, the next local midnight; for a sub-daily
    one, the schedule's next fire time."""
    starts: datetime | None = None
    """The start of the cycle's span: its fire time (a daily cycle: its local midnight)."""


def _day_of(key: str) -> Date:
    return Date.fromisoformat(key[:10])


def cycle_ref(pipeline: PipelineConfig, schedule: ScheduleConfig, key: str) -> CycleRef:
    """The cycle ``key`` of ``schedule`` (its span's end in the schedule's zone): a daily cycle
    ends at the next local midnight, a sub-daily one at the schedule's next fire time."""
    day = _day_of(key)
    tz = schedule_zone(pipeline, schedule)
    if is_sub_daily_key(key) and schedule.cron:
        fired = key_instant(key, tz)
        return CycleRef(key=key, day=day, ends=next_fire(schedule.cron, tz, fired), starts=fired)
    return CycleRef(key=key, day=day, ends=local_midnight(day + timedelta(days=1), tz),
                    starts=local_midnight(day, tz))


def cycles_of_days(pipeline: PipelineConfig, schedule: ScheduleConfig, first: Date, last: Date,
                   calendars: CalendarRegistry | None) -> list[CycleRef]:
    """The schedule's cycles on the days ``first`` to ``last`` (included), oldest first: one a day
    for a daily schedule (a daily cron: a day it fires), each fire time for a sub-daily cron; none
    on a day the pipeline does not run."""
    out: list[CycleRef] = []
    tz = schedule_zone(pipeline, schedule)
    day = first
    while day <= last:
        if excluded(pipeline, day, calendars):
            pass
        elif schedule.cron and schedule.sub_daily:
            out += [CycleRef(key=key, day=day, ends=next_fire(schedule.cron, tz, fire), starts=fire)
                    for key, fire in cycles_on_days(pipeline, schedule, day, day)]
        elif not schedule.cron or fires_on(schedule.cron, tz, day):
            out.append(cycle_ref(pipeline, schedule, day.isoformat()))
        day += timedelta(days=1)
    return out


def cycles_inside(upstream: PipelineConfig, upstream_schedule: ScheduleConfig, span: CycleRef,
                  calendars: CalendarRegistry | None) -> list[CycleRef]:
    """The upstream's cycles inside the span of the (downstream) cycle ``span``: for a daily
    downstream, the upstream's cycles of that date (24 of an hourly upstream); for a sub-daily one,
    those that start and end within its span."""
    if not is_sub_daily_key(span.key) or span.starts is None:
        return cycles_of_days(upstream, upstream_schedule, span.day, span.day, calendars)
    days = cycles_of_days(upstream, upstream_schedule, span.day - timedelta(days=1), span.day, calendars)
    return [c for c in days if c.starts is not None and span.starts <= c.starts and c.ends <= span.ends]


def cycles_up_to(upstream: PipelineConfig, upstream_schedule: ScheduleConfig, span: CycleRef, count: int,
                 calendars: CalendarRegistry | None) -> list[CycleRef]:
    """The ``count`` latest upstream cycles that end by the end of ``span`` (fewer when the calendar
    leaves fewer within :data:`LOOK_BACK_LIMIT` days), oldest first."""
    found: list[CycleRef] = []
    day = span.day
    for _ in range(LOOK_BACK_LIMIT):
        found = cycles_of_days(upstream, upstream_schedule, day, day, calendars) + found
        if len(found) >= count:
            return found[-count:]
        day -= timedelta(days=1)
    return found


def latest_ending_by(upstream: PipelineConfig, upstream_schedule: ScheduleConfig, by: datetime, start: Date,
                     calendars: CalendarRegistry | None) -> CycleRef | None:
    """The upstream's latest cycle on ``start`` or a day before whose span ended by ``by``."""
    day = start
    for _ in range(LOOK_BACK_LIMIT):
        for cycle in reversed(cycles_of_days(upstream, upstream_schedule, day, day, calendars)):
            if cycle.ends <= by:
                return cycle
        day -= timedelta(days=1)
    return None


def spanning_cycle(downstream: PipelineConfig, schedule: ScheduleConfig, upstream_key: str) -> str:
    """The key of ``downstream``'s cycle (of ``schedule``) whose span holds the upstream cycle
    ``upstream_key``: for a daily downstream, the upstream cycle's date; for a sub-daily one, its
    cycle open at the upstream cycle's fire time (a daily upstream cycle: its date's midnight)."""
    if not schedule.sub_daily:
        return _day_of(upstream_key).isoformat()
    tz = schedule_zone(downstream, schedule)
    sub = is_sub_daily_key(upstream_key)
    fired = key_instant(upstream_key, tz) if sub else local_midnight(_day_of(upstream_key), tz)
    return current_cycle(downstream, schedule, fired)
