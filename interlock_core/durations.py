"""Go-style duration strings (``30s``, ``1h30m``, ``500ms``) as used in SPEC.md's YAML."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _seconds(seconds: float, value: object) -> timedelta:
    """A timedelta of ``seconds``; ValueError (never OverflowError) when it cannot be one."""
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {_shown(value)}: must be finite")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"invalid duration {_shown(value)}: out of range") from None


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse ``90s``, ``1h30m``, ``+45m``, a bare number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration must be a string like '30s' or a number of seconds")
    if isinstance(value, int | float):
        try:
            return _seconds(float(value), value)
        except OverflowError:  # an int too large for a float
            raise ValueError(f"invalid duration {_shown(value)}: out of range") from None
    text = str(value).strip()
    if not text:
        raise ValueError("empty duration")
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return _seconds(sign * number, value)
    pos = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration {_shown(value)}: use forms like '30s', '5m', '1h30m'")
    return _seconds(sign * total, value)


def format_duration(value: timedelta) -> str:
    """Render like Go's ``time.Duration.String()`` (``1h0m0s``, ``30s``, ``1.5s``, ``500ms``)."""
    total = value.total_seconds()
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total < 1:
        ms = total * 1000
        return f"{sign}{ms:g}ms"
    hours, rem = divmod(total, 3600)
    minutes, seconds = divmod(rem, 60)
    sec = f"{seconds:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{int(hours)}h{int(minutes)}m{sec}s"
    if minutes:
        return f"{sign}{int(minutes)}m{sec}s"
    return f"{sign}{sec}s"


def _validate(value: Any) -> timedelta:
    return parse_duration(value)


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A pydantic field type: accepts ``'30s'`` or seconds, serialises back to ``'30s'``."""
