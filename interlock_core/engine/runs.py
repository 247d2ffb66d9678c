"""Starting a run: run-log gate (dedup, retry), readiness, claim, launch, record."""

from __future__ import annotations

import logging
import uuid
from datetime import date as Date
from datetime import timedelta
from typing import Any

import anyio

from ..errors import NotFoundError, StoreUnavailable, TriggerError, VersionConflict
from ..metrics import METRICS
from ..model import (
    EventKind,
    FailureCategory,
    PipelineConfig,
    RerunRecord,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    format_timestamp,
)
from ..ports import LaunchRequest, LaunchResult
from ..retry import backoff, is_retryable
from ..schedule import cycle_date, excluded, schedule_zone
from ..templating import run_variables
from .context import EngineContext
from .evaluation import Evaluation
from .outcome import Outcome, RunOutcome
from .records import update_rerun, update_run
from .transitions import Change, Transitions

log = logging.getLogger("interlock.lifecycle")
S = RunStatus
ABANDONED_CLAIM = "the claim was abandoned before its run was recorded"


def run_key(pipeline_id: str, schedule_id: str, date: str, attempt: int, rerun_id: str | None = None) -> str:
    """Deterministic per (pipeline, schedule, date, attempt): the idempotency key orchestrators get."""
    base = f"{pipeline_id}:{schedule_id}:{date}"
    return f"{base}:{rerun_id}:{attempt}" if rerun_id else f"{base}:{attempt}"


class Runs:
    def __init__(self, ctx: EngineContext, evaluation: Evaluation, transitions: Transitions) -> None:
        self.ctx = ctx
        self.evaluation = evaluation
        self.transitions = transitions

    def resolve_cycle(self, pipeline: PipelineConfig, schedule_id: str | None,
                      date: str | None) -> tuple[ScheduleConfig, str]:
        schedule = pipeline.schedule(schedule_id) if schedule_id else pipeline.resolved_schedules()[0]
        if schedule is None:
            raise NotFoundError(f"pipeline {pipeline.name!r} has no schedule {schedule_id!r}",
                                pipelineId=pipeline.name, scheduleId=schedule_id)
        return schedule, date or cycle_date(self.ctx.clock.now(), schedule_zone(pipeline, schedule))

    # ---------------------------------------------------------------------------- the gate
    async def gate(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                   entry: RunLogEntry | None) -> tuple[RunOutcome | None, RunLogEntry | None]:
        """(None, entry) when a new attempt may start; otherwise (why not, entry). The entry returned
        is one the gate judged: the claim is made against its version, never against a newer one
        (say, another caller's claim written meanwhile, whose run is still being launched)."""
        while True:
            blocked = await self._gate(pipeline, schedule_id, date, entry)
            if blocked is not None:
                return blocked, blocked.run_log
            if entry is None:
                return None, None
            current = await self.ctx.store.get_run_log(pipeline.name, date, schedule_id)
            if current is None or current.version == entry.version:
                return None, current
            entry = current  # repaired by the gate, or changed by another caller: judge it again

    async def _gate(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                    entry: RunLogEntry | None) -> RunOutcome | None:
        if entry is None:
            return None

        def out(outcome: Outcome, message: str, **kw: Any) -> RunOutcome:
            return RunOutcome(outcome, pipeline.name, schedule_id, date, message, run_log=entry, **kw)

        if entry.status in (S.COMPLETED, S.COMPLETED_MONITORING):
            return out(Outcome.DUPLICATE, f"{pipeline.name} already completed for {date}/{schedule_id} "
                       f"(run {entry.run_id}); request a rerun to run it again")
        if not entry.status.is_terminal:
            run = await self.ctx.store.get_run(entry.run_id) if entry.run_id else None
            if run is not None and not run.status.is_terminal:
                return out(Outcome.IN_PROGRESS, f"run {run.run_id} of {pipeline.name} for {date}/{schedule_id} "
                           f"is {run.status.value}", run=run)
            if run is not None:  # the run ended but the log missed it: repair, then gate again
                await self.transitions._sync_run_log(run, Change("reconcile", run.failure_message,
                                                                 run.failure_category))
                entry = await self.ctx.store.get_run_log(pipeline.name, date, schedule_id)
                return await self._gate(pipeline, schedule_id, date, entry)
            # claimed, but its run was never recorded: the claimer may still be about to record it
            if self.ctx.clock.now() < entry.updated_at + self.ctx.config.run_lease:
                return out(Outcome.IN_PROGRESS, f"attempt {entry.attempt_number} of {pipeline.name} for "
                           f"{date}/{schedule_id} was claimed and is being launched")
            return await self._gate(pipeline, schedule_id, date, await self._abandon(entry))
        if entry.status is S.CANCELLED:
            return out(Outcome.NON_RETRYABLE, f"the cycle {date}/{schedule_id} was cancelled "
                       f"(run {entry.run_id}); request a rerun to run it again")
        policy = pipeline.retry_policy
        if not is_retryable(policy, entry.failure_category) and entry.status is S.FAILED:
            if not entry.alert_sent:
                await self.transitions.alert_gave_up(pipeline, schedule_id, date, entry.attempt_number,
                                                     entry.failure_category, entry.failure_message or "")
            return out(Outcome.NON_RETRYABLE, f"last attempt failed with a non-retryable error "
                       f"({entry.failure_category or 'uncategorised'}): {entry.failure_message}")
        if entry.attempt_number >= policy.max_attempts:
            if not entry.alert_sent:
                await self.transitions.alert_gave_up(pipeline, schedule_id, date, entry.attempt_number,
                                                     entry.failure_category, entry.failure_message or "")
            return out(Outcome.EXHAUSTED, f"all {policy.max_attempts} attempts failed for {date}/{schedule_id}")
        retry_at = entry.updated_at + backoff(policy, entry.attempt_number)
        if self.ctx.clock.now() < retry_at:
            return out(Outcome.BACKOFF, f"attempt {entry.attempt_number} failed; the next one waits until "
                       f"{retry_at.isoformat()}", retry_at=retry_at)
        return None

    async def _abandon(self, entry: RunLogEntry) -> RunLogEntry | None:
        """Fail a claim whose run was never recorded (its claimer died first), so the retry policy decides."""
        now = self.ctx.clock.now()
        failed = entry.model_copy(deep=True)
        failed.status = S.FAILED
        failed.failure_category = FailureCategory.TRANSIENT
        failed.failure_message = ABANDONED_CLAIM
        failed.updated_at = now
        failed.completed_at = now
        failed.version = entry.version + 1
        if await self.ctx.store.cas_run_log(failed, entry.version):
            return failed
        return await self.ctx.store.get_run_log(entry.pipeline_id, entry.date, entry.schedule_id)

    # ---------------------------------------------------------------------------- start_run
    async def start_run(self, pipeline_id: str, schedule_id: str | None = None, date: str | None = None, *,
                        rerun: RerunRecord | None = None) -> RunOutcome:
        """Gate, evaluate, claim, launch, record — the one way any entry point starts a job."""
        pipeline = await self.ctx.pipeline(pipeline_id)
        schedule, day = self.resolve_cycle(pipeline, schedule_id or (rerun.schedule_id if rerun else None),
                                           rerun.original_date if rerun else date)
        sid = schedule.name
        if pipeline.trigger is None:
            return RunOutcome(Outcome.NO_TRIGGER, pipeline.name, sid, day,
                              f"pipeline {pipeline.name} has no trigger configured")
        if rerun is None and excluded(pipeline, Date.fromisoformat(day), self.ctx.calendars):
            return RunOutcome(Outcome.EXCLUDED, pipeline.name, sid, day,
                              f"{day} is excluded by {pipeline.name}'s calendar; request a rerun to run it anyway")
        entry = None
        if rerun is None:
            blocked, entry = await self.gate(pipeline, sid, day,
                                             await self.ctx.store.get_run_log(pipeline.name, day, sid))
            if blocked is not None:
                return blocked
        readiness = await self.evaluation.evaluate(pipeline, schedule_id=sid, date=day)
        if not readiness.ready:
            return RunOutcome(Outcome.NOT_READY, pipeline.name, sid, day,
                              f"{pipeline.name} is not ready: blocked by {', '.join(readiness.blocking)}",
                              readiness=readiness, run_log=entry, rerun=rerun)
        run = await self._claim(pipeline, sid, day, entry, rerun)
        if run is None:
            return RunOutcome(Outcome.CLAIM_LOST, pipeline.name, sid, day,
                              f"another caller already claimed this cycle of {pipeline.name}", readiness=readiness)
        run = await self._launch(pipeline, run)
        log_entry = None if rerun else await self.ctx.store.get_run_log(pipeline.name, day, sid)
        rec = await self.ctx.store.get_rerun(rerun.rerun_id) if rerun else None
        return RunOutcome(Outcome.TRIGGERED, pipeline.name, sid, day,
                          f"run {run.run_id} launched: {run.status.value}", run=run, readiness=readiness,
                          run_log=log_entry, rerun=rec)

    async def _claim(self, pipeline: PipelineConfig, schedule_id: str, date: str, entry: RunLogEntry | None,
                     rerun: RerunRecord | None) -> RunState | None:
        now = self.ctx.clock.now()
        run_id = f"{pipeline.name}-{uuid.uuid4().hex[:16]}"
        assert pipeline.trigger is not None
        if rerun is None:
            attempt = (entry.attempt_number + 1) if entry else 1
            claim = RunLogEntry(pipeline_id=pipeline.name, date=date, schedule_id=schedule_id, status=S.TRIGGERING,
                                attempt_number=attempt, run_id=run_id,
                                retry_history=list(entry.retry_history) if entry else [],
                                started_at=now, updated_at=now, version=(entry.version + 1) if entry else 1)
            if not await self.ctx.store.cas_run_log(claim, entry.version if entry else None):
                return None
        else:
            attempt = int(rerun.metadata.get("attempts", 0)) + 1

            def take(record: RerunRecord) -> RerunRecord | None:
                if record.status not in (S.PENDING, S.FAILED) or record.version != rerun.version:
                    return None
                record.status = S.TRIGGERING
                record.rerun_run_id = run_id
                record.metadata["attempts"] = attempt
                record.metadata["claimedAt"] = format_timestamp(now)
                return record

            taken = await update_rerun(self.ctx.store, rerun.rerun_id, take)
            if taken is None or taken.rerun_run_id != run_id:
                return None
        run = RunState(run_id=run_id, pipeline_id=pipeline.name, status=S.TRIGGERING, version=1, created_at=now,
                       updated_at=now, schedule_id=schedule_id, date=date, attempt=attempt,
                       run_key=run_key(pipeline.name, schedule_id, date, attempt, rerun.rerun_id if rerun else None),
                       trigger_type=pipeline.trigger.type, rerun_id=rerun.rerun_id if rerun else None,
                       owner=self.ctx.owner, lease_expires_at=now + self.ctx.config.run_lease,
                       metadata={"scheduleId": schedule_id})
        await self.ctx.store.create_run(run)
        await self.ctx.emit(EventKind.RUN_STATE_CHANGED, pipeline.name, run_id=run_id, status=S.TRIGGERING,
                            schedule_id=schedule_id, date=date,
                            message=f"trigger lock acquired (attempt {attempt})")
        return run

    async def _renew_lease(self, run_id: str) -> None:
        lease = self.ctx.config.run_lease
        while True:
            await anyio.sleep(max(lease.total_seconds() / 3, 0.05))

            def renew(run: RunState) -> RunState | None:
                if run.status is not S.TRIGGERING or run.owner != self.ctx.owner:
                    return None
                run.lease_expires_at = self.ctx.clock.now() + lease
                return run

            try:
                await update_run(self.ctx.store, run_id, renew)
            except (StoreUnavailable, VersionConflict) as exc:
                # never cancel the launch in flight for this: a lapsed lease only means reconciliation
                log.warning("could not renew the lease of run %s: %s", run_id, exc.message)

    async def _launch(self, pipeline: PipelineConfig, run: RunState) -> RunState:
        assert pipeline.trigger is not None and run.run_key is not None and run.date is not None
        spec = pipeline.trigger
        request = LaunchRequest(
            pipeline_id=pipeline.name, run_id=run.run_id, run_key=run.run_key, schedule_id=run.schedule_id,
            date=run.date, attempt=run.attempt,
            variables=run_variables(pipeline.name, run.schedule_id, run.date, run.run_id, run.run_key, run.attempt),
            callback_url=f"{self.ctx.callback_base_url}/api/runs/{run.run_id}/complete"
            if self.ctx.callback_base_url else None,
        )
        result: LaunchResult | None = None
        error: BaseException | None = None
        try:
            trigger = self.ctx.triggers.get(spec.type)
            config = self.ctx.triggers.cls(spec.type).config_model.model_validate(spec.options())
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew_lease, run.run_id)
                try:
                    result = await trigger.launch(config, request)
                except Exception as exc:  # kept out of the task group so it is not wrapped
                    error = exc
                finally:
                    tg.cancel_scope.cancel()
        except Exception as exc:
            error = error or exc
        with anyio.CancelScope(shield=True):
            recorded = await self._record_launch(pipeline, run, result, error)
        return recorded

    async def _record_launch(self, pipeline: PipelineConfig, run: RunState, result: LaunchResult | None,
                             error: BaseException | None) -> RunState:
        spec_type = pipeline.trigger.type if pipeline.trigger else "none"
        if error is not None or result is None or result.state == "failed":
            if isinstance(error, TriggerError):
                category, message = error.category, error.message
            elif error is not None:
                category, message = FailureCategory.TRANSIENT, f"trigger error: {error}"
            else:
                assert result is not None
                category = result.failure_category or FailureCategory.TRANSIENT
                message = result.message or "the job failed"
            METRICS.inc("interlock_triggers_total", type=spec_type, outcome="failed")
            target, change = S.FAILED, Change("launch", message, category, result.metadata if result else None)
        else:
            METRICS.inc("interlock_triggers_total", type=spec_type, outcome=result.state)
            target = self.transitions.target_for_success(pipeline) if result.state == "succeeded" else S.RUNNING
            change = Change("launch", result.message, None, result.metadata)
        updated, _ = await self.transitions.move(run.run_id, target, change)
        return updated or run

    async def retry_in(self, pipeline: PipelineConfig, entry: RunLogEntry) -> timedelta:
        return backoff(pipeline.retry_policy, entry.attempt_number)
