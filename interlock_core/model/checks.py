"""The field checks the sections of a pipeline share: time zones, times of day, SLA deadlines and
watchdog durations."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .limits import MAX_MONITORING

_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{1,2})$")


def check_timezone(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'America/New_York')") from None
    return value


def check_time_of_day(value: str | None) -> str | None:
    if value is None:
        return None
    match = _TIME_OF_DAY.match(str(value))
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"invalid time of day {value!r}: use HH:MM (00:00-23:59)")
    return str(value)


def check_deadline(value: str | None) -> str | None:
    """An SLA deadline: ``HH:MM`` in the SLA zone, or a duration after local midnight (``2h``, ``+45m``)."""
    if value is None:
        return None
    text = str(value)
    if _TIME_OF_DAY.match(text):
        return check_time_of_day(text)
    from ..durations import parse_duration

    try:
        after_midnight = parse_duration(text)
    except ValueError:
        raise ValueError(f"invalid deadline {value!r}: must be HH:MM or a duration like '2h'") from None
    if abs(after_midnight) > MAX_MONITORING:
        raise ValueError(f"invalid deadline {value!r}: at most {MAX_MONITORING.days} days from midnight")
    return text


MAX_WATCHDOG_DURATION = timedelta(days=7)


def check_watchdog_duration(value: timedelta | None) -> timedelta | None:
    """A watchdog duration (``expectedDuration``, ``maxDuration``, ``sensorTimeout``): more than
    zero and at most seven days (the days a watcher pass looks back over)."""
    if value is None:
        return None
    if value <= timedelta(0) or value > MAX_WATCHDOG_DURATION:
        raise ValueError("must be more than 0s and at most 7d")
    return value
