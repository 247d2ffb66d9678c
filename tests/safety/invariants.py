"""The invariants, checked after every step: STAMP's four kinds of unsafe control action
(launched while not ready, launched twice, a missing run nobody hears of, a run left stuck),
plus no alert, event or run-log entry lost.

The first two are checked by the test trigger at the moment of launch (``plugin.Behaviour``);
the rest here, against a store connection that sees no injected faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta

from interlock_core.engine.cycle import days_in_view
from interlock_core.model import EventKind, RunState, RunStatus
from interlock_core.schedule import cycle_date, deadlines, excluded, schedule_zone

from .oracle import Launch
from .world import Tick, World

S = RunStatus
DONE = (S.COMPLETED, S.COMPLETED_MONITORING)


@dataclass
class Checker:
    world: World
    settled: set[str] = field(default_factory=set)
    resolved: set[tuple[str, str, str]] = field(default_factory=set)
    owed: dict[tuple[str, str, str], tuple[datetime, datetime]] = field(default_factory=dict)
    ticks_seen: dict[tuple[str, str], int] = field(default_factory=dict)
    first_seen: set[str] = field(default_factory=set)
    orphans: dict[str, datetime] = field(default_factory=dict)
    checked_launches: int = 0

    def fail(self, message: str) -> None:
        self.world.behaviour.ledger.violation(message)

    async def check(self, *, full: bool = False) -> list[str]:
        await self.alerts()
        await self.launches(full=full)
        await self.missing_runs()
        await self.reruns()
        for message in self.world.unexpected:
            self.fail(f"unexpected error: {message}")
        self.world.unexpected.clear()
        return self.world.behaviour.ledger.violations

    # --------------------------------------------------------------------------- alerts
    async def alerts(self) -> None:
        """Every alert submitted is delivered or recorded as failed; none dropped or pending."""
        world = self.world
        for slot in [*world.slots, *world.retired]:
            await slot.dispatcher.deliver_pending()
            stats = slot.dispatcher.stats
            if stats["dropped"] or stats["pending"]:
                self.fail(f"{slot.name}: alerts dropped/pending: {stats}")
        delivered = {id(a) for slot in [*world.slots, *world.retired] for a in slot.sink.delivered}
        failed = {id(a) for a in world.failed_alerts}
        for alert in world.submitted:
            if id(alert) not in delivered and id(alert) not in failed:
                self.fail(f"alert neither delivered nor recorded as failed: {alert.message}")

    # --------------------------------------------------------------------------- launches
    async def launches(self, *, full: bool) -> None:
        for launch in self.world.behaviour.ledger.launches:
            if launch.run_id in self.settled and not full:
                continue
            run = await self.world.observer.get_run(launch.run_id)
            self.checked_launches += 1
            if run is None:
                self.fail(f"launch {launch.run_key} has no run state ({launch.run_id})")
                continue
            if run.run_key != launch.run_key:
                self.fail(f"run {run.run_id} has run key {run.run_key}, launched as {launch.run_key}")
            if launch.run_id not in self.first_seen:
                self.first_seen.add(launch.run_id)
                await self._wanted(launch, run)
            if not launch.rerun and not await self._in_run_log(launch):
                continue
            if await self._stuck(launch, run):
                continue
            if run.status.is_terminal:
                self.settled.add(launch.run_id)

    async def _wanted(self, launch: Launch, run: RunState) -> None:
        """No launch nobody wants: a cycle an operator cancelled is not retried on its own, and a
        drift rerun held by ``autoRerun: false`` is not started by the watcher."""
        ledger = self.world.behaviour.ledger
        if not launch.rerun and launch.attempt > 1:
            before = ledger.by_cycle_attempt.get((launch.pipeline, launch.schedule, launch.date, launch.attempt - 1,
                                                  False))
            previous = await self.world.observer.get_run(before.run_id) if before else None
            if previous is not None and previous.status is S.CANCELLED:
                self.fail(f"{launch.run_key} launched after attempt {launch.attempt - 1} was cancelled")
        if launch.rerun and run.rerun_id:
            record = await self.world.observer.get_rerun(run.rerun_id)
            if record is not None and record.reason == "monitoring_drift_detected":
                # held when every configuration that may have been in force as it was asked for had
                # autoRerun off (one stored at the same instant may have come after the request)
                configs = self.world.configs_at(launch.pipeline, record.requested_at)
                if configs and not any(config.monitoring.auto_rerun for config in configs):
                    self.fail(f"{launch.run_key}: drift rerun {record.rerun_id} started although autoRerun is off")

    async def reruns(self) -> None:
        """A rerun record that is not finished has a run that is not finished, or waits (PENDING);
        one left claimed without a run, or behind its finished run, is repaired by a watcher tick
        once the run lease has passed."""
        now = self.world.clock.now()
        lease = timedelta(minutes=5)
        for name in self.world.configs:
            for record in await self.world.observer.list_reruns(name, 50):
                if record.status.is_terminal or record.status is S.PENDING or not record.rerun_run_id:
                    self.orphans.pop(record.rerun_id, None)
                    continue
                run = await self.world.observer.get_run(record.rerun_run_id)
                if run is not None and not run.status.is_terminal:
                    self.orphans.pop(record.rerun_id, None)
                    continue
                seen = self.orphans.setdefault(record.rerun_id, now)
                probe = RunState(run_id=record.rerun_run_id, pipeline_id=name, status=S.TRIGGERING, created_at=now,
                                 updated_at=now, schedule_id=record.schedule_id, rerun_id=record.rerun_id)
                if self._covering_tick_after(probe, seen + lease):
                    self.fail(f"rerun {record.rerun_id} stuck {record.status.value}: its run "
                              f"{record.rerun_run_id} is {run.status.value if run else 'missing'}")
                    self.orphans.pop(record.rerun_id, None)

    async def _in_run_log(self, launch: Launch) -> bool:
        entry = await self.world.observer.get_run_log(launch.pipeline, launch.date, launch.schedule)
        if entry is None:
            self.fail(f"launch {launch.run_key}: run log entry lost")
            return False
        if entry.run_id != launch.run_id and launch.run_id not in {h.run_id for h in entry.retry_history}:
            trail = [f"{e.timestamp:%m-%d %H:%M} {e.kind.value} {e.run_id} {e.status} {e.message}"
                     for e in self.world.events if e.pipeline_id == launch.pipeline and e.date == launch.date]
            self.fail(f"launch {launch.run_key} ({launch.run_id}) is neither the current run-log run "
                      f"({entry.run_id}, {entry.status.value}, attempt {entry.attempt_number}) nor in its history "
                      f"{[h.run_id for h in entry.retry_history]}; events:\n  " + "\n  ".join(trail))
            return False
        return True

    def _covering_tick_after(self, run: RunState, since: datetime) -> bool:
        """Whether a watcher tick of the run's cycle ran to the end after ``since`` while the run's
        date was still in the watcher's view: the tick's day and the week before, days that are not
        excluded; a rerun's run on any tick of a day that is not excluded."""
        for tick in reversed(self.world.ticks.get((run.pipeline_id, run.schedule_id), [])):
            if tick.at < since:
                return False
            tz = schedule_zone(tick.pipeline, tick.schedule)
            today = cycle_date(tick.at, tz)
            if run.rerun_id:  # pending reruns are looked after on days that are not excluded
                if not excluded(tick.pipeline, Date.fromisoformat(today), self.world.project.calendars):  # type: ignore[union-attr]
                    return True
                continue
            if run.date in days_in_view(today) and not excluded(
                    tick.pipeline, Date.fromisoformat(run.date or today), self.world.project.calendars):  # type: ignore[union-attr]
                return True
        return False

    async def _stuck(self, launch: Launch, run: RunState) -> bool:
        now = self.world.clock.now()
        if run.status is S.TRIGGERING and run.lease_expires_at is not None and run.lease_expires_at < now:
            if self._covering_tick_after(run, run.lease_expires_at):
                self.fail(f"run {run.run_id} ({launch.run_key}) stuck TRIGGERING: lease expired at "
                          f"{run.lease_expires_at.isoformat()}, watcher passed since, now {now.isoformat()}")
                return True
        if run.status is S.COMPLETED_MONITORING:
            config = self.world.configs.get(run.pipeline_id)
            started = run.completed_at or run.updated_at
            if config is not None and config[0].monitoring.enabled:
                window_end = started + config[0].monitoring.duration
                if window_end < now and window_end > config[1] and self._covering_tick_after(run, window_end):
                    self.fail(f"run {run.run_id} ({launch.run_key}) still COMPLETED_MONITORING after its window "
                              f"({window_end.isoformat()}) and a watcher pass; rerun {run.rerun_id}")
                    return True
        return False

    # --------------------------------------------------------------------------- missing runs
    async def missing_runs(self) -> None:
        """A cycle past its completion deadline is COMPLETED, excluded, or has an SLA breach alert or
        event once a watcher tick looked after it later — never nothing. A tick looks after the
        cycles of its day and of the week before it that come after a cycle that ran (a pipeline
        that never ran is not judged backwards: nothing says it was expected)."""
        for key, ticks in self.world.ticks.items():
            for tick in ticks[self.ticks_seen.get(key, 0):]:
                await self._owed_by(tick)
            self.ticks_seen[key] = len(ticks)
        for cycle in sorted(self.owed.keys() - self.resolved):
            await self._resolved(*cycle)

    async def _owed_by(self, tick: Tick) -> None:
        config, schedule = tick.pipeline, tick.schedule
        today = cycle_date(tick.at, schedule_zone(config, schedule))
        ran_before = False
        for day in days_in_view(today):
            if excluded(config, Date.fromisoformat(day), self.world.project.calendars):  # type: ignore[union-attr]
                continue
            entry = await self.world.observer.get_run_log(config.name, day, schedule.name)
            deadline = deadlines(config, schedule, Date.fromisoformat(day)).completion
            if (day == today or ran_before or entry is not None) and deadline is not None and deadline < tick.at:
                self.owed[(config.name, schedule.name, day)] = (tick.at, deadline)
            ran_before = ran_before or entry is not None

    async def _resolved(self, pipeline: str, schedule: str, day: str) -> None:
        key = (pipeline, schedule, day)
        entry = await self.world.observer.get_run_log(pipeline, day, schedule)
        if entry is not None and entry.status in DONE:
            self.resolved.add(key)
            return
        sla = f"sla:completion:{pipeline}:{schedule}:{day}"
        if any(a.key == sla for a in self.world.submitted) or any(
                e.kind is EventKind.SLA_BREACHED and e.pipeline_id == pipeline and e.schedule_id == schedule
                and e.date == day for e in self.world.events):
            self.resolved.add(key)
            return
        at, deadline = self.owed[key]
        self.fail(f"silently missing run: {pipeline}/{schedule}/{day} past its completion deadline "
                  f"{deadline.isoformat()}; watcher tick at {at.isoformat()}; run log "
                  f"{entry.status.value if entry else 'none'}")
        self.resolved.add(key)
