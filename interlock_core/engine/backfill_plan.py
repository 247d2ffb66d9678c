"""Which cycles a backfill covers: every cycle of one schedule from a first to a last date.

The one place that turns a date range into cycles (:func:`cycles_between`); the backfill itself
never changes. A daily schedule has one cycle per date, keyed by the date; a cron schedule one per
fire time on those dates (keyed by the date for a daily cron, by the fire time for a sub-daily
one). A day the pipeline does not run (its ``exclusions``, a holiday calendar, or a day not on its
``include:`` list) is a cycle too, marked excluded, so a backfill reports it instead of silently
leaving it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta

from ..calendars import CalendarRegistry
from ..cycles import cycle_day
from ..dates import parse_run_date
from ..errors import ValidationError
from ..model import PipelineConfig, ScheduleConfig
from ..schedule import cycles_on_days, excluded

DEFAULT_CONCURRENCY = 4
"""Cycles of a backfill in flight at once unless told."""
MAX_CONCURRENCY = 64

MAX_BACKFILL_CYCLES = 1000
"""The most cycles one backfill covers (about three years of a daily schedule)."""


@dataclass(frozen=True)
class PlannedCycle:
    """One cycle of a backfill, before anything is done with it."""

    key: str
    """The cycle's key: its date (``YYYY-MM-DD``) for a daily schedule, its fire time
    (``YYYY-MM-DDTHH:MM``) for a sub-daily cron."""
    day: Date
    """The calendar date the cycle belongs to, in the schedule's zone (what calendars judge)."""
    excluded: str | None = None
    """Why the pipeline does not run this cycle (None: it does)."""


def backfill_range(since: str | None, until: str | None) -> tuple[Date, Date]:
    """``from`` and ``to`` as dates, ``from`` not after ``to``; ValidationError naming the field."""
    if since is None:
        raise ValidationError("from: the first date of the backfill is required (YYYY-MM-DD)", field="from")
    if until is None:
        raise ValidationError("to: the last date of the backfill is required (YYYY-MM-DD)", field="to")
    first, last = parse_run_date(since, "from"), parse_run_date(until, "to")
    if first > last:
        raise ValidationError(f"from ({first}) is after to ({last})", field="from")
    return first, last


def cycles_between(pipeline: PipelineConfig, schedule: ScheduleConfig, first: Date, last: Date,
                   calendars: CalendarRegistry | None) -> list[PlannedCycle]:
    """The schedule's cycles from ``first`` to ``last`` (both included), oldest first: one per date
    for a daily schedule, a cron schedule's fire times on those dates (a daily cron has no cycle on
    a day it does not fire). ValidationError (field ``to``) past :data:`MAX_BACKFILL_CYCLES`."""
    if schedule.cron:
        return _cron_cycles(pipeline, schedule, first, last, calendars)
    cycles: list[PlannedCycle] = []
    day = first
    while day <= last:
        if len(cycles) >= MAX_BACKFILL_CYCLES:
            raise ValidationError(f"to: a backfill covers at most {MAX_BACKFILL_CYCLES} cycles ({first} to {last} "
                                  "holds more); split it into several", field="to")
        why = None
        if excluded(pipeline, day, calendars):
            why = f"{day} is excluded by {pipeline.name}'s calendar"
        cycles.append(PlannedCycle(key=day.isoformat(), day=day, excluded=why))
        day += timedelta(days=1)
    return cycles


def _cron_cycles(pipeline: PipelineConfig, schedule: ScheduleConfig, first: Date, last: Date,
                 calendars: CalendarRegistry | None) -> list[PlannedCycle]:
    fired = cycles_on_days(pipeline, schedule, first, last)
    if len(fired) > MAX_BACKFILL_CYCLES:
        raise ValidationError(f"to: a backfill covers at most {MAX_BACKFILL_CYCLES} cycles ({first} to {last} "
                              f"holds {len(fired)}); split it into several", field="to")
    cycles = []
    for key, _ in fired:
        day = cycle_day(key)
        why = f"{day} is excluded by {pipeline.name}'s calendar" if excluded(pipeline, day, calendars) else None
        cycles.append(PlannedCycle(key=key, day=day, excluded=why))
    return cycles
