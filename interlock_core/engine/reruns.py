"""Reruns (replay of a completed date): recorded in their own ledger, run through the same lifecycle."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import anyio

from ..dates import check_run_date
from ..errors import ConflictError, InvalidTransition, NextStep, NotFoundError, ValidationError
from ..model import (
    AlertLevel,
    EventKind,
    PipelineConfig,
    RerunRecord,
    RerunSource,
    RunInputs,
    RunState,
    RunStatus,
)
from ..schedule import check_cycle
from .budgets import BUDGET_SPENT, BUDGETS, Budgets, RerunRejected, RerunVerdict, budget_limit
from .callbacks import Callbacks
from .context import EngineContext
from .inputs import Inputs
from .outcome import Outcome, RunOutcome
from .records import update_rerun
from .rerun_slot import RerunSlot
from .runs import ACTIVE, Runs

S = RunStatus


class CycleBusy(ConflictError):
    """A rerun was asked for while a run of that cycle (pipeline, schedule, date) is still active."""

    def __init__(self, pipeline_id: str, schedule_id: str, date: str, run: RunState) -> None:
        super().__init__(f"run {run.run_id} of {pipeline_id} for {date}/{schedule_id} is still "
                         f"{run.status.value}; wait for it to end, or cancel it, before requesting a rerun",
                         next_step=NextStep("cancel-run", run.run_id, "cancel it"), pipelineId=pipeline_id,
                         scheduleId=schedule_id, date=date, activeRunId=run.run_id, activeRunStatus=run.status.value)
        self.run = run


class Reruns:
    def __init__(self, ctx: EngineContext, runs: Runs, callbacks: Callbacks) -> None:
        self.ctx = ctx
        self.runs = runs
        self.callbacks = callbacks
        self.slot = RerunSlot(ctx)
        self.inputs = Inputs(ctx)
        self.budgets = Budgets(ctx, self.inputs)

    async def request_rerun(self, pipeline_id: str, original_date: str, reason: str, *,
                            schedule_id: str | None = None, description: str | None = None,
                            metadata: dict[str, Any] | None = None, original_run_id: str | None = None,
                            execute: bool = True, source: RerunSource = RerunSource.MANUAL,
                            force: bool = False, current: RunInputs | None = None,
                            ) -> tuple[RerunRecord, RunOutcome | None]:
        """Record a rerun of ``original_date`` and (unless ``execute`` is False) start it now.
        The rerun bypasses the run-log dedup; readiness still applies. Not ready now: the record stays
        PENDING and the watcher starts it once the pipeline is ready.

        The rerun is judged first (:mod:`.budgets`): its ``source``'s budget for the cycle, and the
        no-new-data breaker unless ``force``. A rejected rerun records nothing: RERUN_REJECTED, and
        :class:`~.budgets.RerunRejected` (409) is raised. ``current``: the cycle's inputs as the
        caller just saw them (else a rerun started here evaluates the traits first, one started
        later reads the stored results)."""
        if not original_date:
            raise ValidationError("originalDate is required", field="originalDate")
        check_run_date(original_date, "originalDate")
        if not reason:
            raise ValidationError("reason is required", field="reason")
        pipeline = await self.ctx.live_pipeline(pipeline_id)
        meta = dict(metadata or {})
        sid = schedule_id or meta.get("scheduleId") or pipeline.resolved_schedules()[0].name
        schedule = pipeline.schedule(str(sid))
        if schedule is None:
            raise ValidationError(f"pipeline {pipeline.name!r} has no schedule {sid!r}", field="scheduleId")
        check_cycle(schedule, original_date, "originalDate")
        sid = str(sid)
        active = await self.runs.active_run(pipeline.name, sid, original_date)
        if active is not None:
            raise CycleBusy(pipeline.name, sid, original_date, active)
        readiness = None
        if current is None and execute and not force and await self._breaker_applies(pipeline, sid, original_date,
                                                                                       source):
            # the breaker compares what the traits say now: evaluated once, and the launch reuses it
            readiness = await self.runs.evaluation.evaluate(pipeline, schedule_id=sid, date=original_date)
            current = await self.inputs.capture(pipeline, sid, original_date, readiness.traits)
        entry = await self.ctx.store.get_run_log(pipeline.name, original_date, sid)
        rerun_id = f"rerun-{pipeline.name}-{uuid.uuid4().hex[:12]}"
        # one rerun of a cycle at a time: of simultaneous requests one takes the slot, the others are
        # refused here, before anything is recorded (a slot whose record never got written, say the
        # store failed in between, is free again after a short grace); the budget is counted with
        # the slot held, so simultaneous requests never overspend it
        await self.slot.take(pipeline.name, sid, original_date, rerun_id)
        try:
            verdict = await self.budgets.judge(pipeline, sid, original_date, source, force=force, current=current)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.slot.give_back(pipeline.name, sid, original_date, rerun_id)
            raise
        if not verdict.accepted:
            await self.slot.give_back(pipeline.name, sid, original_date, rerun_id)
            await self._rejected(verdict)
            raise RerunRejected(verdict)
        if original_run_id is None:
            original_run_id = entry.run_id if entry else None
        never_ran = None if entry is not None else (
            f"{pipeline.name} never ran for {original_date}/{sid}: there is nothing to rerun, so this rerun is "
            "that date's first run (check the date)")
        record = RerunRecord(rerun_id=rerun_id, pipeline_id=pipeline.name, original_date=original_date,
                             schedule_id=sid, original_run_id=original_run_id, reason=reason,
                             description=description, status=S.PENDING, requested_at=self.ctx.clock.now(),
                             metadata=meta, version=1, warning=never_ran, source=source,
                             forced=True if force else None)
        await self.ctx.store.cas_rerun(record, None)
        await self.ctx.emit(EventKind.RERUN_REQUESTED, pipeline.name, schedule_id=sid, date=original_date,
                            message=f"rerun requested for {original_date}: {reason}",
                            details={"rerunId": record.rerun_id, "originalDate": original_date,
                                     "originalRunId": original_run_id, "reason": reason, "source": source.value,
                                     **({"warning": never_ran} if never_ran else {})})
        await self.ctx.emit(EventKind.RERUN_ACCEPTED, pipeline.name, schedule_id=sid, date=original_date,
                            status="ACCEPTED", message=verdict.message,
                            details={"rerunId": record.rerun_id, **verdict.details(), "used": verdict.used + 1})
        if not execute:
            await self.ctx.wake(pipeline.name, "rerun-requested", sid, original_date)
            return record, None
        # started here first, the watcher woken after: woken first, it would race this caller for the claim
        try:
            outcome = await self.runs.start_run(pipeline.name, rerun=record, readiness=readiness)
        finally:
            await self.ctx.wake(pipeline.name, "rerun-requested", sid, original_date)
        record = (await self.ctx.store.get_rerun(record.rerun_id)) or record
        if outcome.outcome in (Outcome.CLAIM_LOST, Outcome.IN_PROGRESS) and record.rerun_run_id:
            run = await self.ctx.store.get_run(record.rerun_run_id)
            if run is not None:  # a watcher started this very rerun at the same moment: it runs once, accepted
                outcome = RunOutcome(Outcome.TRIGGERED, pipeline.name, sid, original_date,
                                     f"run {run.run_id} launched by a watcher starting this rerun at the same "
                                     f"moment: {run.status.value}", run=run, readiness=outcome.readiness,
                                     rerun=record)
        return record, outcome

    async def judge(self, pipeline_id: str, original_date: str, source: RerunSource = RerunSource.MANUAL, *,
                    schedule_id: str | None = None, force: bool = False) -> RerunVerdict:
        """Would a rerun of the cycle be accepted now (budget and breaker)? Reads only, records and
        emits nothing (a dry run asks this; the breaker reads the stored trait results)."""
        pipeline = await self.ctx.pipeline(pipeline_id)
        sid = schedule_id or pipeline.resolved_schedules()[0].name
        return await self.budgets.judge(pipeline, sid, original_date, source, force=force)

    async def _breaker_applies(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                               source: RerunSource) -> bool:
        """Whether judging the rerun will compare inputs (so the traits are worth evaluating first):
        the cycle's last run completed with its inputs recorded, and the budget is not spent already."""
        budget = BUDGETS[source]
        limit = budget_limit(pipeline.retry_policy, budget)
        if limit is not None and await self.budgets.used(pipeline.name, schedule_id, date, budget) >= limit:
            return False  # refused for its budget whatever the traits say
        replaced = await self.inputs.latest_run(pipeline.name, schedule_id, date)
        return replaced is not None and replaced.inputs is not None and \
            replaced.status.is_done

    async def _rejected(self, verdict: RerunVerdict) -> None:
        """RERUN_REJECTED; an automatic source whose budget is spent also alerts, once per cycle."""
        await self.ctx.emit(EventKind.RERUN_REJECTED, verdict.pipeline_id, schedule_id=verdict.schedule_id,
                            date=verdict.date, status="REJECTED", message=verdict.message,
                            details=verdict.details())
        if verdict.reason == BUDGET_SPENT and verdict.source is not RerunSource.MANUAL:
            await self.ctx.alert_once(
                f"rerun-budget:{verdict.pipeline_id}:{verdict.schedule_id}:{verdict.date}:{verdict.budget}",
                AlertLevel.WARNING, f"Pipeline {verdict.pipeline_id}: {verdict.message}", verdict.pipeline_id,
                details=verdict.details())

    async def cancel_rerun(self, rerun_id: str, reason: str = "cancelled") -> RerunRecord:
        """Cancel a rerun that has not started (PENDING). One whose run is under way is cancelled by
        cancelling that run. Idempotent."""
        record = await self.ctx.store.get_rerun(rerun_id)
        if record is None:
            raise NotFoundError(f"rerun {rerun_id!r} not found", rerunId=rerun_id)
        if record.status is S.CANCELLED:
            return record
        if record.status is not S.PENDING:
            running = record.rerun_run_id if record.rerun_run_id and record.status in ACTIVE else None
            raise InvalidTransition(f"rerun {rerun_id} is {record.status.value}; only a PENDING rerun can be "
                                    "cancelled" + (f" (its run {running} can be)" if running else ""),
                                    next_step=NextStep("cancel-run", running, "cancel its run instead")
                                    if running else None, rerunId=rerun_id, status=record.status.value,
                                    rerunRunId=running)
        now = self.ctx.clock.now()

        def cancel(rec: RerunRecord) -> RerunRecord | None:
            if rec.status is not S.PENDING:
                return None
            rec.status = S.CANCELLED
            rec.completed_at = now
            rec.metadata["cancelReason"] = reason
            return rec

        updated = await update_rerun(self.ctx.store, rerun_id, cancel)
        if updated is None or updated.status is not S.CANCELLED:
            current = await self.ctx.store.get_rerun(rerun_id)
            raise InvalidTransition(f"rerun {rerun_id} changed while being cancelled (now "
                                    f"{current.status.value if current else 'gone'}); try again",
                                    rerunId=rerun_id)
        await self.slot.release(updated)
        await self.ctx.emit(EventKind.RERUN_COMPLETED, updated.pipeline_id, status=S.CANCELLED,
                            schedule_id=updated.schedule_id, date=updated.original_date,
                            message=f"rerun {rerun_id} cancelled: {reason}",
                            details={"rerunId": rerun_id, "originalDate": updated.original_date})
        return updated

    async def repair(self, record: RerunRecord, run: RunState | None) -> RerunRecord | None:
        """A claimed rerun whose run ended without the record hearing of it is closed; one whose run
        was never created (its claimer failed between the two writes) is PENDING again once the run
        lease has passed — never left claimed for ever. Returns the record as it is now."""
        if run is not None:
            await self.runs.transitions._sync_rerun(run)
            return await self.ctx.store.get_rerun(record.rerun_id)
        try:
            claimed = datetime.fromisoformat(str(record.metadata.get("claimedAt", "")).replace("Z", "+00:00"))
        except ValueError:
            claimed = record.requested_at
        if self.ctx.clock.now() < claimed + self.ctx.config.run_lease:
            return record  # the claimer may still be about to record its run

        def release(rec: RerunRecord) -> RerunRecord | None:
            if rec.rerun_run_id != record.rerun_run_id or rec.status.is_terminal or rec.status is S.PENDING:
                return None
            rec.status = S.PENDING
            rec.rerun_run_id = None
            # no run, so nothing was launched: the next claim takes the same attempt (same run key)
            rec.metadata["attempts"] = max(int(rec.metadata.get("attempts", 1)) - 1, 0)
            return rec

        return await update_rerun(self.ctx.store, record.rerun_id, release)

    async def start_pending(self, record: RerunRecord) -> RunOutcome:
        return await self.runs.start_run(record.pipeline_id, rerun=record)

    async def complete_rerun(self, rerun_id: str, status: str, metadata: dict[str, Any] | None = None) -> RerunRecord:
        """Complete a rerun. When its run is still active, this completes that run (same as the run's
        own callback); a rerun that never ran can be closed directly. Idempotent."""
        record = await self.ctx.store.get_rerun(rerun_id)
        if record is None:
            raise NotFoundError(f"rerun {rerun_id!r} not found", rerunId=rerun_id)
        word = status.strip().lower()
        if word not in ("success", "failed"):
            raise ValidationError("status must be 'success' or 'failed'", field="status")
        target = S.COMPLETED if word == "success" else S.FAILED
        if record.status == target:
            return record
        if record.status.is_terminal:
            raise InvalidTransition(f"rerun {rerun_id} is already {record.status.value}", rerunId=rerun_id)
        if record.rerun_run_id:
            run = await self.ctx.store.get_run(record.rerun_run_id)
            if run is not None and not run.status.is_terminal:
                await self.callbacks.complete_run(run.run_id, word, metadata)
                return (await self.ctx.store.get_rerun(rerun_id)) or record
        now = self.ctx.clock.now()

        def close(rec: RerunRecord) -> RerunRecord | None:
            if rec.status.is_terminal:
                return None
            rec.status = target
            rec.completed_at = now
            rec.metadata.update(metadata or {})
            return rec

        updated = await update_rerun(self.ctx.store, rerun_id, close)
        assert updated is not None
        await self.slot.release(updated)
        await self.ctx.emit(EventKind.RERUN_COMPLETED, updated.pipeline_id, run_id=updated.rerun_run_id,
                            status=target, message=f"rerun {rerun_id} completed: {word}",
                            details={"rerunId": rerun_id, "originalDate": updated.original_date})
        return updated
