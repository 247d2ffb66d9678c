"""SLA checks per cycle: evaluation deadline, completion deadline, validation timeout.

Each breach fires one SLA_BREACHED event and one alert per (pipeline, schedule, date, kind),
however often the watcher looks. Excluded days never reach these checks.
"""

from __future__ import annotations

from datetime import date as Date

from ..metrics import METRICS
from ..model import AlertLevel, EventKind, FailureCategory, PipelineConfig, RunLogEntry, RunStatus, ScheduleConfig
from ..schedule import deadlines
from .context import EngineContext
from .dry_run import would_trigger_at

S = RunStatus


class SLAChecks:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    async def _breach(self, pipeline: PipelineConfig, schedule_id: str, date: str, kind: str, message: str,
                      event_message: str, *, status: str | None = None, run_id: str | None = None,
                      level: AlertLevel = AlertLevel.ERROR) -> bool:
        key = f"sla:{kind}:{pipeline.name}:{schedule_id}:{date}"
        if not await self.ctx.alert_once(key, level, message, pipeline.name,
                                         details={"kind": kind, "scheduleId": schedule_id, "date": date}):
            return False
        METRICS.inc("interlock_sla_breaches_total", kind=kind)
        await self.ctx.emit(EventKind.SLA_BREACHED, pipeline.name, run_id=run_id, status=status,
                            schedule_id=schedule_id, date=date, message=event_message, details={"kind": kind})
        return True

    async def check_evaluation(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str) -> bool:
        """Called when the cycle is still not ready: breached once past the evaluation deadline."""
        d = deadlines(pipeline, schedule, Date.fromisoformat(date))
        if d.evaluation is None or self.ctx.clock.now() <= d.evaluation:
            return False
        return await self._breach(
            pipeline, schedule.name, date, "evaluation",
            f"Pipeline {pipeline.name} evaluation SLA breached: not ready by {d.evaluation_label}",
            f"evaluation deadline {d.evaluation_label} breached", status="NOT_READY")

    async def check_completion(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str,
                               entry: RunLogEntry | None) -> bool:
        """Breached once when the cycle has not COMPLETED by its completion deadline — including a
        cycle that never ran, so a missing run never goes unnoticed."""
        if entry is not None and entry.status in (S.COMPLETED, S.COMPLETED_MONITORING):
            return False
        d = deadlines(pipeline, schedule, Date.fromisoformat(date))
        if d.completion is None or self.ctx.clock.now() <= d.completion:
            return False
        if pipeline.dry_run and entry is None:  # the projection: would the gate have let it start in time?
            at = await would_trigger_at(self.ctx, pipeline.name, schedule.name, date)
            if at is not None and at <= d.completion:
                return False
            return await self._breach(
                pipeline, schedule.name, date, "completion",
                f"Pipeline {pipeline.name} completion SLA breached (dry run): it would not have triggered by "
                f"{d.completion_label}", f"dry run: completion deadline {d.completion_label} breached",
                status="NOT_STARTED")
        state = entry.status.value if entry else "NOT_STARTED"
        run = f"run {entry.run_id} still {state}" if entry and entry.run_id else f"cycle {state}"
        return await self._breach(
            pipeline, schedule.name, date, "completion",
            f"Pipeline {pipeline.name} completion SLA breached: {run} past {d.completion_label}",
            f"completion deadline {d.completion_label} breached", status=state,
            run_id=entry.run_id if entry else None)

    async def check_validation(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str) -> bool:
        """Force-fail a cycle still not triggered at its validation timeout: no launch later that day."""
        d = deadlines(pipeline, schedule, Date.fromisoformat(date))
        if d.validation is None or self.ctx.clock.now() <= d.validation:
            return False
        existing = await self.ctx.store.get_run_log(pipeline.name, date, schedule.name)
        if existing is not None and existing.status is not S.FAILED:
            return False
        if pipeline.dry_run and existing is None:  # shadow mode writes no run log: nothing to force-fail
            return await self._breach(
                pipeline, schedule.name, date, "validation",
                f"Validation timeout for {pipeline.name} (deadline: {d.validation_label}) reached while not "
                "ready (dry run: nothing force-failed)", f"dry run: validation timeout {d.validation_label} "
                "breached", status="NOT_READY")
        now = self.ctx.clock.now()
        entry = RunLogEntry(
            pipeline_id=pipeline.name, date=date, schedule_id=schedule.name, status=S.FAILED,
            attempt_number=max(existing.attempt_number if existing else 0, pipeline.retry_policy.max_attempts),
            failure_message=f"validation timeout {d.validation_label} reached while not ready",
            failure_category=FailureCategory.PERMANENT, alert_sent=True, started_at=now, updated_at=now,
            completed_at=now, version=(existing.version + 1) if existing else 1,
            retry_history=existing.retry_history if existing else [])
        if existing is not None and existing.failure_message == entry.failure_message:
            return False
        if not await self.ctx.store.cas_run_log(entry, existing.version if existing else None):
            return False
        return await self._breach(
            pipeline, schedule.name, date, "validation",
            f"Validation timeout for {pipeline.name} (deadline: {d.validation_label}): cycle force-failed",
            f"validation timeout {d.validation_label} breached", status="FAILED")
