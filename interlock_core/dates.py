"""Run dates: a cycle is named by one calendar date written ``YYYY-MM-DD``, nothing else.

Python's ``date.fromisoformat`` also takes ``20261201`` and ``2026-W49-2``; those name the same
day with another spelling and would key a second run log for it (a dedup bypass). Every entry
point (API bodies and paths, CLI flags, Lambda inputs, reruns) checks dates here.
"""

from __future__ import annotations

import re
from datetime import date as Date

from .errors import ValidationError

_RUN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def run_date_problem(value: object) -> str | None:
    """Why ``value`` is not a run date (None: it is one)."""
    if not isinstance(value, str) or not _RUN_DATE.fullmatch(value):
        return f"{_shown(value)} is not a date written YYYY-MM-DD"
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
    return Date.fromisoformat(check_run_date(value, field))
