"""Named calendars of excluded days and dates."""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

from datetime import date
from typing import Any

from pydantic import Field, field_validator

from .base import ConfigModel, empty_list

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def normalise_days(days: list[str]) -> list[str]:
    """Weekday names as the exclusion check matches them: full names or their first three
    letters, any case (``Saturday``, ``sat``, ``SUN``)."""
    short = {d[:3] for d in WEEKDAYS}
    out = []
    for day in days:
        name = str(day).strip()
        if name.lower() not in WEEKDAYS and name.lower() not in short:
            raise ValueError(f"unknown weekday {day!r}: use Monday … Sunday or Mon … Sun")
        out.append(name)
    return out


def normalise_dates(dates: Any) -> list[str]:
    """Dates as ``YYYY-MM-DD`` (the form the exclusion check compares); ``None`` is no dates."""
    if dates is None:
        return []
    if not isinstance(dates, list | tuple):
        raise ValueError(f"dates must be a list of YYYY-MM-DD dates (got {type(dates).__name__})")
    out = []
    for value in dates:
        text = str(value).strip()
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is None or parsed.isoformat() != text:
            raise ValueError(f"invalid date {value!r}: use YYYY-MM-DD") from None
        out.append(text)
    return out


class Calendar(ConfigModel):
    name: str = Field(min_length=1)
    description: str | None = None
    days: list[str] = Field(default_factory=empty_list)
    dates: list[str] = Field(default_factory=empty_list)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        return normalise_days(value)

    @field_validator("dates", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> list[str]:
        return normalise_dates(value)
