"""The lifecycle one step at a time, for an orchestrator outside the process (AWS Step Functions).

``Runs.start_run`` drives a cycle in one call. A state machine needs the same lifecycle cut into
steps, so that trait evaluation can fan out in a Map state and waits happen between invocations.
Every step here is a thin wrapper over the engine parts the local path uses — ``Runs.gate`` (so
attempt numbers are those of local mode), ``Evaluation`` (trait results stored and evented the
same way), ``apply_rule``, ``SLAChecks``, ``Runs._claim``/``Runs._launch``, ``Callbacks``,
``Transitions.cascade``, ``Monitoring.check`` and ``Reruns`` — never a second copy of the rules.

A step returns a :class:`Step`: ``proceed`` or ``skip`` with a JSON payload. Errors are exceptions
of the core tree (unknown pipeline, store unavailable …) for the orchestrator's retry/catch logic.

The orchestrator owns the cycle through the same lease the watcher takes (``cycle:<p>:<s>``),
held by the execution's name. Steps that precede a wait renew it for that wait plus a margin, so
the lease outlives polling, backoff and monitoring without being held for hours after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..archetypes import ResolvedTrait
from ..cycles import cycle_day
from ..dates import check_run_date
from ..errors import NotFoundError
from ..model import (
    FailureCategory,
    PipelineConfig,
    RerunRecord,
    RerunSource,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    TraitEvaluation,
    TraitStatus,
)
from ..schedule import deadlines, excluded, has_cycle, is_schedule_active, next_window, schedule_zone
from .budgets import DRIFT_REASON, RerunRejected
from .outcome import Outcome
from .records import update_run
from .rerun_slot import RerunExists
from .runs import next_attempt
from .steps_base import (
    LEASE_TTL,
    POLL_WINDOW,
    CycleLeaseLost,
    CycleRef,
    Step,
    StepsBase,
    ceil_seconds,
    run_state_word,
    skipped,
    trait_result,
)
from .steps_run import RunSteps

__all__ = ["DRIFT_REASON", "LEASE_TTL", "POLL_WINDOW", "REPLAY_REASON", "CycleLeaseLost", "CycleRef", "Step",
           "Steps", "StepsBase", "run_state_word"]

S = RunStatus
REPLAY_REASON = "replay requested"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def retired_reason(pipeline: PipelineConfig) -> str:
    return f"pipeline {pipeline.name} is retired (its file was deleted): nothing new starts"


class Steps(RunSteps):
    """The step operations over one engine (see the module documentation)."""

    async def resolve_cycle(self, pipeline_id: str, schedule_id: str | None = None, date: str | None = None,
                            *, replay: bool = False, rerun_id: str | None = None) -> CycleRef:
        """The cycle a request names: the first schedule and the schedule zone's today by default;
        a rerun's own pipeline, schedule and original date."""
        if rerun_id:
            record = await self.ctx.store.get_rerun(rerun_id)
            if record is None or (pipeline_id and record.pipeline_id != pipeline_id):
                raise NotFoundError(f"rerun {rerun_id!r} not found", rerunId=rerun_id)
            return CycleRef(record.pipeline_id, record.schedule_id, record.original_date, rerun_id=rerun_id)
        if date:
            check_run_date(date)
        pipeline = await self.ctx.pipeline(pipeline_id)
        schedule, day = self.engine.runs.resolve_cycle(pipeline, schedule_id or None, date or None)
        return CycleRef(pipeline.name, schedule.name, day, replay=replay)

    # ------------------------------------------------------------------------------ exclusion
    async def check_exclusion(self, cycle: CycleRef) -> Step:
        """Skip an excluded day. A schedule whose ``after`` has not come yet today answers
        ``inactive`` with the seconds until it opens: the orchestration waits for it, as the watcher
        evaluates a schedule from its ``after`` on. An explicit replay or rerun is not subject to
        calendars or windows (the local rerun path is not either)."""
        pipeline = await self.ctx.pipeline(cycle.pipeline_id)
        schedule = self._schedule(pipeline, cycle.schedule_id)
        payload = {"cycle": cycle.to_json()}
        if cycle.replay or cycle.rerun_id:
            return Step(True, payload)
        if excluded(pipeline, cycle_day(cycle.date), self.ctx.calendars):
            return skipped("excluded", "excluded day", **payload)
        if not has_cycle(pipeline, schedule, cycle.date):
            return skipped("excluded", f"schedule {schedule.name} does not fire on {cycle.date}", **payload)
        now, tz = self.ctx.clock.now(), schedule_zone(pipeline, schedule)
        if now.astimezone(tz).date().isoformat() == cycle.date and not is_schedule_active(schedule, now, tz):
            opens = next_window(schedule, now, tz)
            return skipped("inactive", f"schedule {schedule.name} is not active before "
                                       f"{opens.astimezone(tz).strftime('%H:%M')}",
                           retryInSeconds=ceil_seconds(opens - now), **payload)
        return Step(True, payload)

    # ------------------------------------------------------------------------------ run-log gate
    async def check_run_log(self, cycle: CycleRef, owner: str) -> Step:
        """``Runs.gate`` for the cycle (dedup, retry policy, backoff). A replay turns the dedup of a
        completed date into a rerun record; a pending rerun of the date runs in its place."""
        await self.renew_lease(cycle, owner)
        pipeline = await self.ctx.pipeline(cycle.pipeline_id)
        if pipeline.trigger is None:
            return skipped(Outcome.NO_TRIGGER, f"pipeline {pipeline.name} has no trigger configured")
        if pipeline.retired:
            return await self._retired_gate(pipeline, cycle, owner)
        if cycle.rerun_id:
            return await self._rerun_gate(pipeline, cycle, owner, cycle.rerun_id)
        entry = await self.ctx.store.get_run_log(pipeline.name, cycle.date, cycle.schedule_id)
        blocked, entry = await self.engine.runs.gate(pipeline, cycle.schedule_id, cycle.date, entry)
        settled = await self.engine.runs.dry_run.settled(pipeline, cycle.schedule_id, cycle.date) \
            if pipeline.dry_run and blocked is None else None
        if settled is not None:
            return skipped(Outcome.DRY_RUN, settled.message, dryRun=True)
        if blocked is None:
            return Step(True, self._ready_payload(entry, None))
        if blocked.outcome is Outcome.DUPLICATE:
            try:
                rerun = await self._replay(pipeline, cycle, owner) if cycle.replay else None
            except RerunRejected as exc:
                return skipped("rerun_rejected", exc.message, **exc.verdict.details())
            if rerun is None and not cycle.replay:
                await self.engine.late_data.check(pipeline, cycle.schedule_id, cycle.date)
            rerun = rerun or await self._pending_rerun(pipeline, cycle)
            if rerun is not None:
                return await self._rerun_gate(pipeline, cycle, owner, rerun.rerun_id)
            active = await self._active_run(entry)
            if active is not None:
                await self.hold_for_run(cycle, owner, active, pipeline)
                return skipped("monitoring", blocked.message, **self.run_payload(active, pipeline))
        if blocked.outcome is Outcome.IN_PROGRESS and blocked.run is not None:
            await self.hold_for_run(cycle, owner, blocked.run, pipeline)
            return skipped(Outcome.IN_PROGRESS, blocked.message, **self.run_payload(blocked.run, pipeline))
        if blocked.outcome is Outcome.BACKOFF and blocked.retry_at is not None:
            wait = ceil_seconds(blocked.retry_at - self.ctx.clock.now())
            await self.renew_lease(cycle, owner, wait)
            return skipped(Outcome.BACKOFF, blocked.message, retryInSeconds=wait)
        return skipped(blocked.outcome, blocked.message)

    async def _retired_gate(self, pipeline: PipelineConfig, cycle: CycleRef, owner: str) -> Step:
        """A retired pipeline starts nothing; a run of the cycle still under way is followed to its end."""
        if cycle.rerun_id:
            record = await self.ctx.store.get_rerun(cycle.rerun_id)
            run_id = record.rerun_run_id if record is not None else None
        else:
            entry = await self.ctx.store.get_run_log(pipeline.name, cycle.date, cycle.schedule_id)
            run_id = entry.run_id if entry is not None else None
        run = await self.ctx.store.get_run(run_id) if run_id else None
        if run is not None and not run.status.is_terminal:
            await self.hold_for_run(cycle, owner, run, pipeline)
            outcome = "monitoring" if run.status is S.COMPLETED_MONITORING else Outcome.IN_PROGRESS
            return skipped(outcome, f"pipeline {pipeline.name} is retired; its run {run.run_id} is followed to its end",
                           **self.run_payload(run, pipeline))
        return skipped(Outcome.RETIRED, retired_reason(pipeline))

    def _ready_payload(self, entry: RunLogEntry | None, rerun_id: str | None) -> dict[str, Any]:
        return {"outcome": "evaluate", "attemptNumber": next_attempt(entry),
                "runLogVersion": entry.version if entry else None, "rerunId": rerun_id}

    async def _active_run(self, entry: RunLogEntry | None) -> RunState | None:
        """A run still being monitored (its orchestration ended early): pick the monitoring up."""
        if entry is None or entry.status is not S.COMPLETED_MONITORING or not entry.run_id:
            return None
        run = await self.ctx.store.get_run(entry.run_id)
        return run if run is not None and run.status is S.COMPLETED_MONITORING else None

    async def _replay(self, pipeline: PipelineConfig, cycle: CycleRef, owner: str) -> RerunRecord:
        """The rerun record of this replay request (one per orchestration, however often asked)."""
        for record in await self.ctx.store.list_reruns(pipeline.name, limit=50):
            if record.metadata.get("execution") == owner:
                return record
        try:
            # an explicit request for the same cycle: counted as manual, never stopped by the breaker
            record, _ = await self.engine.reruns.request_rerun(
                pipeline.name, cycle.date, REPLAY_REASON, schedule_id=cycle.schedule_id,
                metadata={"execution": owner}, execute=False, source=RerunSource.MANUAL, force=True)
        except RerunExists as exc:  # one rerun of a cycle at a time: the one waiting is the replay
            if exc.rerun is None:
                raise
            return exc.rerun
        return record

    async def _pending_rerun(self, pipeline: PipelineConfig, cycle: CycleRef) -> RerunRecord | None:
        """The oldest PENDING rerun of this date and schedule that may start by itself."""
        for record in reversed(await self.ctx.store.list_reruns(pipeline.name, limit=50)):
            if (record.schedule_id == cycle.schedule_id and record.original_date == cycle.date
                    and record.status is S.PENDING and record.metadata.get("autoRerun", True) is not False):
                return record
        return None

    async def _rerun_gate(self, pipeline: PipelineConfig, cycle: CycleRef, owner: str, rerun_id: str) -> Step:
        record = await self.ctx.store.get_rerun(rerun_id)
        if record is None:
            raise NotFoundError(f"rerun {rerun_id!r} not found", rerunId=rerun_id)
        if record.rerun_run_id:
            run = await self.ctx.store.get_run(record.rerun_run_id)
            if run is not None and not run.status.is_terminal:
                await self.hold_for_run(cycle, owner, run, pipeline)
                outcome = "monitoring" if run.status is S.COMPLETED_MONITORING else Outcome.IN_PROGRESS
                return skipped(outcome, f"rerun {rerun_id} has run {run.run_id} {run.status.value}",
                             **self.run_payload(run, pipeline))
        if record.status not in (S.PENDING, S.FAILED):
            return skipped("rerun_finished", f"rerun {rerun_id} is {record.status.value}", rerunId=rerun_id)
        return Step(True, {**self._ready_payload(None, rerun_id),
                           "attemptNumber": int(record.metadata.get("attempts", 0)) + 1})

    # ------------------------------------------------------------------------------ readiness
    async def resolve_traits(self, cycle: CycleRef) -> Step:
        """The traits to evaluate, one item per trait (the Map state's items)."""
        pipeline = await self.ctx.pipeline(cycle.pipeline_id)
        traits = self.ctx.traits_of(pipeline)
        items = [{"pipelineId": pipeline.name, "scheduleId": cycle.schedule_id, "date": cycle.date,
                  "traitType": t.type, "required": t.required, "evaluator": t.evaluator} for t in traits]
        return Step(True, {"traits": items, "trigger": pipeline.trigger.type if pipeline.trigger else None,
                           "monitoring": pipeline.monitoring.enabled})

    async def evaluate_trait(self, cycle: CycleRef, trait_type: str) -> Step:
        """Evaluate one trait exactly as a full evaluation does: stored, evented, edge-alerted."""
        pipeline = await self.ctx.pipeline(cycle.pipeline_id)
        trait = next((t for t in self.ctx.traits_of(pipeline) if t.type == trait_type), None)
        if trait is None:
            raise NotFoundError(f"pipeline {pipeline.name!r} has no trait {trait_type!r}",
                                pipelineId=pipeline.name, traitType=trait_type)
        evaluation = await self.engine.evaluation._evaluate_trait(pipeline, trait, cycle.schedule_id, cycle.date)
        return Step(evaluation.status == TraitStatus.PASS, trait_result(trait, evaluation))

    async def check_readiness(self, cycle: CycleRef, results: Sequence[Any]) -> Step:
        """The readiness rule over the evaluation step's results (a trait without one is STALE);
        the result is cached, evented and alerted as a full evaluation's is."""
        pipeline = await self.ctx.pipeline(cycle.pipeline_id)
        traits = self.ctx.traits_of(pipeline)
        by_type = {r.get("traitType"): r for r in results if isinstance(r, Mapping)}
        now = self.ctx.clock.now()
        evaluations = [self._evaluation_of(pipeline, t, by_type.get(t.type), now) for t in traits]
        result = await self.engine.evaluation.conclude(pipeline, traits, evaluations, cycle.schedule_id, cycle.date)
        status, blocking = result.status, result.blocking
        if pipeline.dry_run and not result.ready:
            await self.engine.runs.dry_run.not_ready(pipeline, cycle.schedule_id, cycle.date, result)
        return Step(result.ready, {"status": status.value, "blocking": blocking})

    def _evaluation_of(self, pipeline: PipelineConfig, trait: ResolvedTrait, item: Mapping[str, Any] | None,
                       now: datetime) -> TraitEvaluation:
        if item is None:
            return TraitEvaluation(pipeline_id=pipeline.name, trait_type=trait.type, status=TraitStatus.STALE,
                                   reason="no result from the evaluation step", evaluated_at=now)
        status = str(item.get("status", ""))
        category = str(item.get("failureCategory") or "")
        value = item.get("value")
        reason = item.get("reason")
        return TraitEvaluation(
            pipeline_id=pipeline.name, trait_type=trait.type,
            status=status if status in (TraitStatus.PASS, TraitStatus.FAIL, TraitStatus.STALE) else TraitStatus.FAIL,
            value=value if isinstance(value, dict) else None, reason=str(reason) if reason is not None else None,
            failure_category=FailureCategory(category) if category in FailureCategory.__members__ else None,
            evaluated_at=now, source=str(item.get("source") or "evaluator"),
            schedule_id=_text(item.get("scheduleId")), date=_text(item.get("date")))

    # ------------------------------------------------------------------------------ SLAs
    async def _sla_subject(self, cycle: CycleRef) -> tuple[PipelineConfig, ScheduleConfig, datetime]:
        pipeline = await self.ctx.pipeline(cycle.pipeline_id)
        return pipeline, self._schedule(pipeline, cycle.schedule_id), self.ctx.clock.now()

    async def check_evaluation_sla(self, cycle: CycleRef) -> Step:
        """For a cycle still not ready: the evaluation deadline, and the completion deadline of a
        cycle that has not run (as the watcher checks both for a cycle it could not start); past its
        evaluation window or evaluation deadline, the schedule's ``onDeadline`` policy (the watcher's
        :class:`~interlock_core.engine.deadline_policy.DeadlinePolicies`): ``skip`` records the cycle
        SKIPPED here, ``trigger`` answers ``triggerAnyway`` with the reason, for the launch step."""
        pipeline, schedule, now = await self._sla_subject(cycle)
        d = deadlines(pipeline, schedule, cycle.date)
        breached = d.evaluation is not None and now > d.evaluation
        alerted = breached and await self.engine.sla.check_evaluation(pipeline, schedule, cycle.date)
        completion = await self.check_completion_sla(cycle)
        payload: dict[str, Any] = {"breached": breached, "alerted": alerted, "deadline": d.evaluation_label,
                                   "completionBreached": completion.payload["breached"],
                                   "onDeadline": schedule.on_deadline, "pastDeadline": False, "skipped": False,
                                   "triggerAnyway": False, "degradedReason": None}
        if cycle.replay or cycle.rerun_id:
            return Step(True, payload)
        policies = self.engine.cycles.on_deadline
        entry = await self.ctx.store.get_run_log(pipeline.name, cycle.date, cycle.schedule_id)
        cached = await self.ctx.store.get_readiness(pipeline.name)
        blocking = list(cached.blocking) if cached is not None and cached.date == cycle.date else []
        reason = await policies.past_deadline(pipeline, schedule, cycle.date, entry, blocking, d.evaluation)
        if reason is None or pipeline.dry_run:
            return Step(True, {**payload, "pastDeadline": reason is not None})
        payload["pastDeadline"] = True
        if schedule.on_deadline == "skip":
            payload["skipped"] = await policies.skip(pipeline, cycle.schedule_id, cycle.date, reason) is not None
        elif schedule.on_deadline == "trigger":
            payload.update(triggerAnyway=True, degradedReason=reason)
        return Step(True, payload)

    async def check_validation_timeout(self, cycle: CycleRef) -> Step:
        """Past the validation timeout and still not ready: the cycle is force-failed for the day."""
        pipeline, schedule, now = await self._sla_subject(cycle)
        d = deadlines(pipeline, schedule, cycle.date)
        timed_out = d.validation is not None and now > d.validation
        if timed_out:
            await self.engine.sla.check_validation(pipeline, schedule, cycle.date)
        return Step(True, {"validationTimedOut": timed_out, "deadline": d.validation_label})

    async def check_completion_sla(self, cycle: CycleRef) -> Step:
        pipeline, schedule, now = await self._sla_subject(cycle)
        entry = await self.ctx.store.get_run_log(pipeline.name, cycle.date, cycle.schedule_id)
        d = deadlines(pipeline, schedule, cycle.date)
        done = entry is not None and entry.status.is_done
        breached = not done and d.completion is not None and now > d.completion
        alerted = breached and await self.engine.sla.check_completion(pipeline, schedule, cycle.date, entry)
        return Step(True, {"breached": breached, "alerted": alerted, "deadline": d.completion_label})

    # ------------------------------------------------------------------------------ launch
    async def launch(self, cycle: CycleRef, owner: str, *, run_log_version: int | None,
                     rerun_id: str | None = None, degraded: str | None = None) -> Step:
        """Claim the attempt the gate allowed (CAS on the run-log version it saw, or on the rerun
        record) and launch the job. A repeated call by the same owner returns its own run.
        ``degraded``: why the job runs although the cycle is not ready (``onDeadline: trigger``)."""
        await self.renew_lease(cycle, owner)
        pipeline = await self.ctx.pipeline(cycle.pipeline_id)
        if pipeline.trigger is None:
            return skipped(Outcome.NO_TRIGGER, f"pipeline {pipeline.name} has no trigger configured")
        if pipeline.retired:
            return skipped(Outcome.RETIRED, retired_reason(pipeline))
        if pipeline.dry_run:  # shadow mode: record the would-trigger, launch and claim nothing
            outcome = await self.engine.runs.dry_run.ready(pipeline, cycle.schedule_id, cycle.date, None)
            return skipped(Outcome.DRY_RUN, outcome.message, dryRun=True)
        rerun: RerunRecord | None = None
        entry: RunLogEntry | None = None
        if rerun_id:
            rerun = await self.ctx.store.get_rerun(rerun_id)
            if rerun is None:
                raise NotFoundError(f"rerun {rerun_id!r} not found", rerunId=rerun_id)
            mine = await self._own_run(rerun.rerun_run_id, owner)
            if mine is not None:
                return Step(True, {"outcome": Outcome.TRIGGERED, **self.run_payload(mine, pipeline)})
        else:
            entry = await self.ctx.store.get_run_log(pipeline.name, cycle.date, cycle.schedule_id)
            if (entry.version if entry else None) != run_log_version:
                mine = await self._own_run(entry.run_id if entry else None, owner)
                if mine is not None:
                    return Step(True, {"outcome": Outcome.TRIGGERED, **self.run_payload(mine, pipeline)})
                return skipped(Outcome.CLAIM_LOST, f"the run log of {pipeline.name} changed since the gate")
        day = rerun.original_date if rerun else cycle.date
        inputs = await self.engine.runs.inputs.current(pipeline, cycle.schedule_id, day)  # what the steps stored
        run = await self.engine.runs._claim(pipeline, cycle.schedule_id, day, entry, rerun, inputs,
                                            degraded=None if rerun else degraded)
        if run is None:
            return skipped(Outcome.CLAIM_LOST, f"another caller already claimed this cycle of {pipeline.name}")

        def tag(current: RunState) -> RunState:
            current.metadata["execution"] = owner
            return current

        run = await update_run(self.ctx.store, run.run_id, tag) or run
        run = await self.engine.runs._launch(pipeline, run)
        await self.hold_for_run(cycle, owner, run, pipeline)
        return Step(True, {"outcome": Outcome.TRIGGERED, **self.run_payload(run, pipeline)})

    async def _own_run(self, run_id: str | None, owner: str) -> RunState | None:
        run = await self.ctx.store.get_run(run_id) if run_id else None
        return run if run is not None and run.metadata.get("execution") == owner else None
