"""SLA checks per cycle: evaluation deadline, completion deadline, validation timeout, and — as
part of the watchdog — the relative ``maxDuration``, SLA_WARNING when a cycle is at risk and
SLA_MET when it completed in time.

Each breach fires one SLA_BREACHED event and one alert per (pipeline, schedule, date, kind),
however often the watcher looks; each warning and each met likewise once. Excluded days never
reach these checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..durations import format_duration
from ..metrics import METRICS
from ..model import (
    AlertLevel,
    Event,
    EventKind,
    FailureCategory,
    PipelineConfig,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    format_timestamp,
)
from ..schedule import deadlines
from .context import EngineContext
from .dry_run_marks import would_trigger_at

S = RunStatus
_MEMO_LIMIT = 100_000


@dataclass(frozen=True)
class Target:
    """A time by which a cycle should have completed: ``completion`` (the completion deadline) or
    ``maxDuration`` (that long after the cycle's first trait pass)."""

    kind: str
    due: datetime
    label: str


class SLAChecks:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self._settled: set[str] = set()  # warning/met keys this process has claimed or seen claimed

    def expected_duration(self, pipeline: PipelineConfig) -> timedelta:
        """How long a run of the pipeline is expected to take (``sla.expectedDuration``, else the
        project's ``watcher.watchdog.expectedDuration``)."""
        if pipeline.sla is not None and pipeline.sla.expected_duration is not None:
            return pipeline.sla.expected_duration
        return self.ctx.watcher.watchdog.expected_duration

    def targets(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str,
                first_pass: datetime | None) -> list[Target]:
        if pipeline.sla is None and schedule.deadline is None:
            return []
        out = []
        d = deadlines(pipeline, schedule, date)
        if d.completion is not None:
            out.append(Target("completion", d.completion, d.completion_label or ""))
        max_duration = pipeline.sla.max_duration if pipeline.sla else None
        if max_duration is not None and first_pass is not None:
            out.append(Target("maxDuration", first_pass + max_duration,
                              f"{format_duration(max_duration)} after the first trait pass "
                              f"({format_timestamp(first_pass)})"))
        return out

    async def _once(self, key: str, level: AlertLevel, message: str, pipeline: PipelineConfig,
                    details: dict[str, Any], event: Event) -> bool:
        """The alert and its event, once per key (one store write)."""
        if key in self._settled or pipeline.retired:  # a retired pipeline is never alerted
            return False
        if len(self._settled) > _MEMO_LIMIT:
            self._settled.clear()
        self._settled.add(key)
        return await self.ctx.alert_once(key, level, message, pipeline.name, details=details, event=event,
                                         schedule_id=event.schedule_id, date=event.date)

    async def check_at_risk(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str,
                            entry: RunLogEntry | None, run: RunState | None, first_pass: datetime | None) -> None:
        """SLA_WARNING once per target when, ``expectedDuration`` before it, the cycle is not done and
        no run started early enough to finish by it."""
        if entry is not None and (entry.status.is_done or entry.status is S.SKIPPED):
            return
        now = self.ctx.clock.now()
        expected = self.expected_duration(pipeline)
        for target in self.targets(pipeline, schedule, date, first_pass):
            if not target.due - expected <= now < target.due:
                continue
            active = run is not None and run.status in (S.TRIGGERING, S.RUNNING)
            if active and run is not None and run.created_at + expected <= target.due:
                continue  # started in time to finish by the target
            state = run.status.value if active and run is not None else (entry.status.value if entry else "NOT_STARTED")
            left = format_duration(target.due - now)
            message = (f"Pipeline {pipeline.name} SLA at risk: cycle {date}/{schedule.name} {state} with {left} "
                       f"left before {target.label} (expected duration {format_duration(expected)})")
            details = {"kind": target.kind, "scheduleId": schedule.name, "date": date,
                       "due": format_timestamp(target.due), "expectedDuration": format_duration(expected)}
            warning = self.ctx.event(EventKind.SLA_WARNING, pipeline.name, status=state, schedule_id=schedule.name,
                                     date=date, run_id=run.run_id if run else None,
                                     message=f"{target.kind} SLA at risk: {left} left before {target.label}",
                                     details=details)
            if await self._once(f"sla:warning:{target.kind}:{pipeline.name}:{schedule.name}:{date}",
                                AlertLevel.WARNING, message, pipeline, details, warning):
                METRICS.inc("interlock_sla_warnings_total", kind=target.kind)

    async def check_max_duration(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str,
                                 entry: RunLogEntry | None, first_pass: datetime | None) -> bool:
        """Breached once when the cycle has not completed ``maxDuration`` after its first trait pass."""
        if entry is not None and (entry.status.is_done or entry.status is S.SKIPPED):
            return False
        for target in self.targets(pipeline, schedule, date, first_pass):
            if target.kind != "maxDuration" or self.ctx.clock.now() <= target.due:
                continue
            state = entry.status.value if entry else "NOT_STARTED"
            return await self._breach(
                pipeline, schedule.name, date, "maxDuration",
                f"Pipeline {pipeline.name} maxDuration SLA breached: cycle {state} {target.label}",
                f"maxDuration SLA breached: not completed {target.label}", status=state,
                run_id=entry.run_id if entry else None)
        return False

    async def check_met(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str,
                        entry: RunLogEntry | None, first_pass: datetime | None) -> bool:
        """SLA_MET once when the cycle completed before every one of its targets."""
        if entry is None or not entry.status.is_done:
            return False
        targets = self.targets(pipeline, schedule, date, first_pass)
        done_at = entry.completed_at or entry.updated_at
        if not targets or any(done_at > t.due for t in targets):
            return False
        labels = ", ".join(f"{t.kind} {t.label}" for t in targets)
        details = {"kinds": [t.kind for t in targets], "scheduleId": schedule.name, "date": date,
                   "completedAt": format_timestamp(done_at)}
        met = self.ctx.event(EventKind.SLA_MET, pipeline.name, status=entry.status.value, schedule_id=schedule.name,
                             date=date, run_id=entry.run_id, message=f"completed in time ({labels})", details=details)
        return await self._once(f"sla:met:{pipeline.name}:{schedule.name}:{date}", AlertLevel.INFO,
                                f"Pipeline {pipeline.name} SLA met: cycle {date}/{schedule.name} completed at "
                                f"{format_timestamp(done_at)}, before {labels}", pipeline, details, met)

    async def _breach(self, pipeline: PipelineConfig, schedule_id: str, date: str, kind: str, message: str,
                      event_message: str, *, status: str | None = None, run_id: str | None = None,
                      level: AlertLevel = AlertLevel.ERROR, extra: dict[str, Any] | None = None) -> bool:
        key = f"sla:{kind}:{pipeline.name}:{schedule_id}:{date}"
        if pipeline.retired:  # its file was deleted: never alerted again (nor force-failed, below)
            return False
        breached = self.ctx.event(EventKind.SLA_BREACHED, pipeline.name, run_id=run_id, status=status,
                                  schedule_id=schedule_id, date=date, message=event_message, details={"kind": kind})
        if not await self.ctx.alert_once(key, level, message, pipeline.name, event=breached,
                                         details={"kind": kind, "scheduleId": schedule_id, "date": date,
                                                  **(extra or {})},
                                         schedule_id=schedule_id, date=date):
            return False
        METRICS.inc("interlock_sla_breaches_total", kind=kind)
        return True

    async def check_evaluation(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str) -> bool:
        """Called when the cycle is still not ready: breached once past the evaluation deadline."""
        d = deadlines(pipeline, schedule, date)
        if d.evaluation is None or self.ctx.clock.now() <= d.evaluation:
            return False
        policy = {"alert": "", "skip": "; onDeadline: skip (cycle skipped)",
                  "trigger": "; onDeadline: trigger (run anyway, degraded)"}[schedule.on_deadline]
        if pipeline.dry_run and policy:
            policy = f"; onDeadline: {schedule.on_deadline} (dry run: nothing done)"
        return await self._breach(
            pipeline, schedule.name, date, "evaluation",
            f"Pipeline {pipeline.name} evaluation SLA breached: not ready by {d.evaluation_label}{policy}",
            f"evaluation deadline {d.evaluation_label} breached{policy}", status="NOT_READY",
            extra={"onDeadline": schedule.on_deadline, **({"degraded": True} if schedule.on_deadline == "trigger"
                                                          and not pipeline.dry_run else {})})

    async def check_completion(self, pipeline: PipelineConfig, schedule: ScheduleConfig, date: str,
                               entry: RunLogEntry | None) -> bool:
        """Breached once when the cycle has not COMPLETED by its completion deadline — including a
        cycle that never ran, so a missing run never goes unnoticed."""
        if entry is not None and (entry.status.is_done or entry.status is S.SKIPPED):
            return False
        d = deadlines(pipeline, schedule, date)
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
        d = deadlines(pipeline, schedule, date)
        if d.validation is None or self.ctx.clock.now() <= d.validation or pipeline.retired:
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
