"""Starting a run: run-log gate (dedup, retry), readiness, claim, launch, record. The gate lives in
:mod:`.run_gate`, the launch and its reconciliation in :mod:`.launches`; :class:`Runs` joins them."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import anyio

from ..cycles import cycle_day
from ..dates import check_run_date
from ..errors import NotFoundError, StoreUnavailable
from ..launch_keys import run_key
from ..model import (
    EventKind,
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunInputs,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    format_timestamp,
)
from ..schedule import check_cycle, current_cycle, excluded
from .context import EngineContext
from .dry_run import DryRun
from .evaluation import Evaluation
from .inputs import Inputs
from .launches import MAX_RELAUNCHES, Launches
from .outcome import Outcome, RunOutcome
from .records import update_rerun
from .run_gate import ABANDONED_CLAIM, ACTIVE, RunGate
from .transitions import Transitions

__all__ = ["ABANDONED_CLAIM", "ACTIVE", "MAX_RELAUNCHES", "Runs", "cycle_lease_key", "next_attempt", "run_key"]

log = logging.getLogger("interlock.lifecycle")
S = RunStatus

RERUN_CLAIM_TTL = 30.0
"""Seconds a rerun claim holds its cycle's claim lease at most (released as soon as the run exists)."""


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


class Runs(RunGate, Launches):
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

