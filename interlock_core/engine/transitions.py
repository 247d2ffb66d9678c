"""Moving a run to a new status, with everything that follows from it, in one place:
run state, run log, rerun record, events, alerts, retry scheduling, monitoring start, cascade."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..cycle_spans import spanning_cycle
from ..durations import format_duration
from ..expanded import EXPANDED, mask_message_fields
from ..fsm import can_transition
from ..metrics import METRICS
from ..model import (
    Alert,
    AlertLevel,
    CascadeMarker,
    EventKind,
    FailureCategory,
    PipelineConfig,
    RerunSource,
    RetryAttempt,
    RunLogEntry,
    RunState,
    RunStatus,
    format_timestamp,
)
from ..retry import RetryDecision, RetryReason, decide_retry
from ..tracing import span
from .context import EngineContext
from .drift import Drift
from .records import update_rerun, update_run, update_run_log
from .rerun_slot import RerunSlot

log = logging.getLogger("interlock.lifecycle")

S = RunStatus


@dataclass(frozen=True)
class Change:
    """Why a run changes status: who said so and what they said."""

    source: str  # launch | callback | poll | poll-window | cancel | monitoring | reconcile | validation
    message: str | None = None
    category: FailureCategory | None = None
    metadata: dict[str, Any] | None = None
    job_failure: bool = False
    """A failure of the job itself (it ran and failed), not of its launch: ``retry.maxCodeRetries``."""


def _masked(change: Change, pipeline_id: str) -> Change:
    """``change`` with the pipeline's expanded values masked in its message (and in the text fields
    of its metadata; ids stay exact)."""
    if not EXPANDED.values(pipeline_id):
        return change
    message = EXPANDED.mask(pipeline_id, change.message) if change.message else change.message
    metadata = mask_message_fields(pipeline_id, change.metadata) if change.metadata else change.metadata
    return Change(change.source, message, change.category, metadata, change.job_failure)


class Transitions:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.rerun_slot = RerunSlot(ctx)
        self.drift = Drift(ctx)

    def target_for_success(self, pipeline: PipelineConfig | None) -> RunStatus:
        if pipeline is not None and pipeline.monitoring.enabled:
            return S.COMPLETED_MONITORING
        return S.COMPLETED

    async def move(self, run_id: str, target: RunStatus, change: Change) -> tuple[RunState | None, bool]:
        """Move the run to ``target`` if the lifecycle allows it. Returns (run, moved).

        The one place a trigger's words enter the run, its events and alerts: no value expanded
        from the environment into the pipeline's trigger config survives here (see
        :mod:`interlock_core.expanded`)."""
        now = self.ctx.clock.now()
        moved = False
        original = change
        # numeric drift is watched during monitoring: its baseline is taken as the run enters it
        baseline = await self.drift.baseline_for(run_id) if target is S.COMPLETED_MONITORING else None

        def apply(run: RunState) -> RunState | None:
            nonlocal moved, change
            change = _masked(original, run.pipeline_id)
            moved = False
            if change.metadata:
                run.metadata.update(change.metadata)
            if run.status == target or not can_transition(run.status, target):
                return run if change.metadata else None
            moved = True
            run.status = target
            run.updated_at = now
            run.lease_expires_at = None if target is not S.TRIGGERING else run.lease_expires_at
            if target is S.FAILED:
                run.failure_message = change.message
                run.failure_category = change.category or FailureCategory.TRANSIENT
            if target is S.COMPLETED_MONITORING:
                run.metadata["monitoringStartedAt"] = format_timestamp(now)
            if target.is_terminal or target is S.COMPLETED_MONITORING:
                run.completed_at = run.completed_at or now
            if baseline is not None and run.drift_baseline is None:
                run.drift_baseline = baseline  # numeric drift is judged against the values at completion
            return run

        run = await update_run(self.ctx.store, run_id, apply)
        if run is not None and moved:
            await self._after(run, change)
        return run, moved

    # -------------------------------------------------------------------------- consequences
    async def _after(self, run: RunState, change: Change) -> None:
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        await self._sync_run_log(run, change)
        if run.rerun_id:
            await self._sync_rerun(run)
        await self._events(run, change, pipeline, self._failure_alert(run, change, pipeline))
        if run.status is S.FAILED:
            await self._after_failure(run, change, pipeline)
        if run.status is S.COMPLETED:
            await self.cascade(run)
        if run.status.is_terminal or run.status in (S.RUNNING, S.COMPLETED_MONITORING):
            # a job launched or ended (from a shell, say): whoever watches the cycle looks after it now
            await self.ctx.wake(run.pipeline_id, f"run-{run.status.value.lower()}", run.schedule_id, run.date)

    async def _sync_run_log(self, run: RunState, change: Change) -> None:
        if run.rerun_id or run.date is None:
            return
        now = self.ctx.clock.now()

        def apply(entry: RunLogEntry) -> RunLogEntry | None:
            if entry.run_id != run.run_id:
                return None
            entry.status = run.status
            entry.updated_at = now
            if run.status is S.FAILED:
                entry.failure_message = change.message
                entry.failure_category = run.failure_category
                entry.completed_at = now
                entry.retry_history.append(RetryAttempt(
                    attempt=entry.attempt_number, status=S.FAILED, run_id=run.run_id,
                    failure_message=change.message, failure_category=run.failure_category,
                    started_at=entry.started_at, completed_at=now, job_failure=change.job_failure))
            elif run.status is S.COMPLETED:
                entry.completed_at = now
            return entry

        await update_run_log(self.ctx.store, run.pipeline_id, run.date, run.schedule_id, apply)

    async def _sync_rerun(self, run: RunState) -> None:
        assert run.rerun_id is not None
        now = self.ctx.clock.now()
        status = run.status  # COMPLETED_MONITORING too: the watcher keeps looking after the run until it ends

        def apply(record: Any) -> Any:
            if record.rerun_run_id != run.run_id or record.status == status:
                return None
            record.status = status
            if status.is_terminal:
                record.completed_at = now
            return record

        record = await update_rerun(self.ctx.store, run.rerun_id, apply)
        if record is not None and record.status is status:
            await self.rerun_slot.release(record)  # its job is done: the cycle may take another rerun
        if record is not None and status.is_terminal:
            await self.ctx.emit(EventKind.RERUN_COMPLETED, run.pipeline_id, run_id=run.run_id, status=status,
                                message=f"rerun {record.rerun_id} completed: {status.value.lower()}",
                                details={"rerunId": record.rerun_id, "originalDate": record.original_date})

    def _failure_alert(self, run: RunState, change: Change, pipeline: PipelineConfig | None) -> Alert | None:
        """The alert of a failed run that is not retried by the cycle's own retry policy (a rerun's
        run, or a run whose pipeline is gone): written with the run's event. The cycle's own runs
        alert when they gave up (:meth:`alert_gave_up`); a retired pipeline's never."""
        if run.status is not S.FAILED or (pipeline is not None and pipeline.retired):
            return None
        if not run.rerun_id and pipeline is not None:
            return None
        return self.ctx.make_alert(AlertLevel.ERROR, f"Run {run.run_id} failed for pipeline {run.pipeline_id}: "
                                   f"{change.message or 'failed'}", run.pipeline_id, schedule_id=run.schedule_id,
                                   date=run.date)

    async def _events(self, run: RunState, change: Change, pipeline: PipelineConfig | None,
                      alert: Alert | None = None) -> None:
        common: dict[str, Any] = {"run_id": run.run_id, "status": run.status, "schedule_id": run.schedule_id,
                                  "date": run.date, "alert": alert}
        if change.source == "launch":
            kind = EventKind.TRIGGER_FAILED if run.status is S.FAILED else EventKind.TRIGGER_FIRED
            await self.ctx.emit(kind, run.pipeline_id, message=change.message, **common)
        elif change.source in ("callback", "poll"):
            await self.ctx.emit(EventKind.CALLBACK_RECEIVED, run.pipeline_id, message=change.message,
                                details=change.metadata or None, **common)
        elif change.source == "monitoring" and run.status is S.COMPLETED:
            pass  # the monitoring code emits MONITORING_COMPLETED / MONITORING_DRIFT_DETECTED itself
            # (never with an alert: the run did not fail)
        elif change.source == "reconcile":
            await self.ctx.emit(EventKind.RUN_RECONCILED, run.pipeline_id, message=change.message, **common)
        elif change.source == "poll-window":  # job.pollWindow passed: its own event, always alerted
            if alert is None and not (pipeline is not None and pipeline.retired):
                alert = self.ctx.make_alert(
                    AlertLevel.ERROR, f"Run {run.run_id} of pipeline {run.pipeline_id} failed: {change.message}",
                    run.pipeline_id, details=dict(change.metadata or {}), schedule_id=run.schedule_id,
                    date=run.date)
            await self.ctx.emit(EventKind.JOB_POLL_EXHAUSTED, run.pipeline_id, message=change.message,
                                details=change.metadata or None, failure_category=run.failure_category,
                                **{**common, "alert": alert})
        else:
            await self.ctx.emit(EventKind.RUN_STATE_CHANGED, run.pipeline_id, message=change.message, **common)
        if run.status is S.COMPLETED_MONITORING and pipeline is not None:
            duration = format_duration(pipeline.monitoring.duration)
            await self.ctx.emit(EventKind.MONITORING_STARTED, run.pipeline_id, run_id=run.run_id,
                                message=f"post-completion monitoring started (duration: {duration})")

    async def _after_failure(self, run: RunState, change: Change, pipeline: PipelineConfig | None) -> None:
        category = run.failure_category
        METRICS.inc("interlock_run_failures_total", category=category.value if category else "NONE")
        if pipeline is not None and pipeline.retired:  # recorded, never retried or alerted
            log.info("run %s of retired pipeline %s failed: not retried, no alert", run.run_id, run.pipeline_id)
            return
        if run.rerun_id or pipeline is None:
            return  # alerted with its event (_failure_alert)
        policy = pipeline.retry_policy
        run_log = None
        if policy.max_code_retries is not None and change.job_failure and run.date is not None:
            run_log = await self.ctx.store.get_run_log(run.pipeline_id, run.date, run.schedule_id)
        decision = decide_retry(policy, run.attempt, category, run.updated_at, run_log=run_log)
        if decision.code_budget is not None:
            await self._code_budget_events(run, decision)
        if decision.retry:
            METRICS.inc("interlock_retries_scheduled_total")
            await self.ctx.emit(EventKind.RETRY_SCHEDULED, run.pipeline_id, run_id=run.run_id,
                                schedule_id=run.schedule_id, date=run.date,
                                message=f"retry {decision.next_attempt}/{decision.max_attempts} scheduled after "
                                        f"{format_duration(decision.backoff)}")
            return
        await self.alert_gave_up(pipeline, run.schedule_id, run.date or "", decision, change.message or "")

    async def _code_budget_events(self, run: RunState, decision: RetryDecision) -> None:
        """``retry.maxCodeRetries`` weighed a job that failed: RERUN_ACCEPTED when its retry is within
        the budget, else RERUN_REJECTED (and the cycle gives up: :meth:`alert_gave_up`)."""
        assert decision.code_budget is not None
        failures, limit = decision.code_budget
        allowed = decision.retry
        details = {"pipelineId": run.pipeline_id, "scheduleId": run.schedule_id, "date": run.date,
                   "source": RerunSource.CODE.value, "budget": "maxCodeRetries", "used": failures, "limit": limit,
                   "runId": run.run_id, "reason": "accepted" if allowed else "budget exhausted"}
        cycle = f"{run.pipeline_id} for {run.date}/{run.schedule_id}"
        if allowed:
            await self.ctx.emit(EventKind.RERUN_ACCEPTED, run.pipeline_id, run_id=run.run_id, status="ACCEPTED",
                                schedule_id=run.schedule_id, date=run.date, details=details,
                                message=f"retry of {cycle} after job failure {failures} of {limit} allowed "
                                        "(retry.maxCodeRetries)")
            return
        await self.ctx.emit(EventKind.RERUN_REJECTED, run.pipeline_id, run_id=run.run_id, status="REJECTED",
                            schedule_id=run.schedule_id, date=run.date, details=details,
                            message=f"retry of {cycle} refused: the job failed {failures} times, more than "
                                    f"retry.maxCodeRetries ({limit}) allows retrying")

    async def alert_gave_up(self, pipeline: PipelineConfig, schedule_id: str, date: str, decision: RetryDecision,
                            message: str) -> None:
        """The cycle will not be retried (``decision``, see :func:`~interlock_core.retry.decide_retry`):
        one alert (and event), and the run log remembers it."""
        key = f"gave-up:{pipeline.name}:{schedule_id}:{date}"
        code_budget = decision.code_budget if decision.reason is RetryReason.CODE_BUDGET else None
        if decision.reason is RetryReason.NON_RETRYABLE:
            text = (f"Pipeline {pipeline.name} failed with non-retryable error: {message} "
                    f"({decision.category or 'NONE'})")
        elif code_budget is not None:
            text = (f"Pipeline {pipeline.name}: the job failed {code_budget[0]} times, more than retry.maxCodeRetries "
                    f"({code_budget[1]}) allows retrying: {message}")
        else:
            text = f"Pipeline {pipeline.name} exhausted {decision.max_attempts} retry attempts"
        spent = (f"job failed {code_budget[0]} times (retry.maxCodeRetries {code_budget[1]})"
                 if code_budget is not None else f"exhausted {decision.max_attempts} attempts")
        exhausted = self.ctx.event(EventKind.RETRY_EXHAUSTED, pipeline.name, schedule_id=schedule_id, date=date,
                                   message=spent) if decision.reason is not RetryReason.NON_RETRYABLE else None
        if await self.ctx.alert_once(key, AlertLevel.ERROR, text, pipeline.name, event=exhausted,
                                     details={"scheduleId": schedule_id, "date": date, "attempt": decision.attempt},
                                     schedule_id=schedule_id, date=date):

            def mark(entry: RunLogEntry) -> RunLogEntry:
                entry.alert_sent = True
                return entry

            await update_run_log(self.ctx.store, pipeline.name, date, schedule_id, mark)

    # ------------------------------------------------------------------------------- cascade
    async def cascade(self, run: RunState) -> list[str]:
        """Write a cascade marker for every pipeline whose traits name this one as ``upstreamPipeline``."""
        with span("interlock.cascade", **{"interlock.pipeline": run.pipeline_id, "interlock.run_id": run.run_id,
                                          "interlock.schedule": run.schedule_id, "interlock.date": run.date}) as traced:
            notified = await self._cascade(run)
            traced.set(**{"interlock.notified": len(notified)})
            return notified

    async def _cascade(self, run: RunState) -> list[str]:
        notified = []
        for downstream, schedule_id, date in cascade_targets(await self.ctx.store.list_pipelines(), run):
            await self.ctx.store.write_cascade_marker(CascadeMarker(
                pipeline_id=downstream.name, schedule_id=schedule_id, date=date, source=run.pipeline_id,
                timestamp=self.ctx.clock.now()))
            METRICS.inc("interlock_cascade_markers_total")
            notified.append(f"{downstream.name}/{schedule_id}")
            await self.ctx.wake(downstream.name, "cascade", schedule_id, date)
        if notified:
            await self.ctx.emit(EventKind.CASCADE_NOTIFIED, run.pipeline_id, run_id=run.run_id,
                                schedule_id=run.schedule_id, date=run.date or "",
                                message=f"cascade markers written for {', '.join(notified)}",
                                details={"notified": notified})
        return notified


def cascade_targets(pipelines: list[PipelineConfig], run: RunState) -> list[tuple[PipelineConfig, str, str]]:
    """The downstream cycles a completed ``run`` wakes: for every live pipeline whose traits name the
    run's pipeline as ``upstreamPipeline``, (that pipeline, its schedule — the run's when it has one of
    that name, else its first —, its cycle whose span holds the run's cycle)."""
    targets = []
    for downstream in pipelines:
        if downstream.name == run.pipeline_id or run.pipeline_id not in downstream.upstream_pipelines() \
                or downstream.retired:
            continue
        schedule = downstream.schedule(run.schedule_id) or downstream.resolved_schedules()[0]
        cycle = spanning_cycle(downstream, schedule, run.date) if run.date else ""
        targets.append((downstream, schedule.name, cycle))
    return targets
