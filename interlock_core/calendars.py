"""Named calendars and the calendar-exclusion check."""

from __future__ import annotations

from datetime import date as Date

from .model import Calendar, ExclusionConfig

_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class CalendarRegistry:
    def __init__(self, calendars: list[Calendar] | None = None) -> None:
        self._items: dict[str, Calendar] = {}
        for calendar in calendars or []:
            self.register(calendar)

    def register(self, calendar: Calendar) -> None:
        self._items[calendar.name] = calendar

    def get(self, name: str) -> Calendar | None:
        return self._items.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        return sorted(self._items)


def _day_matches(day: Date, names: list[str]) -> bool:
    weekday = _WEEKDAY_NAMES[day.weekday()]
    for name in names:
        lowered = name.strip().lower()
        if lowered == weekday or (len(lowered) == 3 and weekday.startswith(lowered)):
            return True
    return False


def is_excluded(exclusions: ExclusionConfig | None, day: Date, calendars: CalendarRegistry | None) -> bool:
    """Whether ``day`` (a calendar date in the pipeline's zone) is excluded."""
    if exclusions is None:
        return False
    return matches(exclusions, day, calendars)


def is_included(include: ExclusionConfig | None, day: Date, calendars: CalendarRegistry | None) -> bool:
    """Whether ``day`` is one a pipeline with an ``include:`` list runs on (every day without one)."""
    if include is None:
        return True
    return matches(include, day, calendars)


def matches(exclusions: ExclusionConfig, day: Date, calendars: CalendarRegistry | None) -> bool:
    """Whether ``day`` is among the days and dates listed, directly or in the named calendars."""
    days = list(exclusions.days)
    dates = set(exclusions.dates)
    for name in exclusions.calendar_names():
        calendar = calendars.get(name) if calendars else None
        if calendar is not None:
            days += calendar.days
            dates |= set(calendar.dates)
    return day.isoformat() in dates or _day_matches(day, days)
