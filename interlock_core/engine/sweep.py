"""The watchdog sweep: the watchdog's checks over every pipeline, for a deployment with no watcher.

In AWS mode nothing runs a watcher pass: every cycle is a state machine execution started by a
marker, and the state machine polls its own runs. A scheduled function calls :meth:`WatchdogSweep.sweep`
instead. It looks at the same days a watcher pass looks at (:func:`.cycle.days_in_view`) through
the same code (:meth:`.cycle.CyclePass.look_back`), with two differences:

* it never evaluates, launches, polls or reruns: SCHEDULE_MISSED, RUN_STUCK, POST_RUN_SENSOR_MISSING,
  SLA_WARNING / maxDuration / SLA_MET and the completion SLA are judged on what the store holds
  (a dry-run pipeline's scheduler runs are looked up, and its late data checked, as a watcher
  pass does: :mod:`.shadow`);
* self-healing starts a cycle the way AWS mode starts one: a cycle inside its window that is ready
  on its stored trait results with nothing triggered for longer than ``recoveryGrace`` (a lost
  marker), or whose claim outlived the run lease with no run recorded (a crashed function), gets a
  cascade marker from source ``watchdog`` (the table stream turns it into an execution, which
  evaluates and triggers through the normal idempotent gate) and a TRIGGER_RECOVERED event. The
  marker is written once per cycle;
* a cycle whose run is RUNNING, in post-run monitoring, or TRIGGERING past its launcher's lease while
  no execution holds the cycle lease (its execution failed, or stopped polling at the end of its poll
  window) gets a marker too: the new execution adopts the run and polls (a TRIGGERING one is
  relaunched under its run key) or monitors it (listed as ``adopted`` in the summary).

Every check fires once per condition, across sweeps and containers (the ``alert_once`` claims).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..cycles import cycle_day
from ..model import (
    AlertLevel,
    CascadeMarker,
    Event,
    EventKind,
    PipelineConfig,
    RunLogEntry,
    RunStatus,
    ScheduleConfig,
    format_timestamp,
)
from ..schedule import current_cycle, excluded, is_schedule_active, schedule_zone
from .context import EngineContext
from .cycle import CyclePass, days_in_view
from .evaluation import Evaluation
from .runs import ABANDONED_CLAIM, cycle_lease_key
from .watchdog import Watchdog

log = logging.getLogger("interlock.watchdog")
RECOVERY_SOURCE = "watchdog"
ADOPTABLE = (RunStatus.TRIGGERING, RunStatus.RUNNING, RunStatus.COMPLETED_MONITORING)
COUNTED = (EventKind.SCHEDULE_MISSED, EventKind.RUN_STUCK, EventKind.POST_RUN_SENSOR_MISSING,
           EventKind.SLA_WARNING, EventKind.SLA_MET, EventKind.SLA_BREACHED, EventKind.TRIGGER_RECOVERED)


@dataclass
class SweepSummary:
    """What one sweep looked at and what it reported (events per kind)."""

    enabled: bool = True
    pipelines: int = 0
    cycles: int = 0
    events: Counter[str] = field(default_factory=Counter)
    recovered: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "pipelines": self.pipelines, "cycles": self.cycles,
                "counts": {kind.value: self.events.get(kind.value, 0) for kind in COUNTED},
                "recovered": list(self.recovered), "adopted": list(self.adopted), "errors": list(self.errors)}


class WatchdogSweep:
    def __init__(self, ctx: EngineContext, cycles: CyclePass, evaluation: Evaluation, watchdog: Watchdog) -> None:
        self.ctx = ctx
        self.cycles = cycles
        self.evaluation = evaluation
        self.watchdog = watchdog

    async def sweep(self) -> SweepSummary:
        """Run the watchdog's checks for every pipeline × schedule over the cycles in view."""
        summary = SweepSummary(enabled=self.watchdog.enabled)
        if not summary.enabled:
            return summary
        await self.watchdog.since()
        previous = self.ctx.on_event

        async def count(event: Event) -> None:
            summary.events[event.kind.value] += 1
            if previous is not None:
                await previous(event)

        self.ctx.on_event = count
        try:
            for pipeline in await self.ctx.store.list_pipelines():
                summary.pipelines += 1
                for schedule in pipeline.resolved_schedules():
                    summary.cycles += 1
                    try:
                        await self.sweep_cycle(pipeline, schedule, summary)
                    except Exception as exc:  # one broken pipeline does not hide the others
                        summary.errors.append(f"{pipeline.name}/{schedule.name}: {type(exc).__name__}: {exc}")
        finally:
            self.ctx.on_event = previous
        return summary

    async def sweep_cycle(self, pipeline: PipelineConfig, schedule: ScheduleConfig, summary: SweepSummary) -> None:
        today = current_cycle(pipeline, schedule, self.ctx.clock.now())
        if pipeline.retired:  # no check, no alert, nothing started: only a run under way is looked after
            if (day := await self.adopt(pipeline, schedule, today)) is not None:
                summary.adopted.append(f"{pipeline.name}/{schedule.name}/{day}")
            return
        before = await self.cycles.look_back(pipeline, schedule, today, self.watchdog, advance=False)
        if pipeline.dry_run and pipeline.trigger is not None:
            await self.cycles.runs.dry_run.follow(pipeline, schedule, today)
        for record in await self.ctx.store.list_reruns(pipeline.name, limit=50):
            if record.schedule_id != schedule.name or record.status.is_terminal or not record.rerun_run_id:
                continue
            run = await self.ctx.store.get_run(record.rerun_run_id)
            if run is not None and not run.status.is_terminal:
                await self.watchdog.check_stuck(pipeline, run)
        if await self.recover(pipeline, schedule, today, before):
            summary.recovered.append(f"{pipeline.name}/{schedule.name}/{today}")
        elif (day := await self.adopt(pipeline, schedule, today)) is not None:
            summary.adopted.append(f"{pipeline.name}/{schedule.name}/{day}")

    async def adopt(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str) -> str | None:
        """Ask for an execution of a cycle whose run is active while no execution holds its cycle
        lease (its execution failed, or stopped polling after its poll window): the new execution
        adopts the run and polls or monitors it. Returns the cycle's date."""
        if await self.ctx.store.lease_owner(cycle_lease_key(pipeline.name, schedule.name)) is not None:
            return None
        in_view = set(days_in_view(today, pipeline, schedule))
        for entry in await self.ctx.store.list_run_logs(pipeline.name, limit=2 * len(in_view)):
            if entry.schedule_id != schedule.name or entry.date not in in_view or not entry.run_id \
                    or entry.status not in ADOPTABLE:
                continue
            run = await self.ctx.store.get_run(entry.run_id)
            now = self.ctx.clock.now()
            if run is None or run.status not in ADOPTABLE or (
                    run.status is RunStatus.TRIGGERING and run.lease_expires_at is not None
                    and run.lease_expires_at > now):
                continue  # never recorded (see recover), ended, or its launcher is still recording it
            await self.ctx.store.write_cascade_marker(CascadeMarker(
                pipeline_id=pipeline.name, schedule_id=schedule.name, date=entry.date,
                source=f"{RECOVERY_SOURCE}-adopt-{format_timestamp(now)}", timestamp=now))
            log.info("run %s of %s %s/%s is %s with no execution looking after it: execution requested",
                     run.run_id, pipeline.name, entry.date, schedule.name, run.status.value)
            return entry.date
        return None

    async def recover(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str,
                      entry: RunLogEntry | None) -> bool:
        """Ask for an execution of a cycle nothing is moving: ready but never triggered (a lost
        marker), or claimed by a function that died before recording its run (the execution's gate
        releases that claim and launches the same attempt)."""
        if pipeline.trigger is None or pipeline.dry_run:
            return False
        now = self.ctx.clock.now()
        if not is_schedule_active(schedule, now, schedule_zone(pipeline, schedule)) or \
                excluded(pipeline, cycle_day(today), self.ctx.calendars):
            return False
        details = await self._stalled(pipeline, schedule, today, entry)
        if details is None:
            return False
        markers = await self.ctx.store.list_cascade_markers(pipeline.name, today, schedule.name)
        if any(m.source == RECOVERY_SOURCE for m in markers):
            return False
        await self.ctx.store.write_cascade_marker(CascadeMarker(
            pipeline_id=pipeline.name, schedule_id=schedule.name, date=today, source=RECOVERY_SOURCE, timestamp=now))
        reason = f"{details['reason']}; a cycle execution was requested"
        details = {"scheduleId": schedule.name, "date": today, **details, "reason": reason}
        status = entry.status.value if entry else RunStatus.PENDING.value
        recovered = self.ctx.event(EventKind.TRIGGER_RECOVERED, pipeline.name, status=status,
                                   schedule_id=schedule.name, date=today,
                                   message=f"requested by the watchdog: {reason}", details=details)
        await self.ctx.alert_once(f"watchdog:recovered:{pipeline.name}:{schedule.name}:{today}", AlertLevel.WARNING,
                                  f"Pipeline {pipeline.name}: trigger recovered for {today}/{schedule.name}: {reason}",
                                  pipeline.name, details=details, event=recovered, event_always=True,
                                  schedule_id=schedule.name, date=today)
        await self.ctx.wake(pipeline.name, "watchdog", schedule.name, today)
        return True

    async def _stalled(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str,
                       entry: RunLogEntry | None) -> dict[str, Any] | None:
        """Why the cycle needs an execution, or None."""
        now = self.ctx.clock.now()
        if entry is not None and entry.status not in (RunStatus.PENDING, RunStatus.TRIGGERING):
            return None
        if entry is not None and entry.status is RunStatus.TRIGGERING:
            claimed = entry.updated_at
            if not entry.run_id or now < claimed + self.ctx.config.run_lease:
                return None
            if await self.ctx.store.get_run(entry.run_id) is not None:
                return None  # recorded: the execution that launched it polls it
            return {"reason": f"claimed at {format_timestamp(claimed)} but its run was never recorded "
                              f"(a crashed function)", "claimedAt": format_timestamp(claimed)}
        if entry is not None and entry.run_id and entry.failure_message != ABANDONED_CLAIM:
            return None
        readiness = await self.evaluation.check_readiness(pipeline.name)
        if not readiness.ready:
            return None
        ready_since = self.watchdog.ready_since(pipeline, schedule, today, readiness)
        if ready_since is None or now - ready_since <= self.ctx.watcher.watchdog.recovery_grace:
            return None
        return {"reason": f"ready since {format_timestamp(ready_since)} but never triggered (a lost marker)",
                "readySince": format_timestamp(ready_since)}
