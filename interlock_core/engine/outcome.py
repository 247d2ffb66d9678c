"""What ``start_run`` tells its caller: a value, never an exception, for every normal outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..model import ReadinessResult, RerunRecord, RunLogEntry, RunState, format_timestamp


class Outcome(StrEnum):
    TRIGGERED = "triggered"          # the job was launched (the run says how it stands now)
    NOT_READY = "not_ready"          # readiness said no; nothing launched
    DUPLICATE = "duplicate"          # the cycle already completed (dedup)
    IN_PROGRESS = "in_progress"      # a run of this cycle is still active
    BACKOFF = "backoff"              # the last attempt failed; the next one waits for its backoff
    EXHAUSTED = "exhausted"          # every allowed attempt failed
    NON_RETRYABLE = "non_retryable"  # the last failure is not retried by the policy
    CLAIM_LOST = "claim_lost"        # another caller claimed this attempt first
    NO_TRIGGER = "no_trigger"        # the pipeline has no trigger configured
    EXCLUDED = "excluded"            # the cycle's date is excluded by the pipeline's calendar
    DRY_RUN = "dry_run"              # a dry-run pipeline: ready, it would have triggered; nothing launched
    RETIRED = "retired"              # the pipeline's file was deleted: nothing new starts (active runs are followed)
    SKIPPED = "skipped"              # the cycle was skipped (onDeadline: skip, or catch-up); a rerun runs it


@dataclass
class RunOutcome:
    outcome: Outcome
    pipeline_id: str
    schedule_id: str
    date: str
    message: str
    run: RunState | None = None
    readiness: ReadinessResult | None = None
    run_log: RunLogEntry | None = None
    rerun: RerunRecord | None = None
    retry_at: datetime | None = None
    would_trigger_at: datetime | None = None
    """A dry-run pipeline: when the cycle first would have triggered."""

    @property
    def launched(self) -> bool:
        return self.outcome is Outcome.TRIGGERED

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "outcome": self.outcome.value,
            "pipelineId": self.pipeline_id,
            "scheduleId": self.schedule_id,
            "date": self.date,
            "message": self.message,
        }
        if self.run is not None:
            out["run"] = self.run.to_json_dict()
        if self.readiness is not None:
            out["readiness"] = self.readiness.to_json_dict()
            out["blocking"] = self.readiness.blocking
        if self.run_log is not None:
            out["runLog"] = self.run_log.to_json_dict()
        if self.rerun is not None:
            out["rerun"] = self.rerun.to_json_dict()
        if self.retry_at is not None:
            out["retryAt"] = format_timestamp(self.retry_at)
        if self.would_trigger_at is not None:
            out["dryRun"] = True
            out["wouldTriggerAt"] = format_timestamp(self.would_trigger_at)
        return out
