"""Cycle keys and cron fire times.

A *cycle* is one fire time of a schedule. Its key is what the run log, dedup, reruns, SLAs,
events, cascade markers and API paths carry in their ``date`` field:

* ``YYYY-MM-DD`` for a daily schedule (a named window with ``after``/``deadline``, or a cron
  that fires at most once a day: one minute and one hour, or ``@daily``/``@weekly``/...) — the
  key every store already holds;
* ``YYYY-MM-DDTHH:MM`` for a sub-daily cron schedule (``0 * * * *``, ``*/15 * * * *``): the fire
  time as the wall clock of the schedule's zone shows it.

Cron fire times come from ``cronsim``, which follows Debian cron on DST days: a fire time that
does not exist on a spring-forward day fires once, right after the jump; one that exists twice on
a fall-back day fires once, at its first occurrence. Wildcard-hour expressions run on real time
(an hourly cron fires every 60 minutes through a change); since keys are wall-clock times, the
repeated hour of a fall-back day is one cycle (it runs once).

This module knows nothing of pipelines or stores: it works on keys, expressions and zones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import date as Date
from datetime import time as Time
from functools import lru_cache

from cronsim import CronSim, CronSimError

_KEY = re.compile(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2}))?")

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MAX_FIRES = 100_000
"""A safety bound on the fire times one call enumerates (an every-minute cron over ~70 days)."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ----------------------------------------------------------------------------- keys
def cycle_key_problem(value: object) -> str | None:
    """Why ``value`` is not a cycle key (None: it is one)."""
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        return f"{_shown(value)} is not a cycle written YYYY-MM-DD or YYYY-MM-DDTHH:MM"
    match = _KEY.fullmatch(value)
    assert match is not None
    try:
        Date.fromisoformat(match.group(1))
    except ValueError:
        return f"{_shown(value)} is not a calendar date"
    if match.group(2) is not None and (int(match.group(2)) > 23 or int(match.group(3)) > 59):
        return f"{_shown(value)} is not a time of day"
    return None


def is_cycle_key(value: object) -> bool:
    return cycle_key_problem(value) is None


def is_sub_daily_key(key: str) -> bool:
    """Whether ``key`` names a fire time (``YYYY-MM-DDTHH:MM``) rather than a date."""
    return "T" in key


def cycle_day(key: str) -> Date:
    """The calendar date (in the schedule's zone) a cycle belongs to."""
    return Date.fromisoformat(key[:10])


def cycle_time(key: str) -> Time | None:
    """The wall-clock fire time of a sub-daily cycle (None for a daily one)."""
    if not is_sub_daily_key(key):
        return None
    return Time(int(key[11:13]), int(key[14:16]))


def format_key(fire: datetime, tz: tzinfo, *, sub_daily: bool) -> str:
    """The key of the cycle that fires at instant ``fire``: its date, or date and wall time, in ``tz``."""
    local = fire.astimezone(tz)
    return local.strftime("%Y-%m-%dT%H:%M") if sub_daily else local.date().isoformat()


def key_instant(key: str, tz: tzinfo) -> datetime:
    """The instant a key's wall time names in ``tz`` (local midnight for a daily key); in a repeated
    hour its first occurrence, in a skipped hour the instant after the jump."""
    day = cycle_day(key)
    at = cycle_time(key) or Time(0, 0)
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


# ----------------------------------------------------------------------------- cron
def expand_cron(expr: str) -> str:
    """The five-field form of ``expr`` (aliases expanded, blanks normalised)."""
    text = " ".join(str(expr).split())
    return ALIASES.get(text.lower(), text)


def cron_problem(expr: object) -> str | None:
    """Why ``expr`` is not a five-field cron expression or alias (None: it is one)."""
    if not isinstance(expr, str) or not expr.strip():
        return f"{_shown(expr)} is not a cron expression"
    text = expand_cron(expr)
    if text.startswith("@"):
        return f"unknown cron alias {_shown(expr)} (use one of {', '.join(sorted(ALIASES))})"
    if len(text.split()) != 5:
        return f"{_shown(expr)}: a cron expression has five fields (minute hour day-of-month month day-of-week)"
    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        return f"{_shown(expr)} is not a valid cron expression: {exc}"
    return None


def check_cron(expr: str) -> str:
    problem = cron_problem(expr)
    if problem is not None:
        raise ValueError(problem)
    return expr


def is_sub_daily_cron(expr: str) -> bool:
    """Whether a cron can fire more than once on one day: its minute or hour field is not one number."""
    minute, hour = expand_cron(expr).split()[:2]
    return not (minute.isdigit() and hour.isdigit())


def _fires(expr: str, tz: tzinfo, start: datetime, *, reverse: bool = False) -> Iterator[datetime]:
    for fire in CronSim(expand_cron(expr), start.astimezone(tz), reverse=reverse):
        yield fire.astimezone(UTC)


def fire_iter(expr: str, tz: tzinfo, after: datetime) -> Iterator[datetime]:
    """The fire times strictly after ``after``, oldest first, without end."""
    return _fires(expr, tz, after)


def next_fire(expr: str, tz: tzinfo, after: datetime) -> datetime:
    """The first fire time strictly after ``after``."""
    return next(_fires(expr, tz, after))


def latest_fire(expr: str, tz: tzinfo, at: datetime) -> datetime | None:
    """The last fire time at or before ``at`` (None when there is none in the 400 days before).
    Fire times fall on whole minutes, so the answer is the same for every instant of a minute:
    it is computed once per minute (a watcher asks on every pass)."""
    return _latest_fire(expand_cron(expr), tz, at.astimezone(UTC).replace(second=0, microsecond=0))


@lru_cache(maxsize=4096)
def _latest_fire(expr: str, tz: tzinfo, minute: datetime) -> datetime | None:
    at = minute
    floor = at - timedelta(days=400)
    start = at + timedelta(minutes=1)
    candidate = None
    for fire in _fires(expr, tz, start, reverse=True):
        if fire < floor:
            return None
        if fire <= at:
            candidate = fire
            break
    if candidate is None:
        return None
    # cronsim's reverse walk can step over a fire time in a repeated hour: walk forward from it
    for fire in _fires(expr, tz, candidate):
        if fire > at:
            break
        candidate = fire
    return candidate


def fire_times(expr: str, tz: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """The fire times in ``(start, end]``, oldest first (at most ``MAX_FIRES``)."""
    out: list[datetime] = []
    for fire in _fires(expr, tz, start):
        if fire > end or len(out) >= MAX_FIRES:
            break
        out.append(fire)
    return out


def cycle_keys(expr: str, tz: tzinfo, start: datetime, end: datetime) -> list[str]:
    """The distinct cycle keys of the fire times in ``(start, end]``, oldest first."""
    sub = is_sub_daily_cron(expr)
    keys: list[str] = []
    for fire in fire_times(expr, tz, start, end):
        key = format_key(fire, tz, sub_daily=sub)
        if not keys or keys[-1] != key:
            if key not in keys[-3:]:  # a repeated wall-clock hour names cycles already listed
                keys.append(key)
    return keys


def fires_on(expr: str, tz: tzinfo, day: Date) -> list[datetime]:
    """The fire times on calendar date ``day`` in ``tz``."""
    return list(_fires_on(expand_cron(expr), tz, day))


@lru_cache(maxsize=4096)
def _fires_on(expr: str, tz: tzinfo, day: Date) -> tuple[datetime, ...]:
    start = datetime.combine(day, Time(0, 0), tzinfo=tz).astimezone(UTC) - timedelta(seconds=1)
    end = datetime.combine(day + timedelta(days=1), Time(0, 0), tzinfo=tz).astimezone(UTC) - timedelta(seconds=1)
    return tuple(f for f in fire_times(expr, tz, start, end) if f.astimezone(tz).date() == day)
