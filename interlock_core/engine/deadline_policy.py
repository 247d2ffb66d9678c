"""What a cycle still not ready does at its deadline: the evaluation window closing
(``schedules[].evaluation``) or the SLA evaluation deadline passing.

The deadline alerts once per cycle (``EVALUATION_WINDOW_EXPIRED``, or the SLA breach), across
every engine on the store and across restarts: the alert, its event and the once-only claim are
one store write. The schedule's ``onDeadline`` policy then decides:

* ``alert`` (the default): nothing more; the cycle keeps waiting for readiness and starts when ready.
* ``skip``: the cycle is recorded SKIPPED in its run log (and a CYCLE_SKIPPED event); nothing
  runs for it unless a rerun is asked for.
* ``trigger``: the job is launched anyway, its run marked ``degraded: true`` (and ``${degraded}``
  is ``true`` among its launch variables).

The policy is applied on every pass past the deadline until it sticks (the skip is a CAS on an
empty run log, the launch a claim of one), so a crash between the alert and the policy loses
nothing and two watchers never skip or launch twice. Only a cycle that has not run is concerned:
once an attempt was made its retries follow the retry policy (a retry of a degraded run, when due,
is launched degraded again). A dry-run pipeline is alerted but
never skipped or launched (shadow mode writes no run log and launches nothing).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..durations import format_duration
from ..model import (
    AlertLevel,
    EventKind,
    PipelineConfig,
    RunLogEntry,
    RunStatus,
    ScheduleConfig,
    format_timestamp,
)
from ..schedule import current_cycle, evaluation_span
from .context import EngineContext
from .outcome import Outcome, RunOutcome

if TYPE_CHECKING:
    from .runs import Runs

log = logging.getLogger("interlock.lifecycle")
_MEMO_LIMIT = 100_000


def window_key(pipeline_id: str, schedule_id: str, date: str) -> str:
    return f"window:{pipeline_id}:{schedule_id}:{date}"


def next_evaluation(pipeline: PipelineConfig, schedule: ScheduleConfig, now: datetime,
                    interval: timedelta) -> datetime:
    """When the watcher should next look at the cycle of ``schedule``: after ``interval`` (the
    pipeline's ``watch.interval``), or, for a schedule with an evaluation window, at its opening,
    every ``evaluation.interval`` while it is open, and exactly when it closes."""
    due = now + interval
    span = evaluation_span(pipeline, schedule, current_cycle(pipeline, schedule, now))
    if span is None:
        return due
    if now < span.opens:
        return min(due, span.opens)
    if now < span.closes:
        return min(now + (span.interval or interval), span.closes)
    return due


class DeadlinePolicies:
    def __init__(self, ctx: EngineContext, runs: Runs) -> None:
        self.ctx = ctx
        self.runs = runs
        self._alerted: set[str] = set()  # window keys this process claimed or saw claimed: no store write again

    async def after_not_ready(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                              outcome: RunOutcome, *, sla_deadline: datetime | None = None) -> RunOutcome | None:
        """For a cycle a pass found NOT_READY: past its deadline (:meth:`past_deadline`), apply
        ``onDeadline``. Returns the outcome of a launch or a skip, else None."""
        if outcome.outcome is not Outcome.NOT_READY:
            return None
        blocking = list(outcome.readiness.blocking) if outcome.readiness is not None else []
        reason = await self.past_deadline(pipeline, schedule, day, outcome.run_log, blocking, sla_deadline)
        if reason is None:
            return None
        return await self.apply(pipeline, schedule, day, outcome, reason)

    async def past_deadline(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                            entry: RunLogEntry | None, blocking: list[str],
                            sla_deadline: datetime | None) -> str | None:
        """Why a cycle that is not ready and has not run is past its deadline — its evaluation
        window closed (EVALUATION_WINDOW_EXPIRED, alerted once here) or its SLA evaluation deadline
        (``sla_deadline``, alerted by the SLA check) passed — or None when it is not."""
        if pipeline.retired or (entry is not None and not await self._degraded_retry(schedule, entry)):
            return None  # an attempt was made: its retries follow the retry policy
        now = self.ctx.clock.now()
        span = evaluation_span(pipeline, schedule, day)
        if span is not None and schedule.evaluation is not None and now >= span.closes:
            await self.window_expired(pipeline, schedule, day, span.closes, blocking)
            return (f"evaluation window of {format_duration(schedule.evaluation.window)} closed at "
                    f"{format_timestamp(span.closes)} not ready")
        if sla_deadline is not None and now > sla_deadline:
            return f"not ready by the evaluation deadline ({format_timestamp(sla_deadline)})"
        return None

    async def _degraded_retry(self, schedule: ScheduleConfig, entry: RunLogEntry) -> bool:
        """A retry of a run ``onDeadline: trigger`` launched degraded is degraded too (it would
        otherwise wait for a readiness the deadline already gave up on)."""
        if schedule.on_deadline != "trigger" or entry.status is not RunStatus.FAILED or not entry.run_id:
            return False
        run = await self.ctx.store.get_run(entry.run_id)
        return run is not None and bool(run.degraded)

    async def window_expired(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                             closed: datetime, blocking: list[str]) -> bool:
        """EVALUATION_WINDOW_EXPIRED, alerted once per cycle. True when this call raised it."""
        key = window_key(pipeline.name, schedule.name, day)
        if key in self._alerted:
            return False
        if len(self._alerted) > _MEMO_LIMIT:
            self._alerted.clear()
        policy = schedule.on_deadline
        effect = {"alert": "still waiting for readiness", "skip": "cycle skipped",
                  "trigger": "triggering anyway (degraded)"}[policy]
        details: dict[str, Any] = {"scheduleId": schedule.name, "date": day, "closedAt": format_timestamp(closed),
                                   "onDeadline": policy, "blocking": blocking}
        if policy == "trigger":
            details["degraded"] = True
        if pipeline.dry_run and policy != "alert":
            effect, details["dryRun"] = f"dry run: would be {effect}", True
        window = format_duration(schedule.evaluation.window) if schedule.evaluation else "?"
        event = self.ctx.event(EventKind.EVALUATION_WINDOW_EXPIRED, pipeline.name, status="NOT_READY",
                               schedule_id=schedule.name, date=day, details=details,
                               message=f"evaluation window ({window}) closed not ready; onDeadline: {policy}")
        raised = await self.ctx.alert_once(
            key, AlertLevel.ERROR if policy != "trigger" else AlertLevel.WARNING,
            f"Pipeline {pipeline.name} evaluation window expired: cycle {day}/{schedule.name} not ready "
            f"after {window} (blocked by {', '.join(blocking) or 'the readiness rule'}); {effect}",
            pipeline.name, details=details, event=event, schedule_id=schedule.name, date=day)
        self._alerted.add(key)  # after the write: a store outage leaves it to the next pass
        return raised

    async def apply(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str, outcome: RunOutcome,
                    reason: str) -> RunOutcome | None:
        """The schedule's ``onDeadline`` policy for a cycle that has not run."""
        if pipeline.dry_run or schedule.on_deadline == "alert":
            return None
        if schedule.on_deadline == "skip":
            return await self.skip(pipeline, schedule.name, day, reason)
        log.info("%s/%s %s: launching it anyway (degraded)", pipeline.name, day, reason)
        return await self.runs.start_run(pipeline.name, schedule.name, day, readiness=outcome.readiness,
                                         degraded=reason)

    async def skip(self, pipeline: PipelineConfig, schedule_id: str, day: str, reason: str) -> RunOutcome | None:
        """Record the cycle SKIPPED (only if nothing is recorded for it yet) and say so once."""
        now = self.ctx.clock.now()
        entry = RunLogEntry(pipeline_id=pipeline.name, date=day, schedule_id=schedule_id, status=RunStatus.SKIPPED,
                            failure_message=f"skipped: {reason}", alert_sent=True, started_at=now, updated_at=now,
                            completed_at=now)
        if not await self.ctx.store.cas_run_log(entry, None):
            return None  # another pass recorded it (or started a run) first
        await self.ctx.emit(EventKind.CYCLE_SKIPPED, pipeline.name, status=RunStatus.SKIPPED, schedule_id=schedule_id,
                            date=day, message=f"cycle skipped: {reason}", details={"onDeadline": "skip"})
        return RunOutcome(Outcome.SKIPPED, pipeline.name, schedule_id, day, f"cycle {day}/{schedule_id} skipped: "
                          f"{reason}; request a rerun to run it", run_log=entry)
