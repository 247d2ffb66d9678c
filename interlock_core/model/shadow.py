"""The shadow record of a dry-run pipeline's cycle: what Interlock would have done, and what the
scheduler already in place did — the evidence ``interlock shadow-report`` is made of."""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

from typing import Literal

from pydantic import Field

from .base import Record, empty_list
from .enums import DEFAULT_SCHEDULE_ID, FailureCategory
from .records import Timestamp

SchedulerRunState = Literal["running", "succeeded", "failed"]
SchedulerRunSource = Literal["lookup", "pushed"]

MAX_SCHEDULER_RUNS = 20
"""How many scheduler runs a shadow record keeps per cycle (the newest; a cycle the orchestrator
reran more often than that is an exception the report need not list run by run)."""


class SchedulerRun(Record):
    """One run of a dry-run pipeline's job started by the scheduler in place (the orchestrator's own
    run, never Interlock's): found through the trigger's lookup, or pushed over the API."""

    run_id: str = Field(min_length=1, max_length=250)
    state: SchedulerRunState
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    message: str | None = Field(default=None, max_length=2000)
    failure_category: FailureCategory | None = None
    source: SchedulerRunSource = "lookup"
    seen_at: Timestamp | None = None
    """When Interlock first heard of the run in this state (set by Interlock)."""

    @property
    def finished(self) -> bool:
        return self.state != "running"


class ShadowCycle(Record):
    """One cycle (pipeline, schedule, date) of a dry-run pipeline. Written with CAS on ``version``,
    kept for the store's retention like run logs."""

    pipeline_id: str
    date: str
    schedule_id: str = DEFAULT_SCHEDULE_ID
    first_evaluated_at: Timestamp | None = None
    """The first evaluation of the cycle in dry run (None: Interlock never looked at it)."""
    would_trigger_at: Timestamp | None = None
    blocking: list[str] = Field(default_factory=empty_list)
    """The traits that held the cycle at its latest NOT_READY evaluation before it would have
    triggered ([] once it would have)."""
    inputs: dict[str, str] = Field(default_factory=dict)
    """A digest of each trait's result when it would have triggered: the baseline late data is
    told from."""
    scheduler_runs: list[SchedulerRun] = Field(default_factory=empty_list)
    """Oldest first."""
    would_retries: int = 0
    would_reruns: int = 0
    late_data_at: Timestamp | None = None
    version: int = 1
    updated_at: Timestamp

    def scheduler_run(self, run_id: str) -> SchedulerRun | None:
        return next((r for r in self.scheduler_runs if r.run_id == run_id), None)

    @property
    def first_scheduler_run(self) -> SchedulerRun | None:
        """The scheduler's run of the cycle: its first one (later ones are its retries or reruns)."""
        started = [(r.started_at, i) for i, r in enumerate(self.scheduler_runs) if r.started_at is not None]
        if started:
            return self.scheduler_runs[min(started)[1]]
        return self.scheduler_runs[0] if self.scheduler_runs else None

    @property
    def succeeded_run(self) -> SchedulerRun | None:
        """The scheduler's run of the cycle that succeeded (the latest such), if any."""
        done = [r for r in self.scheduler_runs if r.state == "succeeded"]
        return done[-1] if done else None
