"""Upper bounds on the numbers a configuration (or an API request) may hold.

Every number a pipeline carries ends up in date arithmetic (an expiry, a backoff, a deadline)
somewhere; without a bound a value like ``ttl: 4e11`` or ``backoffSeconds: 1e300`` passes
validation and then breaks every page and loop that touches the pipeline. The bounds are far
beyond any sensible setting and far from any overflow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

DAY = 86_400
MAX_TTL_SECONDS = 366 * DAY
"""A trait result's time to live (configured, archetype default or pushed): a year and a day."""
MAX_TIMEOUT_SECONDS = DAY
"""An evaluator's or the engine's timeout."""
MAX_BACKOFF_SECONDS = DAY
"""retry.backoffSeconds and retry.maxBackoffSeconds."""
MAX_BACKOFF_MULTIPLIER = 100.0
MAX_ATTEMPTS = 100
MAX_RERUNS = 1000
"""retry.maxDriftReruns and retry.maxManualReruns: reruns of one cycle."""
MAX_INTERVAL = timedelta(days=1)
"""watch.interval, watcher.defaultInterval, archiver.interval, engine.runLease."""
MAX_MONITORING = timedelta(days=31)
"""watch.monitoring.duration and a relative SLA deadline (``+36h``)."""
MAX_READINESS_TTL = timedelta(days=366)
MAX_CONCURRENCY = 10_000
MAX_REQUEST_BODY = 1 << 30


def duration_at_most(limit: timedelta, what: str) -> Callable[[timedelta | None], timedelta | None]:
    """A field validator: a duration no longer than ``limit`` (and not negative)."""

    def check(value: timedelta | None) -> timedelta | None:
        if value is None:
            return None
        if value < timedelta(0):
            raise ValueError(f"{what} must not be negative")
        if value > limit:
            raise ValueError(f"{what} must be at most {_shown(limit)}")
        return value

    return check


def _shown(limit: timedelta) -> str:
    seconds = int(limit.total_seconds())
    if seconds % DAY == 0:
        return f"{seconds // DAY} days" if seconds != DAY else "1 day"
    return f"{seconds} seconds"
