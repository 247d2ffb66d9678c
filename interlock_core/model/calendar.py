"""Named calendars of excluded days and dates."""

from __future__ import annotations

from datetime import date

from pydantic import Field, field_validator

from .base import ConfigModel

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def normalise_days(days: list[str]) -> list[str]:
    out = []
    for day in days:
        name = str(day).strip()
        if name.lower() not in WEEKDAYS and name.lower()[:3] not in {d[:3] for d in WEEKDAYS}:
            raise ValueError(f"unknown weekday {day!r}: use Monday … Sunday")
        out.append(name)
    return out


def normalise_dates(dates: list[str]) -> list[str]:
    for value in dates:
        try:
            date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"invalid date {value!r}: use YYYY-MM-DD") from None
    return [str(v) for v in dates]


class Calendar(ConfigModel):
    name: str = Field(min_length=1)
    description: str | None = None
    days: list[str] = Field(default_factory=list)
    dates: list[str] = Field(default_factory=list)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        return normalise_days(value)

    @field_validator("dates", mode="before")
    @classmethod
    def _dates(cls, value: list[str] | None) -> list[str]:
        return normalise_dates(list(value or []))
