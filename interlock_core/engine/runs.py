"""Starting a run: run-log gate (dedup, retry), readiness, claim, launch, record."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import anyio

from ..config.registration import expanded_values, trigger_environment
from ..cycles import cycle_day
from ..dates import check_run_date
from ..errors import LaunchOutcomeUnknown, NotFoundError, StoreUnavailable, TriggerError, VersionConflict
from ..expanded import EXPANDED, expanded_scope
from ..launch_keys import run_key
from ..metrics import METRICS
from ..model import (
    EventKind,
    FailureCategory,
    PipelineConfig,
    PipelineOrigin,
    ReadinessResult,
    RerunRecord,
    RunInputs,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    format_timestamp,
)
from ..outbound import untrusted_target
from ..ports import LaunchRequest, LaunchResult
from ..retry import backoff, is_retryable
from ..schedule import check_cycle, current_cycle, excluded
from ..templating import run_variables
from ..tracing import inject, span
from .budgets import code_retries
from .context import EngineContext
from .dry_run import DryRun
from .evaluation import Evaluation
from .inputs import Inputs
from .outcome import Outcome, RunOutcome
from .records import update_rerun, update_run
from .rerun_slot import RERUN_SCAN_LIMIT
from .transitions import Change, Transitions

__all__ = ["Runs", "cycle_lease_key", "next_attempt", "run_key"]

log = logging.getLogger("interlock.lifecycle")
S = RunStatus
ACTIVE = frozenset({S.PENDING, S.TRIGGERING, S.RUNNING})
"""A run in one of these is still doing its job (COMPLETED_MONITORING is done; only watched)."""

RERUN_CLAIM_TTL = 30.0
"""Seconds a rerun claim holds its cycle's claim lease at most (released as soon as the run exists)."""
MAX_RELAUNCHES = 3
"""How often a run orphaned TRIGGERING is relaunched under its run key before it is failed."""
ABANDONED_CLAIM = "the claim was abandoned before its run was recorded; the attempt is claimed again"


def cycle_lease_key(pipeline_id: str, schedule_id: str) -> str:
    """The lease an orchestration (a state machine execution) holds while it looks after a cycle."""
    return f"cycle:{pipeline_id}:{schedule_id}"


def next_attempt(entry: RunLogEntry | None) -> int:
    """The attempt a claim of the cycle takes: the next one, or the same one again when the last
    claim was abandoned before its run was recorded (PENDING), so its run key is reused."""
    if entry is None:
        return 1
    return entry.attempt_number if entry.status is S.PENDING else entry.attempt_number + 1


def _rerun_waits(pipeline_id: str, schedule_id: str, date: str, active: RunState, rerun: RerunRecord,
                 readiness: ReadinessResult | None) -> RunOutcome:
    return RunOutcome(Outcome.IN_PROGRESS, pipeline_id, schedule_id, date,
                      f"run {active.run_id} of {pipeline_id} for {date}/{schedule_id} is {active.status.value}; "
                      "the rerun waits for it to end", run=active, readiness=readiness, rerun=rerun)


class Runs:
    def __init__(self, ctx: EngineContext, evaluation: Evaluation, transitions: Transitions) -> None:
        self.ctx = ctx
        self.evaluation = evaluation
        self.transitions = transitions
        self.dry_run = DryRun(ctx)
        self.inputs = Inputs(ctx)

    def resolve_cycle(self, pipeline: PipelineConfig, schedule_id: str | None,
                      date: str | None) -> tuple[ScheduleConfig, str]:
        schedule = pipeline.schedule(schedule_id) if schedule_id else pipeline.resolved_schedules()[0]
        if schedule is None:
            raise NotFoundError(f"pipeline {pipeline.name!r} has no schedule {schedule_id!r}",
                                pipelineId=pipeline.name, scheduleId=schedule_id)
        if date:
            check_run_date(date)
            check_cycle(schedule, date)
        return schedule, date or current_cycle(pipeline, schedule, self.ctx.clock.now())

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
        if entry.status is S.PENDING:
            return None  # an abandoned claim: its attempt is claimed again, under the same run key
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
        if entry.status is S.SKIPPED:
            return out(Outcome.SKIPPED, f"the cycle {date}/{schedule_id} was skipped "
                       f"({entry.failure_message or 'onDeadline: skip'}); request a rerun to run it")
        if entry.status is S.CANCELLED:
            return out(Outcome.NON_RETRYABLE, f"the cycle {date}/{schedule_id} was cancelled "
                       f"(run {entry.run_id}); request a rerun to run it again")
        policy = pipeline.retry_policy
        if not is_retryable(policy, entry.failure_category) and entry.status is S.FAILED:
            if not entry.alert_sent:
                await self.transitions.alert_gave_up(pipeline, schedule_id, date, entry.attempt_number,
                                                     entry.failure_category, entry.failure_message or "")
            return out(Outcome.NON_RETRYABLE, f"last attempt failed with a non-retryable error "
                       f"({entry.failure_category or 'uncategorised'}): {entry.failure_message}; "
                       "request a rerun to run it again")
        code = code_retries(policy, entry) if entry.status is S.FAILED else None
        if code is not None and not code[0]:
            if not entry.alert_sent:
                await self.transitions.alert_gave_up(pipeline, schedule_id, date, entry.attempt_number,
                                                     entry.failure_category, entry.failure_message or "",
                                                     code_budget=code[1:])
            return out(Outcome.EXHAUSTED, f"the job failed {code[1]} times for {date}/{schedule_id}, more than "
                       f"retry.maxCodeRetries ({code[2]}) allows retrying; request a rerun to run it again")
        if entry.attempt_number >= policy.max_attempts:
            if not entry.alert_sent:
                await self.transitions.alert_gave_up(pipeline, schedule_id, date, entry.attempt_number,
                                                     entry.failure_category, entry.failure_message or "")
            return out(Outcome.EXHAUSTED, f"all {policy.max_attempts} attempts failed for {date}/{schedule_id}; "
                       "request a rerun to run it again")
        retry_at = entry.updated_at + backoff(policy, entry.attempt_number)
        if self.ctx.clock.now() < retry_at:
            return out(Outcome.BACKOFF, f"attempt {entry.attempt_number} failed; the next one waits until "
                       f"{retry_at.isoformat()}", retry_at=retry_at)
        return None

    async def active_run(self, pipeline_id: str, schedule_id: str, date: str) -> RunState | None:
        """A run of the cycle (its scheduled attempt or any rerun) that is still doing its job."""
        runs = await self.active_runs(pipeline_id, schedule_id, date)
        return runs[0] if runs else None

    async def active_runs(self, pipeline_id: str, schedule_id: str, date: str) -> list[RunState]:
        """Every run of the cycle (its scheduled attempt and its reruns) still doing its job."""
        candidates: list[str] = []
        entry = await self.ctx.store.get_run_log(pipeline_id, date, schedule_id)
        if entry is not None and entry.run_id and not entry.status.is_terminal:
            candidates.append(entry.run_id)
        for record in await self.ctx.store.list_reruns(pipeline_id, RERUN_SCAN_LIMIT):
            if (record.original_date == date and record.schedule_id == schedule_id and record.rerun_run_id
                    and not record.status.is_terminal):
                candidates.append(record.rerun_run_id)
        active: list[RunState] = []
        for run_id in dict.fromkeys(candidates):
            run = await self.ctx.store.get_run(run_id)
            if run is not None and run.status in ACTIVE:
                active.append(run)
        return active

    async def _abandon(self, entry: RunLogEntry) -> RunLogEntry | None:
        """Release a claim whose run was never recorded (its claimer died before launching): the
        entry is PENDING again with the same attempt, so the next claim launches under the same
        run key and no retry is spent on a job that never started."""
        now = self.ctx.clock.now()
        released = entry.model_copy(deep=True)
        released.status = S.PENDING
        released.failure_message = ABANDONED_CLAIM
        released.updated_at = now
        released.version = entry.version + 1
        if await self.ctx.store.cas_run_log(released, entry.version):
            return released
        return await self.ctx.store.get_run_log(entry.pipeline_id, entry.date, entry.schedule_id)

    # ---------------------------------------------------------------------------- start_run
    async def start_run(self, pipeline_id: str, schedule_id: str | None = None, date: str | None = None, *,
                        rerun: RerunRecord | None = None, readiness: ReadinessResult | None = None,
                        force: bool = False, degraded: str | None = None) -> RunOutcome:
        """Gate, evaluate, claim, launch, record — the one way any entry point starts a job.
        ``readiness``: an evaluation of this very cycle its caller has just made (a rerun request
        judging its inputs), used instead of evaluating again. ``force`` (a backfill's ``--force``):
        launch whatever the readiness rule says — the traits are still evaluated and recorded as the
        run's inputs, and the run log gate (dedup, retries) still holds; a dry-run pipeline never
        launches. ``degraded``: why the job runs although the cycle is not ready (``onDeadline:
        trigger``); the run is marked degraded."""
        pipeline = await self.ctx.live_pipeline(pipeline_id)
        schedule, day = self.resolve_cycle(pipeline, schedule_id or (rerun.schedule_id if rerun else None),
                                           rerun.original_date if rerun else date)
        sid = schedule.name
        if pipeline.trigger is None:
            return RunOutcome(Outcome.NO_TRIGGER, pipeline.name, sid, day,
                              f"pipeline {pipeline.name} has no trigger configured")
        if rerun is None and excluded(pipeline, cycle_day(day), self.ctx.calendars):
            return RunOutcome(Outcome.EXCLUDED, pipeline.name, sid, day,
                              f"{day} is excluded by {pipeline.name}'s calendar; request a rerun to run it anyway")
        entry = None
        if rerun is not None:
            active = await self.active_run(pipeline.name, sid, day)
            if active is not None:  # never two runs of one cycle at once
                return _rerun_waits(pipeline.name, sid, day, active, rerun, None)
        if rerun is None:
            blocked, entry = await self.gate(pipeline, sid, day,
                                             await self.ctx.store.get_run_log(pipeline.name, day, sid))
            if blocked is not None:
                return blocked
        if pipeline.dry_run:
            settled = await self.dry_run.settled(pipeline, sid, day)
            if settled is not None:
                return settled
        if readiness is None or readiness.schedule_id != sid or readiness.date != day:
            readiness = await self.evaluation.evaluate(pipeline, schedule_id=sid, date=day)
        if pipeline.dry_run:
            if readiness.ready:
                return await self.dry_run.ready(pipeline, sid, day, readiness)
            await self.dry_run.not_ready(pipeline, sid, day, readiness)
        if not readiness.ready and degraded is None and (not force or pipeline.dry_run):
            return RunOutcome(Outcome.NOT_READY, pipeline.name, sid, day,
                              f"{pipeline.name} is not ready: blocked by {', '.join(readiness.blocking)}",
                              readiness=readiness, run_log=entry, rerun=rerun)
        await self.ctx.live_pipeline(pipeline.name)  # retired or removed while evaluated: launch nothing
        inputs = await self.inputs.capture(pipeline, sid, day, readiness.traits)
        if rerun is None:
            forced = {"forced": True, "blocking": list(readiness.blocking)} if not readiness.ready and force else None
            run = await self._claim(pipeline, sid, day, entry, None, inputs, forced, degraded=degraded)
        else:
            busy, run = await self._claim_rerun(pipeline, sid, day, rerun, inputs)
            if busy is not None:
                return _rerun_waits(pipeline.name, sid, day, busy, rerun, readiness)
        if run is None:
            return RunOutcome(Outcome.CLAIM_LOST, pipeline.name, sid, day,
                              f"another caller already claimed this cycle of {pipeline.name}", readiness=readiness,
                              rerun=await self.ctx.store.get_rerun(rerun.rerun_id) if rerun else None)
        run = await self._launch(pipeline, run)
        log_entry = None if rerun else await self.ctx.store.get_run_log(pipeline.name, day, sid)
        rec = await self.ctx.store.get_rerun(rerun.rerun_id) if rerun else None
        return RunOutcome(Outcome.TRIGGERED, pipeline.name, sid, day,
                          f"run {run.run_id} launched: {run.status.value}", run=run, readiness=readiness,
                          run_log=log_entry, rerun=rec)

    async def _claim_rerun(self, pipeline: PipelineConfig, schedule_id: str, date: str, rerun: RerunRecord,
                           inputs: RunInputs | None = None) -> tuple[RunState | None, RunState | None]:
        """Claim ``rerun`` unless a run of its cycle is active: ``(active run, None)`` or ``(None, the
        claimed run or None when the claim was lost)``. One rerun of a cycle is recorded at a time (the
        rerun slot, see :mod:`.rerun_slot`), but the one rerun may be started by its requester and by a
        watcher at the same moment, and a scheduled run may start meanwhile: the active-run check is
        made again, and the run created, under a short per-cycle store lease, and the record itself is
        taken by CAS, so whoever claims second sees the first one's run."""
        key = f"rerun-claim:{pipeline.name}:{schedule_id}:{date}"
        owner = f"{self.ctx.owner}:{uuid.uuid4().hex}"
        if not await self.ctx.store.acquire_lease(key, owner, RERUN_CLAIM_TTL):
            holder = await self.active_run(pipeline.name, schedule_id, date)
            if holder is not None:
                return holder, None
            return None, None  # another claim of this cycle is being made right now
        try:
            active = await self.active_run(pipeline.name, schedule_id, date)
            if active is not None:
                return active, None
            return None, await self._claim(pipeline, schedule_id, date, None, rerun, inputs)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self.ctx.store.release_lease(key, owner)
                except StoreUnavailable as exc:  # it lapses by itself within RERUN_CLAIM_TTL
                    log.warning("could not release %s: %s", key, exc.message)

    async def _claim(self, pipeline: PipelineConfig, schedule_id: str, date: str, entry: RunLogEntry | None,
                     rerun: RerunRecord | None, inputs: RunInputs | None = None,
                     metadata: dict[str, Any] | None = None, *, degraded: str | None = None) -> RunState | None:
        """Claim the cycle (its run log, or ``rerun``'s record) and create its run, which records
        ``inputs``: what it is launched with (the breaker and late data compare with them), and
        ``metadata`` besides its schedule (a forced launch says so)."""
        store_identity = await self.ctx.store.store_identity()  # read before anything is claimed
        now = self.ctx.clock.now()
        run_id = f"{pipeline.name}-{uuid.uuid4().hex[:16]}"
        assert pipeline.trigger is not None
        if rerun is None:
            attempt = next_attempt(entry)
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
                       run_key=run_key(store_identity, pipeline.name, schedule_id, date, attempt,
                                       rerun.rerun_id if rerun else None),
                       trigger_type=pipeline.trigger.type, rerun_id=rerun.rerun_id if rerun else None,
                       owner=self.ctx.owner, lease_expires_at=now + self.ctx.config.run_lease,
                       metadata={"scheduleId": schedule_id, **(metadata or {}),
                                 **({"degradedReason": degraded} if degraded else {})},
                       inputs=inputs, degraded=True if degraded else None)
        await self.ctx.store.create_run(run)
        await self.ctx.emit(EventKind.RUN_STATE_CHANGED, pipeline.name, run_id=run_id, status=S.TRIGGERING,
                            schedule_id=schedule_id, date=date,
                            message=f"trigger lock acquired (attempt {attempt})"
                                    + (f"; degraded: {degraded}" if degraded else ""))
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
        assert pipeline.trigger is not None
        with span("interlock.launch", "client", **{
                "interlock.pipeline": pipeline.name, "interlock.run_id": run.run_id,
                "interlock.schedule": run.schedule_id, "interlock.date": run.date,
                "interlock.trigger_type": pipeline.trigger.type, "interlock.attempt": run.attempt,
                "interlock.relaunch": int(run.metadata.get("relaunches", 0))}) as traced:
            recorded = await self._launch_traced(pipeline, run)
            if traced.recording:
                traced.set(**{"interlock.status": recorded.status.value,
                              "interlock.failure_category": recorded.failure_category.value
                              if recorded.failure_category else None})
                if recorded.status is S.FAILED:
                    traced.error(f"launch failed ({recorded.failure_category or 'uncategorised'})")
            return recorded

    async def _launch_traced(self, pipeline: PipelineConfig, run: RunState) -> RunState:
        assert pipeline.trigger is not None and run.run_key is not None and run.date is not None
        spec = pipeline.trigger
        callback_url = f"{self.ctx.callback_base_url}/api/runs/{run.run_id}/complete" \
            if self.ctx.callback_base_url else None
        request = LaunchRequest(
            pipeline_id=pipeline.name, run_id=run.run_id, run_key=run.run_key, schedule_id=run.schedule_id,
            date=run.date, attempt=run.attempt, relaunch=int(run.metadata.get("relaunches", 0)),
            variables=run_variables(pipeline.name, run.schedule_id, run.date, run.run_id, run.run_key, run.attempt,
                                    callback_url or "", degraded=bool(run.degraded)),
            callback_url=callback_url,
            environment=trigger_environment(pipeline, self.ctx.api_allowed_env),
            trace_context=inject({}),
        )
        expanded = expanded_values(pipeline, self.ctx.api_allowed_env)
        EXPANDED.remember(pipeline.name, expanded)  # never stored, never logged (see interlock_core.expanded)
        result: LaunchResult | None = None
        error: BaseException | None = None
        try:
            trigger = self.ctx.triggers.get(spec.type)
            config = self.ctx.triggers.cls(spec.type).config_model.model_validate(spec.options())
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew_lease, run.run_id)
                try:
                    with untrusted_target(pipeline.origin is PipelineOrigin.API), expanded_scope(expanded):
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

    async def reconcile(self, run_id: str) -> RunState:
        """A run left TRIGGERING by an owner whose lease expired: it crashed between claiming and
        recording the launch outcome, so the job may or may not have started. The run is taken
        over and launched again under the SAME run key, which every trigger hands the orchestrator
        as its idempotency key: a job that did start is adopted, never started a second time, and
        no retry is spent. After ``MAX_RELAUNCHES`` relaunches without an outcome, or when the
        pipeline's trigger is gone or changed, it is failed as TRANSIENT and the retry policy decides."""
        run = await self.ctx.store.get_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id!r} not found", runId=run_id)
        now = self.ctx.clock.now()
        if run.status is not S.TRIGGERING or (run.lease_expires_at is not None and run.lease_expires_at > now):
            return run
        lost = f"owner {run.owner} lost its lease before recording the launch outcome"
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        relaunches = int(run.metadata.get("relaunches", 0))
        reason = None
        if pipeline is None or pipeline.trigger is None or pipeline.trigger.type != run.trigger_type:
            reason = "its pipeline's trigger is gone or changed, so it is not relaunched"
        elif pipeline.retired:
            reason = "its pipeline is retired (its file was deleted), so it is not relaunched"
        elif relaunches >= MAX_RELAUNCHES:
            reason = f"relaunched {relaunches} times under run key {run.run_key} without an outcome"
        if reason is not None or pipeline is None:
            updated, _ = await self.transitions.move(
                run_id, S.FAILED, Change("reconcile", f"{lost}; {reason}", FailureCategory.TRANSIENT))
            return updated or run
        took = False

        def take(current: RunState) -> RunState | None:
            nonlocal took
            took = (current.status is S.TRIGGERING and current.owner == run.owner
                    and (current.lease_expires_at is None or current.lease_expires_at <= now))
            if not took:
                return None  # another replica took it over (or it was recorded) meanwhile
            current.owner = self.ctx.owner
            current.lease_expires_at = now + self.ctx.config.run_lease
            current.updated_at = now
            current.metadata["relaunches"] = int(current.metadata.get("relaunches", 0)) + 1
            return current

        taken = await update_run(self.ctx.store, run_id, take)
        if taken is None or not took:
            return taken or run
        METRICS.inc("interlock_relaunches_total")
        await self.ctx.emit(EventKind.RUN_RECONCILED, run.pipeline_id, run_id=run_id, status=S.TRIGGERING,
                            schedule_id=run.schedule_id, date=run.date,
                            message=f"{lost}; relaunched under the same run key {run.run_key}",
                            details={"runKey": run.run_key, "relaunch": taken.metadata["relaunches"]})
        return await self._launch(pipeline, taken)

    async def _record_launch(self, pipeline: PipelineConfig, run: RunState, result: LaunchResult | None,
                             error: BaseException | None) -> RunState:
        spec_type = pipeline.trigger.type if pipeline.trigger else "none"
        if isinstance(error, LaunchOutcomeUnknown):
            return await self._launch_unknown(run, spec_type, error)
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
            # the launch ran the job (a command) and it failed: the job's own failure, not the launch's
            target, change = S.FAILED, Change("launch", message, category, result.metadata if result else None,
                                              job_failure=error is None and result is not None)
        else:
            METRICS.inc("interlock_triggers_total", type=spec_type, outcome=result.state)
            target = self.transitions.target_for_success(pipeline) if result.state == "succeeded" else S.RUNNING
            change = Change("launch", result.message, None, result.metadata)
        updated, _ = await self.transitions.move(run.run_id, target, change)
        return updated or run

    async def _launch_unknown(self, run: RunState, spec_type: str, error: LaunchOutcomeUnknown) -> RunState:
        """A job holds the run key but could not be checked to be ours: nothing is recorded, as if
        the launcher had crashed. The run stays TRIGGERING; once its lease lapses it is relaunched
        under the same key (:meth:`reconcile`), which adopts the job if it proves to be this run's."""
        METRICS.inc("interlock_triggers_total", type=spec_type, outcome="unknown")
        log.warning("run %s: %s", run.run_id, error.message)
        await self.ctx.emit(EventKind.TRIGGER_FAILED, run.pipeline_id, run_id=run.run_id, status=S.TRIGGERING,
                            schedule_id=run.schedule_id, date=run.date, message=error.message,
                            details={"runKey": run.run_key, "outcome": "unknown"})
        return await self.ctx.store.get_run(run.run_id) or run

    async def retry_in(self, pipeline: PipelineConfig, entry: RunLogEntry) -> timedelta:
        return backoff(pipeline.retry_policy, entry.attempt_number)
