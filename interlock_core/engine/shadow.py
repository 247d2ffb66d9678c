"""What the scheduler already in place did for a dry-run pipeline's cycles, recorded next to what
Interlock would have done (the cycle's :class:`~interlock_core.model.ShadowCycle`).

* The scheduler's runs are looked up through the pipeline's trigger when its type can (the
  optional :class:`~interlock_core.ports.SchedulerRunLookup`), on each watcher pass over the
  pipeline — for today's cycle and yesterday's (a nightly run may end after midnight), until one
  of its runs succeeded — or pushed (``POST /api/pipelines/{id}/scheduler-runs``, :meth:`report`).
* A scheduler run seen finishing records DRY_RUN_COMPLETED once (succeeded or failed); one that
  failed also DRY_RUN_WOULD_RETRY when Interlock's retry policy would have retried it: which
  attempt, and when (the scheduler's n-th run of a cycle stands for Interlock's attempt n).
* Once the cycle is settled (it would have triggered and its monitoring window is over), a trait
  result written since whose value differs from the one the would-trigger saw is late data:
  DRY_RUN_LATE_DATA once per cycle, and DRY_RUN_WOULD_RERUN when the pipeline asks for a rerun on
  late data (:mod:`.rerun_decision`). Evaluators do not run on a settled cycle, so this is what
  pushes (and manual evaluations) bring.

Nothing here launches, claims or alerts: a dry-run pipeline only ever records.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from ..config.registration import expanded_values, trigger_environment
from ..cycles import cycle_day
from ..dates import check_run_date
from ..errors import ConflictError, NotFoundError, TriggerError, ValidationError
from ..expanded import EXPANDED, expanded_scope
from ..model import (
    EventKind,
    FailureCategory,
    PipelineConfig,
    PipelineOrigin,
    RerunSource,
    ScheduleConfig,
    SchedulerRun,
    ShadowCycle,
    TraitEvaluation,
    format_timestamp,
)
from ..model.shadow import MAX_SCHEDULER_RUNS
from ..outbound import untrusted_target
from ..ports import CycleWindow, SchedulerRunLookup
from ..retry import RetryReason, decide_retry
from ..schedule import local_midnight, previous_day, schedule_zone
from .callbacks import PollProblems
from .context import EngineContext
from .records import update_shadow_cycle
from .rerun_decision import decide_rerun
from .shadow_report import compare

log = logging.getLogger("interlock.dry_run")


def inputs_digest(evaluation: TraitEvaluation) -> str:
    """A digest of a trait result's status and value: what late data is told from."""
    raw = json.dumps({"status": evaluation.status, "value": evaluation.value}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def cycle_window(pipeline: PipelineConfig, schedule: ScheduleConfig, date: str,
                 environment: Any = None) -> CycleWindow:
    """The instants ``date`` spans in the schedule's time zone."""
    tz, day = schedule_zone(pipeline, schedule), cycle_day(date)
    return CycleWindow(pipeline_id=pipeline.name, schedule_id=schedule.name, date=date,
                       start=local_midnight(day, tz), end=local_midnight(day + timedelta(days=1), tz),
                       environment=environment)


class SchedulerRuns:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.problems = PollProblems()

    def lookup(self, pipeline: PipelineConfig) -> SchedulerRunLookup | None:
        """The pipeline's trigger, when its type looks up the scheduler's runs."""
        if pipeline.trigger is None or pipeline.trigger.type not in self.ctx.triggers.classes:
            return None
        trigger = self.ctx.triggers.get(pipeline.trigger.type)
        return trigger if isinstance(trigger, SchedulerRunLookup) else None

    # ------------------------------------------------------------------------------ watcher
    async def follow(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str) -> None:
        """One watcher pass: look the scheduler's runs up for yesterday's and today's cycles, then
        check today's for late data."""
        record = None
        for day in (previous_day(today), today):
            record = await self.look_up(pipeline, schedule, day)
        await self.late_data(pipeline, schedule.name, today, record)

    async def look_up(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str) -> ShadowCycle | None:
        """Ask the orchestrator for the cycle's runs (until one succeeded) and record what is new."""
        record = await self.ctx.store.get_shadow_cycle(pipeline.name, day, schedule.name)
        lookup = self.lookup(pipeline)
        if lookup is None or pipeline.trigger is None or (record is not None and record.succeeded_run is not None):
            return record
        kind = pipeline.trigger.type
        expanded = expanded_values(pipeline, self.ctx.api_allowed_env)
        EXPANDED.remember(pipeline.name, expanded)  # never stored, never logged (see interlock_core.expanded)
        window = cycle_window(pipeline, schedule, day, trigger_environment(pipeline, self.ctx.api_allowed_env))
        try:
            config = self.ctx.triggers.cls(kind).config_model.model_validate(pipeline.trigger.options())
            with untrusted_target(pipeline.origin is PipelineOrigin.API), expanded_scope(expanded):
                found = await lookup.find_runs(config, window)
        except TriggerError as exc:
            message = EXPANDED.mask(pipeline.name, exc.message)
            if self.problems.failed(pipeline.name, f"lookup:{kind}", message):
                log.warning("looking up the scheduler's runs of %s for %s failed: %s (not logged again while it "
                            "fails the same way)", pipeline.name, day, message)
            return record
        except Exception:
            log.exception("looking up the scheduler's runs of %s for %s failed", pipeline.name, day)
            return record
        if self.problems.recovered(pipeline.name, f"lookup:{kind}") is not None:
            log.info("looking up the scheduler's runs of %s works again", pipeline.name)
        runs = [r.model_copy(update={"source": "lookup"}) for r in found]
        return await self.observed(pipeline, schedule.name, day, runs) if runs else record

    # ------------------------------------------------------------------------------ pushed
    async def report(self, pipeline_id: str, date: str, run: SchedulerRun,
                     schedule_id: str | None = None) -> ShadowCycle:
        """The scheduler in place ran the cycle (``POST /api/pipelines/{id}/scheduler-runs``): record
        it. Pushing the same run again changes nothing; a run pushed running, then finished, records
        its end."""
        pipeline = await self.ctx.live_pipeline(pipeline_id)
        if not pipeline.dry_run:
            raise ConflictError(f"pipeline {pipeline.name!r} is not a dry-run pipeline: Interlock runs it, so there "
                                "is no other scheduler's run to compare with", pipelineId=pipeline.name)
        schedule = pipeline.schedule(schedule_id) if schedule_id else pipeline.resolved_schedules()[0]
        if schedule is None:
            raise NotFoundError(f"pipeline {pipeline.name!r} has no schedule {schedule_id!r}",
                                pipelineId=pipeline.name, scheduleId=schedule_id)
        check_run_date(date)
        now = self.ctx.clock.now()
        if run.finished and run.finished_at is None:
            run = run.model_copy(update={"finished_at": now})
        if run.started_at is not None and run.finished_at is not None and run.finished_at < run.started_at:
            raise ValidationError("finishedAt is before startedAt", field="finishedAt")
        if not run.finished and run.finished_at is not None:
            raise ValidationError("a running run has no finishedAt", field="finishedAt")
        pushed = run.model_copy(update={"source": "pushed", "seen_at": None})
        return await self.observed(pipeline, schedule.name, date, [pushed])

    # ------------------------------------------------------------------------------ recording
    async def observed(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                       runs: list[SchedulerRun]) -> ShadowCycle:
        """Merge what was seen of the scheduler's runs into the cycle's record; whoever records a
        run's end records its events (once, across every engine on the store)."""
        now = self.ctx.clock.now()
        ended: list[SchedulerRun] = []
        retries: dict[str, tuple[int, datetime]] = {}
        refusals: dict[str, str] = {}

        def merge(record: ShadowCycle) -> ShadowCycle | None:
            ended.clear()
            retries.clear()
            refusals.clear()
            changed = False
            for run in runs:
                known = record.scheduler_run(run.run_id)
                if known is not None and (known.finished or (not run.finished and known.started_at == run.started_at)):
                    continue  # a finished run stays as it was first seen finishing
                seen = run.model_copy(update={"seen_at": now,
                                              "started_at": run.started_at or (known.started_at if known else None)})
                record.scheduler_runs = [seen if r.run_id == run.run_id else r for r in record.scheduler_runs] \
                    if known is not None else [*record.scheduler_runs, seen]
                changed = True
                if seen.finished:
                    ended.append(seen)
            if not changed:
                return None
            record.scheduler_runs = sorted(record.scheduler_runs,
                                           key=lambda r: r.started_at or r.seen_at or now)[-MAX_SCHEDULER_RUNS:]
            for run in ended:
                if run.state == "failed":
                    attempt = 1 + next((i for i, r in enumerate(record.scheduler_runs) if r.run_id == run.run_id), 0)
                    retry, why = self._retry(pipeline, run, attempt, now)
                    if retry is not None:
                        retries[run.run_id] = retry
                        record.would_retries += 1
                    else:
                        refusals[run.run_id] = why
            return record

        record = await update_shadow_cycle(self.ctx.store, pipeline.name, date, schedule_id, now, merge)
        assert record is not None
        for run in ended:
            await self._completed(pipeline, schedule_id, date, run, record, retries.get(run.run_id),
                                  refusals.get(run.run_id))
        return record

    def _retry(self, pipeline: PipelineConfig, run: SchedulerRun, attempt: int,
               now: datetime) -> tuple[tuple[int, datetime] | None, str]:
        """(the attempt Interlock would start next and when, or None with why not) after the
        scheduler's ``attempt``-th run of the cycle failed."""
        category = run.failure_category or FailureCategory.TRANSIENT
        decision = decide_retry(pipeline.retry_policy, attempt, category, run.finished_at or now)
        if decision.reason is RetryReason.NON_RETRYABLE:
            return None, f"a {category.value} failure is not retried by its retry policy"
        if not decision.retry or decision.at is None:
            return None, f"all {decision.max_attempts} attempts would have been spent"
        return (decision.next_attempt, decision.at), ""

    async def _completed(self, pipeline: PipelineConfig, schedule_id: str, date: str, run: SchedulerRun,
                         record: ShadowCycle, retry: tuple[int, datetime] | None, refusal: str | None) -> None:
        verdict, lead, difference = compare(record)
        ended = format_timestamp(run.finished_at) if run.finished_at else "an unknown time"
        details: dict[str, Any] = {
            "dryRun": True, "schedulerRunId": run.run_id, "outcome": run.state, "source": run.source,
            "startedAt": format_timestamp(run.started_at) if run.started_at else None,
            "finishedAt": format_timestamp(run.finished_at) if run.finished_at else None,
            "wouldTriggerAt": format_timestamp(record.would_trigger_at) if record.would_trigger_at else None,
            "verdict": verdict.value, "leadSeconds": lead.total_seconds() if lead is not None else None,
        }
        await self.ctx.emit(
            EventKind.DRY_RUN_COMPLETED, pipeline.name, schedule_id=schedule_id, date=date,
            status="COMPLETED" if run.state == "succeeded" else "FAILED", failure_category=run.failure_category,
            message=f"dry run: the scheduler's run {run.run_id} of {date}/{schedule_id} {run.state} at {ended}; "
                    f"{difference}" + (f"; Interlock would not retry it: {refusal}" if refusal else ""),
            details={k: v for k, v in details.items() if v is not None})
        if retry is None:
            return
        attempt, at = retry
        await self.ctx.emit(
            EventKind.DRY_RUN_WOULD_RETRY, pipeline.name, schedule_id=schedule_id, date=date, status="RETRYING",
            failure_category=run.failure_category or FailureCategory.TRANSIENT,
            message=f"dry run: the scheduler's run {run.run_id} of {date}/{schedule_id} failed; Interlock would "
                    f"retry it: attempt {attempt} at {format_timestamp(at)}",
            details={"dryRun": True, "schedulerRunId": run.run_id, "attempt": attempt,
                     "retryAt": format_timestamp(at)})

    # ------------------------------------------------------------------------------ late data
    async def late_data(self, pipeline: PipelineConfig, schedule_id: str, day: str,
                        record: ShadowCycle | None) -> None:
        """Today's settled cycle: a trait result written since it settled whose value differs from the
        one the would-trigger saw (once per cycle)."""
        if record is None or record.would_trigger_at is None or record.late_data_at is not None or not record.inputs:
            return
        monitoring = pipeline.monitoring
        settled_at = record.would_trigger_at + (monitoring.duration if monitoring.enabled else timedelta(0))
        now = self.ctx.clock.now()
        if now < settled_at:
            return
        changed = sorted(t.trait_type for t in await self.ctx.store.list_traits(pipeline.name)
                         if t.trait_type in record.inputs and t.evaluated_at > settled_at
                         and inputs_digest(t) != record.inputs[t.trait_type])
        if not changed:
            return
        decision = decide_rerun(pipeline, RerunSource.LATE_DATA, earlier=record.would_reruns)
        won = False

        def mark(current: ShadowCycle) -> ShadowCycle | None:
            nonlocal won
            won = current.late_data_at is None
            if not won:
                return None
            current.late_data_at = now
            current.would_reruns += 1 if decision.asked else 0
            return current

        await update_shadow_cycle(self.ctx.store, pipeline.name, day, schedule_id, now, mark)
        if not won:
            return
        await self.ctx.emit(EventKind.DRY_RUN_LATE_DATA, pipeline.name, schedule_id=schedule_id, date=day,
                            message=f"dry run: late data for {day}/{schedule_id}: {', '.join(changed)} changed after "
                                    f"the cycle would have run ({format_timestamp(record.would_trigger_at)}); "
                                    f"{decision.reason}",
                            details={"dryRun": True, "traits": changed,
                                     "wouldTriggerAt": format_timestamp(record.would_trigger_at)})
        if decision.asked:
            verdict = "would have been requested" if decision.accepted else "would have been refused"
            await self.ctx.emit(EventKind.DRY_RUN_WOULD_RERUN, pipeline.name, schedule_id=schedule_id, date=day,
                                status="ACCEPTED" if decision.accepted else "REJECTED",
                                message=f"dry run: a rerun of {day}/{schedule_id} {verdict} (late data in "
                                        f"{', '.join(changed)}): {decision.reason}",
                                details={"dryRun": True, "reason": "late_data",
                                         "accepted": decision.accepted, "held": decision.held,
                                         "decision": decision.reason, "traits": changed})
