"""The watcher: evaluates each watched pipeline × schedule on its own interval, and at once when
a trait result is pushed, a run completes or a cascade marker is written.

A wake-up names the cycle it is about: besides today's, the watcher works a past day a wake-up
names within the look-back window (``LOOKBACK_DAYS``) — an upstream's nightly run for that day that
completed after midnight, or a backfill — on each pass over the cycle until that day has run (or
has nothing left to do, or leaves the window). A day outside the window is ignored with a log line.
A watcher that starts looks once per cycle for past days in view that an upstream completed (a
cascade marker) and that never ran, so a cascade whose wake-up came while it was away is not lost.

A cycle that has completed for the day is *settled*: later passes skip it without touching the
store until its next day, a wake-up for its pipeline (a rerun request, a pushed trait, a run
ending, a cascade marker, a re-registration), a change of its configuration, or the periodic
resync (every ``resync`` seconds) — so a watcher over thousands of finished pipelines costs little.

A pass reads what its cycles that may be idle are judged by in a few batches up front
(:mod:`.idle_cycles`: the run logs in view, the reruns, today's runs, the trait rows to compare). A
cycle found completed and idle there (today's run completed, every day in view settled, no rerun
under way, nothing woken, no catch-up, SLA, window or cascade to judge, not a dry run) is not
leased: the one thing a pass does for it, the late-data check of today's run when that run
recorded its inputs (reads; what it alerts or reruns is claimed once across replicas), runs
without the lease, and the cycle is settled — with no check to make, at once, without a task.
Only cycles with work take the cycle lease (two durable writes).

Cycles are claimed with owner-token leases, so several watchers (replicas) on one store never
work the same cycle at the same time; ticks run concurrently, so one slow evaluator or trigger
never delays another pipeline; a store outage makes the watcher back off and resume by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import anyio

from .cycles import cycle_day, next_fire
from .dates import run_date_problem
from .engine import Engine
from .engine.catch_up import takes_part
from .engine.cycle import LOOKBACK_DAYS, days_in_view
from .engine.deadline_policy import next_evaluation
from .engine.outcome import Outcome, RunOutcome
from .errors import InterlockError, NotFoundError, PipelineRetired, StoreUnavailable
from .idle_cycles import IDLE_RERUN_SCAN, Candidate, CycleId, LateCheck, read_idle
from .metrics import METRICS
from .model import PipelineConfig, ScheduleConfig
from .schedule import current_cycle, excluded, has_cycle, schedule_zone
from .tracing import NO_SPAN, span

log = logging.getLogger("interlock.watcher")

OPEN_OUTCOMES = frozenset({Outcome.NOT_READY, Outcome.BACKOFF, Outcome.IN_PROGRESS, Outcome.CLAIM_LOST,
                           Outcome.TRIGGERED})
"""A woken past day with one of these outcomes still has work ahead (readiness, a retry, its run)."""

@dataclass
class PassStats:
    cycles: int = 0
    settled: int = 0
    skipped_busy: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    lag: float = 0.0
    """Seconds the most overdue cycle of the pass waited past its due time."""


class Watcher:
    def __init__(self, engine: Engine, *, resolution: float = 0.25, list_refresh: float = 5.0,
                 max_backoff: float = 30.0, resync: float = 300.0, cycle_lease: float = 15.0) -> None:
        self.engine = engine
        self.ctx = engine.ctx
        self.resolution = resolution
        self.list_refresh = list_refresh
        self.max_backoff = max_backoff
        self._due: dict[CycleId, datetime] = {}
        self._woken: set[str] = set()
        self._woken_days: dict[str, set[tuple[str | None, str]]] = {}
        self._open_days: dict[CycleId, set[str]] = {}
        self._looked_back: set[CycleId] = set()
        self._in_flight: set[CycleId] = set()
        self._wake_event = anyio.Event()
        self._pipelines: list[PipelineConfig] = []
        self._listed_at: float | None = None
        self._limit = anyio.CapacityLimiter(self.ctx.watcher.max_concurrent_cycles)
        self.resync = resync
        self.cycle_lease = cycle_lease
        self._settled: dict[CycleId, str] = {}
        self._settled_configs: dict[str, PipelineConfig] = {}
        self._plain_days: dict[str, list[str]] = {}
        self._woken_now: set[str] = set()
        self._resynced_at: float | None = None
        self.outage = False
        self.last_pass_at: datetime | None = None
        self.passes = 0
        self.ctx.wake_listeners.append(lambda wake: self.wake(wake.pipeline_id, wake.schedule_id, wake.date))

    # ------------------------------------------------------------------------- selection
    def _cycles(self, pipelines: Iterable[PipelineConfig]) -> list[tuple[PipelineConfig, ScheduleConfig]]:
        return [(p, s) for p in pipelines if p.watched and p.trigger is not None for s in p.resolved_schedules()]

    def _today(self, pipeline: PipelineConfig, schedule: ScheduleConfig) -> str:
        return current_cycle(pipeline, schedule, self.ctx.clock.now())

    def _is_settled(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str) -> bool:
        cid = (pipeline.name, schedule.name)
        day = self._settled.get(cid)
        if day is None:
            return False
        if day != today or self._settled_configs.get(pipeline.name) != pipeline:
            del self._settled[cid]
            return False
        return True

    async def _settle(self, pipeline: PipelineConfig, schedule: ScheduleConfig, outcome: Outcome | None) -> None:
        """Remember a cycle that completed today (or a retired pipeline's) and has nothing left to look after."""
        if outcome not in (Outcome.DUPLICATE, Outcome.SKIPPED, Outcome.RETIRED):
            return
        if self._open_days.get((pipeline.name, schedule.name)) or \
                self.engine.cycles.catch_up.pending(pipeline.name, schedule.name) or \
                self.engine.cycles.beyond_view.following(pipeline.name, schedule.name):
            return
        reruns = await self.ctx.store.list_reruns(pipeline.name, limit=IDLE_RERUN_SCAN)
        # a retired pipeline's PENDING reruns wait for its file to come back: nothing to look after
        if any(r.schedule_id == schedule.name and not r.status.is_terminal
               and (outcome is not Outcome.RETIRED or r.rerun_run_id) for r in reruns):
            return
        today = self._today(pipeline, schedule)
        stored = await self.ctx.store.read_cycles(
            [(pipeline.name, day, schedule.name) for day in days_in_view(today, pipeline, schedule)])
        if any(not entry.status.is_terminal for entry in stored.values()):
            return
        self._settled[(pipeline.name, schedule.name)] = today
        self._settled_configs[pipeline.name] = pipeline

    def _open_woken_days(self, pipeline: PipelineConfig, schedule: ScheduleConfig,
                         woken: Iterable[tuple[str | None, str]]) -> None:
        """Remember the past days wake-ups named for this cycle (today's is worked anyway)."""
        today = self._today(pipeline, schedule)
        in_view = days_in_view(today, pipeline, schedule)
        for schedule_id, day in woken:
            if (schedule_id is not None and schedule_id != schedule.name) or day == today:
                continue
            if day not in in_view:
                problem = run_date_problem(day)
                why = problem or ("a day after today" if day > today
                                  else f"outside the look-back window of {LOOKBACK_DAYS} days")
                log.info("wake-up of %s/%s for %s ignored: %s (today is %s)", pipeline.name, schedule.name,
                         "a bad date" if problem else day, why, today)
                continue
            self._open_days.setdefault((pipeline.name, schedule.name), set()).add(day)

    async def _work(self, pipeline: PipelineConfig, schedule: ScheduleConfig) -> RunOutcome | None:
        """The past days wake-ups named that still need a pass, then today's pass over the cycle: its
        look-back (SLA and watchdog checks over the days in view) then judges those days as they now
        stand, a past day's run started here included."""
        cid = (pipeline.name, schedule.name)
        today = self._today(pipeline, schedule)
        if cid not in self._looked_back:  # once per watcher: cascades into past days it did not hear of
            self._looked_back.add(cid)
            for day in await self.engine.cycles.marked_days(pipeline, schedule, today):
                self._open_days.setdefault(cid, set()).add(day)
        in_view = set(days_in_view(today, pipeline, schedule))
        for day in sorted(self._open_days.get(cid, ())):
            past = await self.engine.cycles.woken_day(pipeline, schedule, day) if day in in_view else None
            if past is None or past.outcome not in OPEN_OUTCOMES:
                days = self._open_days.get(cid, set())
                days.discard(day)
                if not days:
                    self._open_days.pop(cid, None)
        return await self.engine.cycles.tick(pipeline, schedule)

    async def _hold_lease(self, key: str) -> None:
        """Renew the cycle lease while the tick runs, so a crashed replica frees its cycles quickly."""
        while True:
            await anyio.sleep(self.cycle_lease / 3)
            try:
                await self.ctx.store.acquire_lease(key, self.ctx.owner, self.cycle_lease)
            except StoreUnavailable:
                pass  # the tick itself will run into the outage

    async def _pipelines_now(self, force: bool = False) -> list[PipelineConfig]:
        mono = self.ctx.clock.monotonic()
        if force or self._listed_at is None or mono - self._listed_at >= self.list_refresh or self._woken:
            self._pipelines = await self.ctx.store.list_pipelines()
            self._listed_at = mono
        return self._pipelines

    # ------------------------------------------------------------------------- idle cycles
    def _in_view(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str) -> list[str]:
        """The days the look-back judges (not excluded, with a cycle), ending with today's."""
        if not schedule.cron and pipeline.exclusions is None and pipeline.include is None:
            if (plain := self._plain_days.get(today)) is None:  # every day in view: one list for all such cycles
                plain = self._plain_days[today] = days_in_view(today)
            return plain
        try:
            return [d for d in days_in_view(today, pipeline, schedule)
                    if not excluded(pipeline, cycle_day(d), self.ctx.calendars) and has_cycle(pipeline, schedule, d)]
        except InterlockError:  # e.g. an unknown calendar: the tick reports it
            return []

    def _may_be_idle(self, pipeline: PipelineConfig, schedule: ScheduleConfig) -> bool:
        """Whether nothing but the run logs in view (and its reruns) can give the cycle work: no
        wake-up, past day, catch-up, cascade look-back, SLA, window, dry run or retirement to look after."""
        cid = (pipeline.name, schedule.name)
        return (pipeline.name not in self._woken_now and not pipeline.retired and not pipeline.dry_run
                and pipeline.sla is None and schedule.deadline is None and pipeline.include is None
                and not takes_part(schedule) and not self._open_days.get(cid)
                and (cid in self._looked_back or not pipeline.upstream_pipelines())
                and not self.engine.cycles.catch_up.pending(pipeline.name, schedule.name))

    def _settle_idle(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str, stats: PassStats) -> None:
        """Settle, without the cycle lease, a cycle found completed and idle (counted as its tick
        counted it: a DUPLICATE outcome)."""
        stats.cycles += 1
        stats.outcomes[Outcome.DUPLICATE.value] = stats.outcomes.get(Outcome.DUPLICATE.value, 0) + 1
        self._settled[(pipeline.name, schedule.name)] = today
        self._settled_configs[pipeline.name] = pipeline

    # ------------------------------------------------------------------------- one cycle
    async def _tick(self, pipeline: PipelineConfig, schedule: ScheduleConfig, stats: PassStats,
                    late: LateCheck | None = None) -> None:
        cid = (pipeline.name, schedule.name)
        key = f"cycle:{pipeline.name}:{schedule.name}"
        if cid in self._in_flight:
            stats.skipped_busy += 1
            return
        self._in_flight.add(cid)
        try:
            async with self._limit:
                if late is not None:  # an idle cycle's late-data check, without the lease
                    assert self.engine.cycles.late_data is not None
                    await self.engine.cycles.late_data.check(pipeline, schedule.name, late.date, run=late.run,
                                                             evaluations=late.evaluations)
                    self._settle_idle(pipeline, schedule, late.date, stats)
                    return
                if not await self.ctx.store.acquire_lease(key, self.ctx.owner, self.cycle_lease):
                    stats.skipped_busy += 1
                    return
                try:
                    outcome, error = None, None
                    async with anyio.create_task_group() as holder:
                        holder.start_soon(self._hold_lease, key)
                        try:
                            outcome = await self._work(pipeline, schedule)
                        except Exception as exc:  # kept out of the task group so it is not wrapped
                            error = exc
                        finally:
                            holder.cancel_scope.cancel()
                    if error is not None:
                        raise error
                    stats.cycles += 1
                    if outcome is not None:
                        stats.outcomes[outcome.outcome.value] = stats.outcomes.get(outcome.outcome.value, 0) + 1
                    await self._settle(pipeline, schedule, outcome.outcome if outcome else None)
                finally:
                    with anyio.CancelScope(shield=True):
                        try:
                            await self.ctx.store.release_lease(key, self.ctx.owner)
                        except StoreUnavailable:
                            pass  # it expires by itself
        except StoreUnavailable:
            raise
        except NotFoundError:
            log.info("pipeline %s was removed during its tick", pipeline.name)
        except PipelineRetired:
            log.info("pipeline %s was retired during its tick: nothing launched", pipeline.name)
        except Exception:
            stats.errors += 1
            log.exception("watcher tick failed for %s/%s", pipeline.name, schedule.name)
        finally:
            self._in_flight.discard(cid)

    # ------------------------------------------------------------------------- passes
    async def run_once(self, *, all_cycles: bool = True) -> PassStats:
        """One pass: every due cycle (every cycle when ``all_cycles``), concurrently, awaited."""
        started = self.ctx.clock.monotonic()
        stats = await self._pass(all_cycles)
        METRICS.inc("interlock_watcher_passes_total")
        METRICS.set_gauge("interlock_watcher_last_pass_timestamp_seconds", self.ctx.clock.now().timestamp())
        METRICS.set_gauge("interlock_watcher_lag_seconds", stats.lag)
        METRICS.observe("interlock_watcher_pass_seconds", self.ctx.clock.monotonic() - started)
        return stats

    async def _pass(self, all_cycles: bool) -> PassStats:
        stats = PassStats()
        now = self.ctx.clock.now()
        pipelines = await self._pipelines_now(force=all_cycles)
        woken, self._woken = self._woken, set()
        woken_days, self._woken_days = self._woken_days, {}
        mono = self.ctx.clock.monotonic()
        if self._resynced_at is None or mono - self._resynced_at >= self.resync:
            self._settled.clear()
            self._resynced_at = mono
        due = []
        dates: dict[tzinfo | None, str] = {}
        for pipeline, schedule in self._cycles(pipelines):
            cid = (pipeline.name, schedule.name)
            if pipeline.name in woken:
                self._settled.pop(cid, None)
                self._open_woken_days(pipeline, schedule, woken_days.get(pipeline.name, ()))
            due_at = self._due.get(cid, now)
            if all_cycles or pipeline.name in woken or due_at <= now:
                stats.lag = max(stats.lag, (now - due_at).total_seconds())
                self._due[cid] = self._next_due(pipeline, schedule, now)
                zone = None if schedule.cron else schedule_zone(pipeline, schedule)  # a date: once per zone
                today = dates.get(zone) or current_cycle(pipeline, schedule, now)
                if zone is not None:
                    dates[zone] = today
                if self._is_settled(pipeline, schedule, today):
                    stats.settled += 1
                    continue
                due.append((pipeline, schedule, today))
        failures: list[BaseException] = []

        self._woken_now = woken
        dog = self.engine.cycles.active_watchdog
        if dog is not None and due:
            await dog.since()  # the start mark, once, before the cycles ask for it concurrently
        self._plain_days = {}
        candidates = [Candidate(p, s, today, self._in_view(p, s, today))
                      for p, s, today in due if self._may_be_idle(p, s)]
        idle = await read_idle(self.ctx.store, candidates, late_data=self.engine.cycles.late_data is not None)

        async def guarded(p: PipelineConfig, s: ScheduleConfig, late: LateCheck | None) -> None:
            try:
                await self._tick(p, s, stats, late)
            except StoreUnavailable as exc:
                failures.append(exc)

        work: list[tuple[PipelineConfig, ScheduleConfig, LateCheck | None]] = []
        for pipeline, schedule, today in due:  # an idle cycle with no late-data check to make costs no task
            cid = (pipeline.name, schedule.name)
            if cid not in idle:
                work.append((pipeline, schedule, None))  # leased and ticked
            elif (late := idle[cid]) is not None:
                work.append((pipeline, schedule, late))
            elif cid in self._in_flight:
                stats.skipped_busy += 1
            else:
                self._settle_idle(pipeline, schedule, today, stats)

        # a pass with cycles to work is a span (the idle passes between them are not)
        with span("interlock.watcher.pass", **{"interlock.all_cycles": all_cycles, "interlock.due": len(due),
                                               "interlock.settled": stats.settled}) if due else NO_SPAN as traced:
            async with anyio.create_task_group() as tg:
                for pipeline, schedule, late in work:
                    tg.start_soon(guarded, pipeline, schedule, late)
            traced.set(**{"interlock.cycles": stats.cycles, "interlock.skipped_busy": stats.skipped_busy,
                          "interlock.errors": stats.errors})
            if failures:
                raise failures[0]
        self.last_pass_at = now
        self.passes += 1
        return stats

    def _next_due(self, pipeline: PipelineConfig, schedule: ScheduleConfig, now: datetime) -> datetime:
        """The next pass over a cycle: one interval on (or as its evaluation window paces it), or a
        cron schedule's next fire time if sooner
        (every fire time is looked at when it comes, never taken for one missed while away)."""
        due = next_evaluation(pipeline, schedule, now, self.ctx.interval(pipeline))  # an evaluation window's pace
        if schedule.cron:
            due = min(due, next_fire(schedule.cron, schedule_zone(pipeline, schedule), now))
        return due

    def wake(self, pipeline_id: str, schedule_id: str | None = None, date: str | None = None) -> None:
        """Evaluate ``pipeline_id`` at the next pass; ``date`` (and ``schedule_id``) name the cycle
        the wake-up is about when it is not today's."""
        self._woken.add(pipeline_id)
        if date:
            self._woken_days.setdefault(pipeline_id, set()).add((schedule_id, date))
        self._wake_event.set()

    async def _listen(self) -> None:
        async for wake in self.ctx.notifier.subscribe():
            self.wake(wake.pipeline_id, wake.schedule_id, wake.date)

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled."""
        backoff = 0.5
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._listen)
            task_status.started()
            first = True
            while True:
                self._wake_event = anyio.Event()  # before the pass, so a wake-up during it is kept
                try:
                    if self.outage and not await self.ctx.store.ping():
                        # a pass over settled cycles touches no store: only a ping proves recovery
                        raise StoreUnavailable("the store does not answer its ping yet")
                    await self.run_once(all_cycles=first)
                    first = False
                    if self.outage:
                        log.warning("store reachable again; watcher resumed")
                        self.outage = False
                    backoff = 0.5
                except StoreUnavailable as exc:
                    if not self.outage:
                        log.error("store unavailable, watcher backing off: %s", exc.message)
                        self.outage = True
                    await anyio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if self._woken:
                    continue
                with anyio.move_on_after(self._sleep_for()):
                    await self._wake_event.wait()

    def _sleep_for(self) -> float:
        """Until the next cycle is due, between ``resolution`` and one second."""
        if not self._due:
            return self.resolution
        until = (min(self._due.values()) - self.ctx.clock.now()).total_seconds()
        return min(max(until, self.resolution), 1.0)


def interval_of(engine: Engine, pipeline: PipelineConfig) -> timedelta:
    return engine.ctx.interval(pipeline)
