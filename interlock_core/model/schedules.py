"""A pipeline's ``schedules:``: when each cycle opens (a daily window or cron fire times), its
deadline, its evaluation window and what happens when it closes, and catch-up."""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

from datetime import timedelta
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..cycles import check_cron, is_sub_daily_cron
from ..durations import Duration
from .base import ConfigModel
from .checks import _TIME_OF_DAY, check_time_of_day, check_timezone
from .limits import MAX_INTERVAL, MAX_MONITORING, duration_at_most

DeadlinePolicy = Literal["alert", "skip", "trigger"]
"""What a cycle still not ready when its evaluation window closes (or at its SLA evaluation
deadline) does: ``alert`` only (it keeps waiting for readiness), ``skip`` the cycle (recorded
SKIPPED; a rerun runs it), or ``trigger`` the job anyway, marked degraded."""

MAX_EVALUATION_WINDOW = timedelta(days=1)


class EvaluationWindow(ConfigModel):
    """``evaluation:`` of a schedule: from the cycle's fire time, evaluate every ``interval`` for
    ``window``; when the window closes not ready, the schedule's ``onDeadline`` policy applies."""

    window: Duration
    interval: Duration | None = None
    """How often the cycle is evaluated while its window is open (else ``watch.interval``)."""

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > MAX_EVALUATION_WINDOW:
            raise ValueError("window must be more than 0s and at most 24h")
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("interval must be positive")
        return duration_at_most(MAX_INTERVAL, "interval")(value)

    @model_validator(mode="after")
    def _interval_within_window(self) -> "EvaluationWindow":
        if self.interval is not None and self.interval > self.window:
            raise ValueError("interval must not be longer than the window")
        return self


CatchUp = Literal["latest", "all", "none"]


class ScheduleConfig(ConfigModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    cron: str | None = None
    """Five cron fields or an alias (``@hourly``, ``@daily`` ...) in the schedule's zone: each fire
    time is one cycle (see :mod:`interlock_core.cycles`). Unset: one cycle a day, from ``after``."""
    after: str | None = None
    deadline: str | None = None
    timezone: str | None = None
    evaluation: EvaluationWindow | None = None
    on_deadline: DeadlinePolicy = "alert"
    """The policy when the evaluation window closes, or the SLA evaluation deadline passes, with
    the cycle not ready (see :data:`DeadlinePolicy`)."""
    catch_up: CatchUp | None = None
    """Cycles whose fire time passed while no watcher ran: run the ``latest`` of them (unset: the
    default for a cron schedule), ``all`` of them (oldest first), or ``none``; the others are
    recorded as skipped and alerted once. A named daily window takes part only when it is set."""
    catch_up_window: Duration | None = None
    """How far back catch-up looks (default: the watcher's look-back of 7 days)."""

    _tz = field_validator("timezone")(check_timezone)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("after")
    @classmethod
    def _after(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("cron"):
            raise ValueError("a cron schedule opens at its fire times: drop 'after' (or 'cron')")
        return check_time_of_day(value)

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, value: str | None, info: ValidationInfo) -> str | None:
        cron = info.data.get("cron")
        if value is not None and cron and is_sub_daily_cron(cron):
            from ..durations import parse_duration

            try:
                parse_duration(value)
            except ValueError:
                raise ValueError(f"invalid deadline {value!r}: a sub-daily cron schedule's deadline is a "
                                 "duration after each fire time, like '45m'") from None
            return str(value)
        return check_time_of_day(value)

    @field_validator("catch_up_window")
    @classmethod
    def _window(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(0) < value <= MAX_MONITORING:
            raise ValueError(f"catchUpWindow must be positive and at most {MAX_MONITORING.days} days")
        return value

    @property
    def sub_daily(self) -> bool:
        """Whether a cycle of this schedule is a fire time (``YYYY-MM-DDTHH:MM``), not a date."""
        return bool(self.cron) and is_sub_daily_cron(self.cron or "")

    @model_validator(mode="after")
    def _window_within_day(self) -> "ScheduleConfig":
        """A daily cycle's evaluation window closes by the end of its day (the next day is the next cycle)."""
        if self.evaluation is None:
            return self
        match = _TIME_OF_DAY.match(self.after or "0:0")
        fires = timedelta(hours=int(match.group(1)), minutes=int(match.group(2))) if match else timedelta(0)
        if fires + self.evaluation.window > timedelta(days=1):
            raise ValueError(f"evaluation.window must close by the end of the cycle's day: from after "
                             f"{self.after or '00:00'} it may last at most {_hhmm(timedelta(days=1) - fires)}")
        return self


def _hhmm(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
