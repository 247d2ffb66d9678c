"""One pass over one pipeline × schedule: look after its active runs, check its SLAs and the
watchdog's conditions, start it when it is due, and run its pending reruns. The watcher calls this;
so can tests and tools."""

from __future__ import annotations

import logging
from datetime import timedelta

from ..cycles import cycle_day
from ..model import EventKind, PipelineConfig, RunLogEntry, RunState, RunStatus, ScheduleConfig
from ..schedule import (
    current_cycle,
    cycle_opens,
    cycles_in_view,
    deadlines,
    excluded,
    has_cycle,
    is_schedule_active,
    schedule_zone,
)
from .beyond_view import BeyondView
from .callbacks import Callbacks
from .catch_up import CatchUp, Plan, window_of
from .context import EngineContext
from .deadline_policy import DeadlinePolicies
from .late_data import LateData
from .monitoring import Monitoring
from .outcome import Outcome, RunOutcome
from .reruns import Reruns
from .retirement import follow_up
from .runs import Runs
from .sla import SLAChecks
from .watchdog import Watchdog

log = logging.getLogger("interlock.watcher")
S = RunStatus

LOOKBACK_DAYS = 7
"""How many days back each tick looks after a cycle: active runs there are moved along (an orphan
is reconciled) and missed cycles judged, so a watcher that was away for a while, or a deadline
past midnight, never leaves a run stuck or a missing run unnoticed."""


def days_in_view(today: str, pipeline: PipelineConfig | None = None,
                 schedule: ScheduleConfig | None = None) -> list[str]:
    """The cycles a tick looks after, oldest first, ending with ``today`` (the current cycle): the
    ``LOOKBACK_DAYS`` days before it, or a sub-daily schedule's latest cycles within them."""
    if pipeline is not None and schedule is not None:
        return cycles_in_view(pipeline, schedule, today, LOOKBACK_DAYS)
    day = cycle_day(today)
    return [(day - timedelta(days=back)).isoformat() for back in range(LOOKBACK_DAYS, -1, -1)]


class CyclePass:
    def __init__(self, ctx: EngineContext, runs: Runs, callbacks: Callbacks, monitoring: Monitoring,
                 reruns: Reruns, sla: SLAChecks, watchdog: Watchdog | None = None,
                 late_data: LateData | None = None) -> None:
        self.ctx = ctx
        self.late_data = late_data
        self.watchdog = watchdog
        self.runs = runs
        self.callbacks = callbacks
        self.monitoring = monitoring
        self.reruns = reruns
        self.sla = sla
        self.on_deadline = DeadlinePolicies(ctx, runs)
        self.catch_up = CatchUp(ctx, LOOKBACK_DAYS)
        self.beyond_view = BeyondView(ctx, LOOKBACK_DAYS)

    @property
    def active_watchdog(self) -> Watchdog | None:
        """The watchdog, when there is one and it is enabled."""
        return self.watchdog if self.watchdog is not None and self.watchdog.enabled else None

    async def advance(self, run: RunState) -> RunState:
        """Move an active run along: relaunch an orphan under its run key, poll a running job,
        monitor a completed one."""
        if run.status is S.TRIGGERING:
            return await self.runs.reconcile(run.run_id)
        if run.status is S.RUNNING:
            return await self.callbacks.poll_run(run.run_id)
        if run.status is S.COMPLETED_MONITORING:
            return await self.monitoring.check(run)
        return run

    async def tick(self, pipeline: PipelineConfig, schedule: ScheduleConfig) -> RunOutcome | None:
        now = self.ctx.clock.now()
        tz = schedule_zone(pipeline, schedule)
        today = current_cycle(pipeline, schedule, now)
        if pipeline.retired:  # its file was deleted: only runs under way are looked after
            view = days_in_view(today, pipeline, schedule)
            followed = await follow_up(self.ctx, self.advance, pipeline, schedule, view)
            await self.beyond_view.follow(pipeline, schedule, view, self.advance)
            return followed
        dog = self.active_watchdog
        if dog is not None:
            await dog.since()  # the start mark is written on the first pass, not when first needed
        before = await self.look_back(pipeline, schedule, today, dog)
        await self.beyond_view.follow(pipeline, schedule, days_in_view(today, pipeline, schedule), self.advance,
                                      after=(lambda run: dog.check_stuck(pipeline, run)) if dog is not None else None)
        if pipeline.dry_run:  # what the scheduler in place did, and late data (nothing is launched)
            await self.runs.dry_run.follow(pipeline, schedule, today)
        plan = await self.catch_up.plan(pipeline, schedule, today) if pipeline.trigger is not None else Plan()
        await self.work_caught_up(pipeline, schedule)
        if excluded(pipeline, cycle_day(today), self.ctx.calendars) or not has_cycle(pipeline, schedule, today):
            return None
        outcome = None
        if pipeline.trigger is not None and is_schedule_active(schedule, now, tz) and not plan.skip_current:
            outcome = await self.runs.start_run(pipeline.name, schedule.name, today)
            if outcome.readiness is not None:
                await self.ctx.emit(EventKind.WATCHER_EVALUATION, pipeline.name, status=outcome.readiness.status,
                                    schedule_id=schedule.name, date=today)
            if outcome.outcome is Outcome.NOT_READY:
                await self.sla.check_evaluation(pipeline, schedule, today)
                at_deadline = await self.on_deadline.after_not_ready(
                    pipeline, schedule, today, outcome,
                    sla_deadline=deadlines(pipeline, schedule, today).evaluation)
                if at_deadline is not None:
                    outcome = at_deadline
                else:
                    await self.sla.check_validation(pipeline, schedule, today)
            if dog is not None:
                await dog.after_start(pipeline, schedule, today, before, outcome)
            await self.after_completion(pipeline, schedule, today, outcome)
        await self.pending_reruns(pipeline, schedule)
        return outcome

    async def work_caught_up(self, pipeline: PipelineConfig, schedule: ScheduleConfig) -> None:
        """The cycles ``catchUp: all`` runs, oldest first, one at a time, each gated like any run: a
        pass moves the oldest one along (evaluates it, starts it, or follows its run) and goes on to
        the next only once it ran (or has nothing left to do); a cycle leaving the catch-up window
        is dropped."""
        pending = sorted(self.catch_up.pending(pipeline.name, schedule.name))
        floor = self.ctx.clock.now() - window_of(schedule, LOOKBACK_DAYS)
        for key in pending:
            if cycle_opens(pipeline, schedule, key) < floor:
                await self.catch_up.done(pipeline, schedule, key)
                continue
            entry = await self.ctx.store.get_run_log(pipeline.name, key, schedule.name)
            if entry is not None and not entry.status.is_terminal and entry.run_id:
                run = await self.ctx.store.get_run(entry.run_id)
                if run is not None and not run.status.is_terminal:
                    await self.advance(run)
                    return
            outcome = await self.runs.start_run(pipeline.name, schedule.name, key)
            if outcome.readiness is not None:
                await self.ctx.emit(EventKind.WATCHER_EVALUATION, pipeline.name, status=outcome.readiness.status,
                                    schedule_id=schedule.name, date=key)
            if outcome.outcome in (Outcome.TRIGGERED, Outcome.NOT_READY, Outcome.BACKOFF, Outcome.IN_PROGRESS,
                                   Outcome.CLAIM_LOST):
                return  # under way, or not ready yet: the next pass looks again
            await self.catch_up.done(pipeline, schedule, key)

    async def after_completion(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                               outcome: RunOutcome) -> None:
        """A cycle found completed (dedup) is looked at for late data: trait values or upstream
        runs that changed since its run was launched (the pass was woken by a push or a cascade,
        or it is the periodic resync)."""
        if outcome.outcome is Outcome.DUPLICATE and self.late_data is not None:
            await self.late_data.check(pipeline, schedule.name, day)

    async def woken_day(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str) -> RunOutcome | None:
        """A past cycle a wake-up named — an upstream's run for ``day`` that completed after
        midnight or a backfill of it (a cascade marker), the cycle's own run for ``day`` that ended
        (a retry may be due): started when ready, like today's. Only a cycle that began (its run log
        has an entry) or that an upstream completed (a cascade marker) is started: a wake-up never
        starts a day the schedule did not run (a rerun of such a day is that day's run). None when
        there is nothing to start for that day."""
        if pipeline.trigger is None or excluded(pipeline, cycle_day(day), self.ctx.calendars):
            return None
        entry = await self.ctx.store.get_run_log(pipeline.name, day, schedule.name)
        if entry is None and not await self.ctx.store.list_cascade_markers(pipeline.name, day, schedule.name):
            return None
        outcome = await self.runs.start_run(pipeline.name, schedule.name, day)
        if outcome.readiness is not None:
            await self.ctx.emit(EventKind.WATCHER_EVALUATION, pipeline.name, status=outcome.readiness.status,
                                schedule_id=schedule.name, date=day)
        await self.after_completion(pipeline, schedule, day, outcome)
        return outcome

    async def marked_days(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str) -> list[str]:
        """The past days in view that an upstream completed (a cascade marker) and that have not run:
        what a watcher that was away when the cascade's wake-up came still has to work."""
        if pipeline.trigger is None or not pipeline.upstream_pipelines():
            return []
        days = []
        for day in days_in_view(today, pipeline, schedule)[:-1]:
            if excluded(pipeline, cycle_day(day), self.ctx.calendars):
                continue
            if await self.ctx.store.get_run_log(pipeline.name, day, schedule.name) is None and \
                    await self.ctx.store.list_cascade_markers(pipeline.name, day, schedule.name):
                days.append(day)
        return days

    async def look_back(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str,
                        dog: Watchdog | None, *, advance: bool = True) -> RunLogEntry | None:
        """The days in view up to ``today``: move active runs along (unless ``advance`` is off: in
        AWS mode the state machine polls), check SLAs and the watchdog's conditions. Returns today's
        run-log entry as it stood."""
        ran_before = False
        before: RunLogEntry | None = None
        days = [d for d in days_in_view(today, pipeline, schedule)
                if not excluded(pipeline, cycle_day(d), self.ctx.calendars) and has_cycle(pipeline, schedule, d)]
        # the days in view in one read; a day whose run is moved along is read again
        stored = await self.ctx.store.read_cycles([(pipeline.name, day, schedule.name) for day in days])
        for day in days:
            entry = stored.get((pipeline.name, day, schedule.name))
            run = None
            if entry is not None and not entry.status.is_terminal and entry.run_id:
                run = await self.ctx.store.get_run(entry.run_id)
                if run is not None and not run.status.is_terminal:
                    if dog is not None:
                        await dog.check_sensor(pipeline, run)
                    if advance:
                        run = await self.advance(run)
                    if dog is not None:
                        await dog.check_stuck(pipeline, run)
                    entry = await self.ctx.store.get_run_log(pipeline.name, day, schedule.name)
            if day == today:
                before = entry
            # a never-started cycle is judged on its own day, or once the cycle has run on an earlier
            # day in view (then it was expected; a pipeline that never ran is not judged backwards)
            if day == today or entry is not None or ran_before:
                await self.sla.check_completion(pipeline, schedule, day, entry)
            if dog is not None:
                await dog.check_cycle(pipeline, schedule, day, entry, run, sla=day == today or entry is not None)
            ran_before = ran_before or entry is not None
        return before

    async def pending_reruns(self, pipeline: PipelineConfig, schedule: ScheduleConfig) -> None:
        for record in await self.ctx.store.list_reruns(pipeline.name, limit=50):
            if record.schedule_id != schedule.name or record.status.is_terminal:
                continue
            if record.rerun_run_id:
                run = await self.ctx.store.get_run(record.rerun_run_id)
                if run is not None and not run.status.is_terminal:
                    run = await self.advance(run)
                    if self.active_watchdog is not None:
                        await self.active_watchdog.check_stuck(pipeline, run)
                    continue
                if record.status is not S.PENDING:  # claimed, but its run ended or never came: repair
                    repaired = await self.reruns.repair(record, run)
                    if repaired is None or repaired.status is not S.PENDING:
                        continue
                    record = repaired
            if record.status is S.PENDING and record.metadata.get("autoRerun", True) is not False:
                await self.reruns.start_pending(record)
