"""Pipeline configuration: traits, trigger, retry, SLA, job, exclusions and inclusions (its ``watch:``
section is in :mod:`.monitoring`, its ``schedules:`` in :mod:`.schedules`, the field checks they
share in :mod:`.checks`)."""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

import re
from datetime import timedelta
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..durations import Duration
from .base import ConfigModel, empty_list
from .calendar import normalise_dates, normalise_days
from .checks import check_deadline, check_timezone, check_watchdog_duration
from .enums import DEFAULT_SCHEDULE_ID, FailureCategory, PipelineOrigin
from .limits import (
    MAX_ATTEMPTS,
    MAX_BACKOFF_MULTIPLIER,
    MAX_BACKOFF_SECONDS,
    MAX_RERUNS,
    MAX_TIMEOUT_SECONDS,
    MAX_TTL_SECONDS,
)
from .monitoring import LateDataAction, MonitoringConfig, WatchConfig
from .records import Timestamp
from .schedules import ScheduleConfig

PIPELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,253}[a-z0-9]$")


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


class JobConfig(ConfigModel):
    """``job:``: how long Interlock follows a launched job."""

    poll_window: Duration | None = None
    """How long after its launch a job may stay RUNNING: past it, JOB_POLL_EXHAUSTED and the run
    fails as TIMEOUT (the retry policy decides whether it runs again). Unset: followed until it ends."""

    _poll_window = field_validator("poll_window")(check_watchdog_duration)


class ExclusionConfig(ConfigModel):
    calendar: str | None = None
    calendars: list[str] = Field(default_factory=empty_list)
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
    schedules: list[ScheduleConfig] = Field(default_factory=empty_list)
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
    def _unique_schedules(self) -> "PipelineConfig":
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
