"""Pipeline configuration: traits, trigger, retry, SLA, watch, schedules, exclusions."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..cycles import check_cron, is_sub_daily_cron
from ..durations import Duration
from ..jsonpath import JsonPath, parse_path
from .base import ConfigModel
from .calendar import normalise_dates, normalise_days
from .enums import DEFAULT_SCHEDULE_ID, FailureCategory, PipelineOrigin
from .limits import (
    MAX_ATTEMPTS,
    MAX_BACKOFF_MULTIPLIER,
    MAX_BACKOFF_SECONDS,
    MAX_INTERVAL,
    MAX_MONITORING,
    MAX_RERUNS,
    MAX_TIMEOUT_SECONDS,
    MAX_TTL_SECONDS,
    duration_at_most,
)
from .records import Timestamp

PIPELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,253}[a-z0-9]$")
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


class TraitConfig(ConfigModel):
    """A pipeline's specialisation of an archetype trait."""

    evaluator: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    ttl: int | None = Field(default=None, ge=0, le=MAX_TTL_SECONDS)
    timeout: float | None = Field(default=None, ge=0, le=MAX_TIMEOUT_SECONDS)


class TriggerSpec(ConfigModel):
    """The ``trigger:`` section. Its fields beyond ``type`` belong to the trigger plugin's own model,
    which validates them when the project is loaded."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(min_length=1)

    def options(self) -> dict[str, Any]:
        """The trigger's own keys, as written (``${VAR}`` left unexpanded)."""
        return dict(self.model_extra or {})


DEFAULT_DRIFT_RERUNS = 2


class RetryPolicy(ConfigModel):
    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS)
    backoff_seconds: float = Field(default=30, ge=0, le=MAX_BACKOFF_SECONDS)
    backoff_multiplier: float = Field(default=2.0, ge=0, le=MAX_BACKOFF_MULTIPLIER)
    max_backoff_seconds: float = Field(default=3600, ge=0, le=MAX_BACKOFF_SECONDS)
    retryable_failures: list[FailureCategory] = Field(
        default_factory=lambda: [FailureCategory.TRANSIENT, FailureCategory.TIMEOUT]
    )
    max_code_retries: int | None = Field(default=None, ge=0, le=MAX_ATTEMPTS)
    """Of the automatic retries ``maxAttempts`` allows, how many may follow a failure of the job
    itself (it ran and failed: a failed callback or status poll, a command that exited non-zero),
    as opposed to a launch that failed (the orchestrator unreachable …). Unset: no separate cap."""
    max_drift_reruns: int = Field(default=DEFAULT_DRIFT_RERUNS, ge=0, le=MAX_RERUNS)
    """Reruns of one cycle Interlock may request by itself: on drift (readiness or numeric), on late
    data and when an upstream re-ran (``watch.onLateData: rerun``)."""
    max_manual_reruns: int | None = Field(default=None, ge=0, le=MAX_RERUNS)
    """Reruns of one cycle people may request (API, CLI, dashboard, AWS replay). Unset: no cap."""


MAX_WATCHDOG_DURATION = timedelta(days=7)


def check_watchdog_duration(value: timedelta | None) -> timedelta | None:
    """A watchdog duration (``expectedDuration``, ``maxDuration``, ``sensorTimeout``): more than
    zero and at most seven days (the days a watcher pass looks back over)."""
    if value is None:
        return None
    if value <= timedelta(0) or value > MAX_WATCHDOG_DURATION:
        raise ValueError("must be more than 0s and at most 7d")
    return value


class SLAConfig(ConfigModel):
    evaluation_deadline: str | None = None
    completion_deadline: str | None = None
    validation_timeout: str | None = None
    timezone: str | None = None
    expected_duration: Duration | None = None
    max_duration: Duration | None = None

    _tz = field_validator("timezone")(check_timezone)
    _deadlines = field_validator("evaluation_deadline", "completion_deadline", "validation_timeout")(
        check_deadline
    )
    _durations = field_validator("expected_duration", "max_duration")(check_watchdog_duration)


class DriftRule:
    """Numeric drift as ``watch.monitoring`` configures it: the number at ``path`` in ``trait``'s
    value, compared with its baseline at completion; beyond ``threshold`` (an amount, or a
    percentage of the baseline when ``relative``) it has drifted."""

    def __init__(self, trait: str, path: JsonPath, threshold: float, relative: bool) -> None:
        self.trait, self.path, self.threshold, self.relative = trait, path, threshold, relative

    def beyond(self, baseline: float, current: float) -> bool:
        change = abs(current - baseline)
        if not self.relative:
            return change > self.threshold
        if baseline == 0:
            return change > 0
        return change / abs(baseline) * 100 > self.threshold

    @property
    def threshold_text(self) -> str:
        return f"{self.threshold:g}%" if self.relative else f"{self.threshold:g}"


def parse_threshold(value: float | str) -> tuple[float, bool]:
    """``driftThreshold``: a number (an absolute change) or ``"N%"`` (relative to the baseline)."""
    text = str(value).strip()
    relative = text.endswith("%")
    try:
        amount = float(text[:-1] if relative else text)
    except ValueError:
        raise ValueError(f"invalid drift threshold {value!r}: a number (an absolute change, e.g. 500) "
                         "or a percentage of the baseline (e.g. '10%')") from None
    if not amount >= 0 or amount == float("inf"):
        raise ValueError(f"invalid drift threshold {value!r}: must be a finite number of 0 or more")
    return amount, relative


class MonitoringConfig(ConfigModel):
    enabled: bool = False
    duration: Duration = timedelta(hours=2)
    auto_rerun: bool = True
    sensor_timeout: Duration | None = None
    drift_trait: str | None = Field(default=None, min_length=1)
    """The trait whose value holds the number ``driftField`` points at."""
    drift_field: str | None = None
    """A JSON path (``$.rows``) into ``driftTrait``'s value: the number watched for numeric drift."""
    drift_threshold: float | str | None = None
    """How far the number may move from its baseline at completion: an amount or ``"N%"``."""

    _sensor = field_validator("sensor_timeout")(check_watchdog_duration)

    @field_validator("drift_field")
    @classmethod
    def _drift_field(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        parse_path(value)
        if "drift_trait" in info.data and info.data["drift_trait"] is None:
            raise ValueError("driftField needs driftTrait (the trait whose value holds the number)")
        if info.data.get("enabled") is False:
            raise ValueError("numeric drift is checked during post-run monitoring: set enabled: true")
        return value

    @field_validator("drift_threshold", mode="before")
    @classmethod
    def _no_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"invalid drift threshold {value!r}: a number (e.g. 500) or a percentage (e.g. '10%')")
        return value

    @field_validator("drift_threshold")
    @classmethod
    def _drift_threshold(cls, value: float | str | None, info: ValidationInfo) -> float | str | None:
        if value is None:
            return None
        parse_threshold(value)
        if "drift_field" in info.data and info.data["drift_field"] is None:
            raise ValueError("driftThreshold needs driftField (the JSON path of the number to watch)")
        return value

    @model_validator(mode="after")
    def _field_with_threshold(self) -> MonitoringConfig:
        if self.drift_field is not None and self.drift_threshold is None:
            raise ValueError("driftField needs driftThreshold (an amount like 500, or a percentage like '10%')")
        return self

    @model_validator(mode="after")
    def _sensor_within_window(self) -> MonitoringConfig:
        if self.sensor_timeout is not None and self.sensor_timeout > self.duration:
            raise ValueError("sensorTimeout must not be longer than the monitoring duration")
        return self

    _duration = field_validator("duration")(duration_at_most(MAX_MONITORING, "monitoring.duration"))

    @property
    def drift_rule(self) -> DriftRule | None:
        if self.drift_trait is None or self.drift_field is None or self.drift_threshold is None:
            return None
        amount, relative = parse_threshold(self.drift_threshold)
        return DriftRule(self.drift_trait, parse_path(self.drift_field), amount, relative)


LateDataAction = Literal["alert", "rerun"]


class WatchConfig(ConfigModel):
    enabled: bool | None = None
    interval: Duration | None = None
    monitoring: MonitoringConfig | None = None
    on_late_data: LateDataAction = "alert"
    """What a trait value that changed after the cycle's run completed (or a newer run of an
    upstream) does: ``alert`` records LATE_DATA_ARRIVAL and alerts once; ``rerun`` also asks for a
    rerun of the cycle, under ``retry.maxDriftReruns`` and the no-new-data breaker."""

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("interval must be positive")
        return duration_at_most(MAX_INTERVAL, "interval")(value)


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
    def _interval_within_window(self) -> EvaluationWindow:
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
    def _window_within_day(self) -> ScheduleConfig:
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


class JobConfig(ConfigModel):
    """``job:``: how long Interlock follows a launched job."""

    poll_window: Duration | None = None
    """How long after its launch a job may stay RUNNING: past it, JOB_POLL_EXHAUSTED and the run
    fails as TIMEOUT (the retry policy decides whether it runs again). Unset: followed until it ends."""

    _poll_window = field_validator("poll_window")(check_watchdog_duration)


class ExclusionConfig(ConfigModel):
    calendar: str | None = None
    calendars: list[str] = Field(default_factory=list)
    days: list[str] = Field(default_factory=list)
    dates: list[str] = Field(default_factory=list)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        return normalise_days(value)

    @field_validator("dates", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> list[str]:
        return normalise_dates(value)

    def calendar_names(self) -> list[str]:
        return [*([self.calendar] if self.calendar else []), *self.calendars]


class InclusionConfig(ExclusionConfig):
    """``include:``: the only days a pipeline runs on — irregular dates listed here or in named
    calendars (the same calendar files exclusions name; here their days and dates are the ones
    that run). Exclusions still apply on an included day."""


MAX_TIER = 1000
"""A pipeline's ``tier`` is a small whole number (0-1000): a label, never a value to overflow a store."""


class PipelineConfig(ConfigModel):
    name: str = Field(min_length=1)
    archetype: str = Field(min_length=1)
    description: str | None = None
    tier: int | None = Field(default=None, ge=0, le=MAX_TIER)
    traits: dict[str, TraitConfig] = Field(default_factory=dict)
    trigger: TriggerSpec | None = None
    retry: RetryPolicy | None = None
    sla: SLAConfig | None = None
    watch: WatchConfig | None = None
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    job: JobConfig | None = None
    exclusions: ExclusionConfig | None = None
    origin: PipelineOrigin | None = None
    """Set by Interlock (``file`` when loaded from a pipeline file, ``api`` when registered over
    the API), never taken from what a client sends. Unset means a pipeline file."""
    dry_run: bool = False
    """Shadow mode: evaluate and record DRY_RUN_WOULD_TRIGGER where the trigger would fire, but
    never launch, claim the cycle or write its run log (SLA projections and drift still recorded)."""
    include: InclusionConfig | None = None
    retired_at: Timestamp | None = None
    """Set by Interlock, never taken from a pipeline file or a client: when the file that defined
    this pipeline was found deleted. A retired pipeline is never evaluated, triggered or alerted
    again (a run already under way is still followed to its end); its history is kept, and
    restoring the file brings it back."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PIPELINE_NAME.match(value):
            raise ValueError(
                f"invalid pipeline name {value!r}: must match [a-z0-9][a-z0-9._-]{{0,253}}[a-z0-9]"
            )
        return value

    @model_validator(mode="after")
    def _unique_schedules(self) -> PipelineConfig:
        names = [s.name for s in self.schedules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate schedule name(s): {', '.join(dupes)}")
        return self

    def resolved_schedules(self) -> list[ScheduleConfig]:
        return list(self.schedules) or [ScheduleConfig(name=DEFAULT_SCHEDULE_ID)]

    def schedule(self, schedule_id: str) -> ScheduleConfig | None:
        for schedule in self.resolved_schedules():
            if schedule.name == schedule_id:
                return schedule
        return None

    @property
    def retry_policy(self) -> RetryPolicy:
        return self.retry or RetryPolicy()

    @property
    def monitoring(self) -> MonitoringConfig:
        return (self.watch.monitoring if self.watch else None) or MonitoringConfig()

    @property
    def on_late_data(self) -> LateDataAction:
        return self.watch.on_late_data if self.watch is not None else "alert"

    @property
    def poll_window(self) -> timedelta | None:
        return self.job.poll_window if self.job is not None else None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    @property
    def watched(self) -> bool:
        return not (self.watch is not None and self.watch.enabled is False)

    def upstream_pipelines(self) -> set[str]:
        """Pipelines named by ``upstreamPipeline`` in this pipeline's trait configs (cascade edges)."""
        out: set[str] = set()
        for trait in self.traits.values():
            upstream = trait.config.get("upstreamPipeline")
            if isinstance(upstream, str) and upstream:
                out.add(upstream)
        return out
