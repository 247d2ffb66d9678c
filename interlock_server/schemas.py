"""Request bodies (validated, naming the bad field) and the response shapes the OpenAPI document
describes. Records the engine returns (runs, readiness, traits …) are the core models themselves."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from interlock_core.dates import run_date_problem
from interlock_core.model import (
    FailureCategory,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    SchedulerRun,
    Timestamp,
)
from interlock_core.model.limits import MAX_TTL_SECONDS
from interlock_core.pipeline_state import PipelineState


class Body(BaseModel):
    """A request body: camelCase keys; keys a later client version adds are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def _iso_date(value: str | None) -> str | None:
    if value is None:
        return None
    problem = run_date_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class CycleBody(Body):
    """Which cycle to evaluate or run; both default to the pipeline's first schedule and today."""

    schedule_id: str | None = Field(default=None, description="Schedule name (default: the first).")
    date: str | None = Field(default=None, description="The cycle: its date YYYY-MM-DD, or its fire time "
                             "YYYY-MM-DDTHH:MM for a sub-daily cron schedule (default: the current cycle in the "
                             "schedule's time zone).")

    _date = field_validator("date")(_iso_date)


class PushTraitBody(Body):
    status: Literal["PASS", "FAIL"]
    value: dict[str, Any] | None = None
    reason: str | None = None
    ttl: int | None = Field(default=None, ge=0, le=MAX_TTL_SECONDS, description="Seconds until the result "
                            "expires (0 = never; default: the trait's ttl; at most 366 days).")
    failure_category: FailureCategory | None = None


SCHEDULER_WORDS = {"success": "succeeded", "succeeded": "succeeded", "completed": "succeeded", "ok": "succeeded",
                   "failed": "failed", "failure": "failed", "error": "failed", "running": "running"}


class SchedulerRunBody(Body):
    """A run of a dry-run pipeline's job by the scheduler in place (the orchestrator's own run)."""

    date: str = Field(description="The cycle the scheduler ran (YYYY-MM-DD or YYYY-MM-DDTHH:MM).")
    schedule_id: str | None = Field(default=None, description="Schedule name (default: the pipeline's first).")
    run_id: str = Field(min_length=1, max_length=250, description="The scheduler's id of its run; pushing the "
                        "same id again updates it (running, then succeeded or failed).")
    status: Literal["running", "succeeded", "failed"] = Field(
        description="running, succeeded or failed (also: success, completed, ok / failure, error).")
    started_at: Timestamp = Field(description="When the scheduler started the run (RFC 3339; UTC if no offset).")
    finished_at: Timestamp | None = Field(default=None, description="When it ended (default: when pushed, "
                                          "for a run that succeeded or failed).")
    message: str | None = Field(default=None, max_length=2000)
    failure_category: FailureCategory | None = Field(default=None, description="Of a failed run, for the "
                                                     "retry policy (default TRANSIENT).")

    _date = field_validator("date")(_iso_date)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return SCHEDULER_WORDS.get(value.strip().lower(), value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _order(self) -> SchedulerRunBody:
        if self.finished_at is not None and self.finished_at < self.started_at:
            raise ValueError("finishedAt is before startedAt")
        return self

    def run(self) -> SchedulerRun:
        return SchedulerRun(run_id=self.run_id, state=self.status, started_at=self.started_at,
                            finished_at=self.finished_at, message=self.message,
                            failure_category=self.failure_category, source="pushed")


class CompleteBody(Body):
    status: str = Field(description="'success' or 'failed' (also: succeeded, completed, ok / failure, "
                        "error).", examples=["success"])
    metadata: dict[str, Any] | None = None


class CancelBody(Body):
    reason: str = "cancelled via API"


class RerunBody(Body):
    original_date: str = Field(description="The completed cycle to run again (YYYY-MM-DD, or YYYY-MM-DDTHH:MM "
                               "for a sub-daily cron schedule).")
    reason: str
    description: str | None = None
    schedule_id: str | None = None
    metadata: dict[str, Any] | None = None
    force: bool = Field(default=False, description="Run it even when its inputs are unchanged since the run it "
                        "would replace (past the no-new-data breaker; the budget still applies).")

    _original_date = field_validator("original_date")(_iso_date)


class BackfillBody(Body):
    """Which cycles to backfill and how (``POST /api/pipelines/{id}/backfill``)."""

    since: str = Field(alias="from", description="First cycle date (YYYY-MM-DD).")
    until: str = Field(alias="to", description="Last cycle date (YYYY-MM-DD, included).")
    schedule_id: str | None = Field(default=None, description="Schedule name (default: the first).")
    force: bool = Field(default=False, description="Launch each cycle whatever its traits say (the run log "
                        "still holds: a completed cycle is not run again).")
    concurrency: int = Field(default=4, ge=1, le=64, description="Cycles started at once.")

    _since = field_validator("since")(_iso_date)
    _until = field_validator("until")(_iso_date)


# ------------------------------------------------------------------------------- responses


class FieldProblem(Body):
    field: str
    message: str


class ErrorBody(Body):
    """Every error: a message, and where known the offending field or the outcome's details."""

    model_config = ConfigDict(extra="allow")
    error: str
    field: str | None = None
    errors: list[FieldProblem] | None = None


class StoreHealth(Body):
    provider: str
    reachable: bool


class WatcherHealth(Body):
    enabled: bool
    alive: bool
    last_pass_at: str | None = None
    passes: int = 0
    outage: bool = False
    error: str | None = None


class HealthBody(Body):
    status: Literal["ok", "degraded"]
    version: str
    store: StoreHealth
    watcher: WatcherHealth
    uptime_seconds: float


class OutcomeBody(Body):
    """What starting a run decided (``RunOutcome``)."""

    model_config = ConfigDict(extra="allow")
    outcome: Literal["triggered", "not_ready", "duplicate", "in_progress", "backoff", "exhausted",
                     "non_retryable", "claim_lost", "no_trigger", "excluded", "skipped", "dry_run"]
    pipeline_id: str
    schedule_id: str
    date: str
    message: str
    run: RunState | None = None
    readiness: ReadinessResult | None = None
    blocking: list[str] | None = None
    run_log: RunLogEntry | None = None
    rerun: RerunRecord | None = None
    retry_at: str | None = None
    dry_run: bool | None = None
    would_trigger_at: str | None = None


class OutcomeError(OutcomeBody):
    error: str
    status: str | None = None


class RerunAccepted(Body):
    rerun: RerunRecord | None = None  # none when no rerun was recorded (a run of the cycle is active)
    outcome: OutcomeBody | None = None


class RerunRefused(Body):
    model_config = ConfigDict(extra="allow")
    error: str
    status: str | None = None
    blocking: list[str] | None = None
    rerun: RerunRecord | None = None  # none when no rerun was recorded (a run or rerun of the cycle is unfinished)
    outcome: OutcomeBody | None = None
    active_run_id: str | None = None  # the run of the cycle still active
    active_run_status: str | None = None
    rerun_id: str | None = None  # the other rerun of the cycle, unfinished
    rerun_status: str | None = None
    rejected: bool | None = None  # refused by its budget or by the no-new-data breaker: nothing recorded
    reason: str | None = None  # `no new data` or `budget exhausted`
    source: str | None = None  # manual, drift, late-data, cascade
    budget: str | None = None  # the retry key that bounds it (maxManualReruns …)
    used: int | None = None
    limit: int | None = None
    replaced_run_id: str | None = None  # the cycle's last run, which the rerun would replace
    fingerprint: str | None = None  # the cycle's inputs now
    replaced_fingerprint: str | None = None  # the inputs that run was launched with


class ReadinessAnswer(ReadinessResult):
    """``GET /readiness``: the readiness over stored results, and the pipeline's state beside it."""

    state: PipelineState | None = Field(
        default=None, description="The pipeline's state for its current cycle (COMPLETED, RUNNING, NOT_READY, "
                                  "STALE …; `GET /api/pipelines/{id}/state` has the details). A completed "
                                  "cycle stays COMPLETED when its trait results expire: `status` and "
                                  "`blocking` then describe the traits, which block nothing until the next cycle.")
