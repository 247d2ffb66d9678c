"""The watchdog: what a watcher pass notices when something that should have happened did not.

* SCHEDULE_MISSED — a cycle's window (``after`` until its deadline; for a pipeline with an
  ``include:`` list and no deadline, until the end of the day) closed with no evaluation and no run;
* RUN_STUCK — a run TRIGGERING or RUNNING for longer than its expected duration (it is polled on
  every pass regardless);
* TRIGGER_RECOVERED — a cycle that was ready (or whose claimer died) was triggered by a watcher
  pass rather than at once: a lost wake-up or a crashed replica, healed through ``start_run``;
* POST_RUN_SENSOR_MISSING — a run in post-run monitoring with no trait result newer than its
  completion after ``sensorTimeout``;
* SLA_WARNING, the relative ``maxDuration`` SLA and SLA_MET (see :mod:`.sla`).

Each fires once (an ``alert_once`` claim in the store, shared by every replica) and records an
event. The watchdog is forward-only: the first watchdog on a store writes a start mark, and a
window that closed before it is never reported, so a first start does not flood. It works only
on what the cycle pass already read, plus a few store reads for cycles whose window just closed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..cycles import cycle_day
from ..durations import format_duration
from ..model import (
    AlertLevel,
    EventKind,
    PipelineConfig,
    ReadinessResult,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    TraitStatus,
    format_timestamp,
)
from ..schedule import cycle_opens, excluded, window_closes
from .context import EngineContext
from .outcome import Outcome, RunOutcome
from .runs import ABANDONED_CLAIM
from .sla import SLAChecks

log = logging.getLogger("interlock.watchdog")
S = RunStatus

START_MARK = "watchdog:since"
START_MARK_TTL = timedelta(days=400)
FIRST_PASS_TTL = timedelta(days=9)
EVENTS_SCANNED = 500
_MEMO_LIMIT = 100_000


def _instant(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def has_window(pipeline: PipelineConfig, schedule: ScheduleConfig) -> bool:
    """Whether the pipeline's cycles have a window that can be missed (see :func:`window_closes`)."""
    evaluation = pipeline.sla.evaluation_deadline if pipeline.sla else None
    return bool(schedule.deadline or evaluation or pipeline.include is not None)


class Watchdog:
    def __init__(self, ctx: EngineContext, sla: SLAChecks) -> None:
        self.ctx = ctx
        self.sla = sla
        self._since: datetime | None = None
        self._judged: set[str] = set()  # conditions this process has settled: never looked at again
        self._first_pass: dict[str, datetime] = {}

    @property
    def enabled(self) -> bool:
        return self.ctx.watcher.watchdog.enabled

    def _judge(self, key: str) -> bool:
        """True the first time ``key`` is judged by this process."""
        if key in self._judged:
            return False
        if len(self._judged) > _MEMO_LIMIT:
            self._judged.clear()
        self._judged.add(key)
        return True

    async def since(self) -> datetime:
        """The watchdog's start mark on this store: windows closing before it are never reported."""
        if self._since is None:
            store = self.ctx.store
            mark = _instant(await store.lease_owner(START_MARK))
            if mark is None:
                now = format_timestamp(self.ctx.clock.now())
                await store.acquire_lease(START_MARK, now, START_MARK_TTL.total_seconds())
                mark = _instant(await store.lease_owner(START_MARK)) or _instant(now)
            self._since = mark
        assert self._since is not None
        return self._since

    # ------------------------------------------------------------------------- a cycle
    async def check_cycle(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                          entry: RunLogEntry | None, run: RunState | None, *, sla: bool = True) -> None:
        """The per-day checks of a cycle the pass looked at: missed window, and (when ``sla``: today,
        or a day that ran) SLA warning, ``maxDuration`` and SLA met."""
        await self.check_missed(pipeline, schedule, day, entry)
        if not sla or (pipeline.sla is None and schedule.deadline is None):
            return
        first_pass = await self.first_pass(pipeline, schedule, day)
        await self.sla.check_at_risk(pipeline, schedule, day, entry, run, first_pass)
        await self.sla.check_max_duration(pipeline, schedule, day, entry, first_pass)
        await self.sla.check_met(pipeline, schedule, day, entry, first_pass)

    async def check_missed(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                           entry: RunLogEntry | None) -> bool:
        """SCHEDULE_MISSED once when the window of ``day`` closed with no run and no evaluation."""
        if entry is not None or not has_window(pipeline, schedule):
            return False
        key = f"watchdog:missed:{pipeline.name}:{schedule.name}:{day}"
        if key in self._judged:
            return False
        the_day = cycle_day(day)
        closes = window_closes(pipeline, schedule, day)
        if closes is None or closes > self.ctx.clock.now() or not self._judge(key):
            return False
        if closes < await self.since() or excluded(pipeline, the_day, self.ctx.calendars):
            return False
        if await self._evaluated(pipeline, schedule, day):
            return False  # evaluated but never ready (the evaluation SLA speaks for it), or skipped by catch-up
        opens = cycle_opens(pipeline, schedule, day)
        window = f"{format_timestamp(opens)} - {format_timestamp(closes)}"
        details = {"scheduleId": schedule.name, "date": day, "windowOpens": format_timestamp(opens),
                   "windowCloses": format_timestamp(closes)}
        missed = self.ctx.event(EventKind.SCHEDULE_MISSED, pipeline.name, schedule_id=schedule.name, date=day,
                                status="NOT_STARTED", message=f"window {window} closed with no evaluation and no run",
                                details=details)
        return await self.ctx.alert_once(
            key, AlertLevel.ERROR,
            f"Pipeline {pipeline.name} missed its schedule: cycle {day}/{schedule.name} window {window} "
            f"closed with no evaluation and no run", pipeline.name, details=details, event=missed,
            schedule_id=schedule.name, date=day)

    async def _evaluated(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str) -> bool:
        kinds = (EventKind.READINESS_CHECKED, EventKind.WATCHER_EVALUATION, EventKind.CYCLE_SKIPPED)
        return any(e.kind in kinds and e.schedule_id == schedule.name and e.date == day
                   for e in await self.ctx.store.list_events(pipeline.name, EVENTS_SCANNED))

    # ------------------------------------------------------------------------- runs
    async def check_stuck(self, pipeline: PipelineConfig, run: RunState) -> bool:
        """RUN_STUCK once per run TRIGGERING/RUNNING longer than its expected duration (called after
        the pass polled it)."""
        if run.status not in (S.TRIGGERING, S.RUNNING):
            return False
        expected = self.sla.expected_duration(pipeline)
        elapsed = self.ctx.clock.now() - run.created_at
        key = f"watchdog:stuck:{run.run_id}"
        if elapsed <= expected or not self._judge(key):
            return False
        details = {"runId": run.run_id, "scheduleId": run.schedule_id, "date": run.date,
                   "elapsedSeconds": round(elapsed.total_seconds()), "expectedDuration": format_duration(expected)}
        stuck = self.ctx.event(EventKind.RUN_STUCK, pipeline.name, run_id=run.run_id, status=run.status.value,
                               schedule_id=run.schedule_id, date=run.date, details=details,
                               message=f"{run.status.value} for {format_duration(elapsed)}, longer than the "
                                       f"expected {format_duration(expected)}; polled again on every pass")
        return await self.ctx.alert_once(
            key, AlertLevel.WARNING,
            f"Pipeline {pipeline.name} run {run.run_id} stuck: {run.status.value} for "
            f"{format_duration(elapsed)} (expected duration {format_duration(expected)})",
            pipeline.name, details=details, event=stuck, schedule_id=run.schedule_id, date=run.date)

    async def check_sensor(self, pipeline: PipelineConfig, run: RunState) -> bool:
        """POST_RUN_SENSOR_MISSING once when a monitored run saw no trait result within ``sensorTimeout``."""
        timeout = pipeline.monitoring.sensor_timeout
        if run.status is not S.COMPLETED_MONITORING or not pipeline.monitoring.enabled or timeout is None:
            return False
        started = _instant(run.metadata.get("monitoringStartedAt")) or run.completed_at or run.updated_at
        key = f"watchdog:sensor:{run.run_id}"
        if self.ctx.clock.now() < started + timeout or not self._judge(key):
            return False
        if any(t.evaluated_at > started for t in await self.ctx.store.list_traits(pipeline.name)):
            return False
        details = {"runId": run.run_id, "scheduleId": run.schedule_id, "date": run.date,
                   "sensorTimeout": format_duration(timeout), "monitoringStartedAt": format_timestamp(started)}
        missing = self.ctx.event(EventKind.POST_RUN_SENSOR_MISSING, pipeline.name, run_id=run.run_id,
                                 schedule_id=run.schedule_id, date=run.date, details=details,
                                 message="no drift or validation signal within sensorTimeout "
                                         f"{format_duration(timeout)}")
        return await self.ctx.alert_once(
            key, AlertLevel.WARNING,
            f"Pipeline {pipeline.name} run {run.run_id}: no post-run trait signal within "
            f"{format_duration(timeout)} of completion", pipeline.name, details=details, event=missing,
            schedule_id=run.schedule_id, date=run.date)

    # ------------------------------------------------------------------------- triggers
    async def after_start(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                          before: RunLogEntry | None, outcome: RunOutcome) -> None:
        """After the pass's ``start_run``: remember the first trait pass and spot a recovered trigger."""
        if outcome.readiness is not None:
            await self._mark_first_pass(pipeline, schedule, day, outcome.readiness)
        if outcome.outcome is not Outcome.TRIGGERED or outcome.run is None:
            return
        reason = None
        now = self.ctx.clock.now()
        if before is not None and _abandoned(before, outcome.run):
            reason = "the previous claim was abandoned before its run was recorded (a crashed replica)"
        elif before is None and outcome.readiness is not None:
            ready_since = self.ready_since(pipeline, schedule, day, outcome.readiness)
            if ready_since is not None and now - ready_since > self.ctx.watcher.watchdog.recovery_grace:
                reason = (f"ready since {format_timestamp(ready_since)} but not triggered until this pass "
                          f"(a lost wake-up)")
        if reason is None:
            return
        run = outcome.run
        details = {"runId": run.run_id, "scheduleId": schedule.name, "date": day, "reason": reason}
        recovered = self.ctx.event(EventKind.TRIGGER_RECOVERED, pipeline.name, run_id=run.run_id,
                                   status=run.status.value, schedule_id=schedule.name, date=day,
                                   message=f"triggered by the watchdog: {reason}", details=details)
        await self.ctx.alert_once(f"watchdog:recovered:{run.run_id}", AlertLevel.WARNING,
                                  f"Pipeline {pipeline.name}: trigger recovered for {day}/{schedule.name} "
                                  f"(run {run.run_id}): {reason}", pipeline.name, details=details,
                                  event=recovered, event_always=True, schedule_id=schedule.name, date=day)

    def ready_since(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                     readiness: ReadinessResult) -> datetime | None:
        passing = [t.evaluated_at for t in readiness.traits if t.status == TraitStatus.PASS]
        if not passing:
            return None
        opens = cycle_opens(pipeline, schedule, day)
        return max([*passing, opens])

    # ------------------------------------------------------------------------- first trait pass
    async def _mark_first_pass(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str,
                               readiness: ReadinessResult) -> None:
        if pipeline.sla is None or pipeline.sla.max_duration is None:
            return
        key = f"firstpass:{pipeline.name}:{schedule.name}:{day}"
        if key in self._first_pass:
            return
        passing = [t.evaluated_at for t in readiness.traits if t.status == TraitStatus.PASS]
        if not passing:
            return
        opens = cycle_opens(pipeline, schedule, day)
        first = max(min(passing), opens)
        await self.ctx.store.acquire_lease(key, format_timestamp(first), FIRST_PASS_TTL.total_seconds())
        await self.first_pass(pipeline, schedule, day)

    async def first_pass(self, pipeline: PipelineConfig, schedule: ScheduleConfig, day: str) -> datetime | None:
        """When a trait of the cycle first passed (kept in the store; the first writer wins)."""
        if pipeline.sla is None or pipeline.sla.max_duration is None:
            return None
        key = f"firstpass:{pipeline.name}:{schedule.name}:{day}"
        if key not in self._first_pass:
            mark = _instant(await self.ctx.store.lease_owner(key))
            if mark is None:
                return None
            if len(self._first_pass) > _MEMO_LIMIT:
                self._first_pass.clear()
            self._first_pass[key] = mark
        return self._first_pass[key]


def _abandoned(before: RunLogEntry, run: RunState) -> bool:
    """Whether ``run`` took over a claim a crashed replica left: the claim was released earlier
    (PENDING with the abandonment message), or this very start found it unrecorded past its lease
    and launched the same attempt (a claim still in flight answers IN_PROGRESS, never a run)."""
    if before.failure_message == ABANDONED_CLAIM and before.status in (S.PENDING, S.FAILED):
        return True
    return before.status is S.TRIGGERING and run.attempt == before.attempt_number
