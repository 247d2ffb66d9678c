"""Run dates: a cycle is named by its key — one calendar date written ``YYYY-MM-DD`` (a daily
schedule), or a date and a wall-clock fire time ``YYYY-MM-DDTHH:MM`` (a sub-daily cron schedule,
see :mod:`interlock_core.cycles`), nothing else.

Python's ``date.fromisoformat`` also takes ``20261201`` and ``2026-W49-2``; those name the same
day with another spelling and would key a second run log for it (a dedup bypass). Every entry
point (API bodies and paths, CLI flags, Lambda inputs, reruns) checks cycle keys here.
"""

from __future__ import annotations

import re
from datetime import date as Date

from .cycles import cycle_day, cycle_key_problem
from .errors import ValidationError

_RUN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def run_date_problem(value: object) -> str | None:
    """Why ``value`` is not a cycle key — a run date or a sub-daily fire time (None: it is one)."""
    if isinstance(value, str) and "T" in value:
        return cycle_key_problem(value)
    if not isinstance(value, str) or not _RUN_DATE.fullmatch(value):
        return f"{_shown(value)} is not a date written YYYY-MM-DD (or a cycle YYYY-MM-DDTHH:MM)"
    try:
        Date.fromisoformat(value)
    except ValueError:
        return f"{_shown(value)} is not a calendar date"
    return None


def check_run_date(value: object, field: str = "date") -> str:
    """``value`` when it is a real calendar date written ``YYYY-MM-DD``; ValidationError naming
    ``field`` otherwise."""
    problem = run_date_problem(value)
    if problem is not None:
        raise ValidationError(f"{field}: {problem}", field=field)
    assert isinstance(value, str)
    return value


def parse_run_date(value: object, field: str = "date") -> Date:
    """The calendar date of a cycle key (its day, for a sub-daily one)."""
    return cycle_day(check_run_date(value, field))
