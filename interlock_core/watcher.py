"""The watcher: evaluates each watched pipeline × schedule on its own interval, and at once when
a trait result is pushed, a run completes or a cascade marker is written.

A cycle that has completed for the day is *settled*: later passes skip it without touching the
store until its next day, a wake-up for its pipeline (a rerun request, a pushed trait, a run
ending, a cascade marker, a re-registration), a change of its configuration, or the periodic
resync (every ``resync`` seconds) — so a watcher over thousands of finished pipelines costs little.

Cycles are claimed with owner-token leases, so several watchers (replicas) on one store never
work the same cycle at the same time; ticks run concurrently, so one slow evaluator or trigger
never delays another pipeline; a store outage makes the watcher back off and resume by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio

from .engine import Engine
from .engine.outcome import Outcome
from .errors import NotFoundError, PipelineRetired, StoreUnavailable
from .model import PipelineConfig, ScheduleConfig
from .schedule import cycle_date, schedule_zone

log = logging.getLogger("interlock.watcher")

CycleId = tuple[str, str]


@dataclass
class PassStats:
    cycles: int = 0
    settled: int = 0
    skipped_busy: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


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
        self._in_flight: set[CycleId] = set()
        self._wake_event = anyio.Event()
        self._pipelines: list[PipelineConfig] = []
        self._listed_at: float | None = None
        self._limit = anyio.CapacityLimiter(self.ctx.watcher.max_concurrent_cycles)
        self.resync = resync
        self.cycle_lease = cycle_lease
        self._settled: dict[CycleId, str] = {}
        self._settled_configs: dict[str, PipelineConfig] = {}
        self._resynced_at: float | None = None
        self.outage = False
        self.last_pass_at: datetime | None = None
        self.passes = 0
        self.ctx.wake_listeners.append(lambda wake: self.wake(wake.pipeline_id))

    # ------------------------------------------------------------------------- selection
    def _cycles(self, pipelines: Iterable[PipelineConfig]) -> list[tuple[PipelineConfig, ScheduleConfig]]:
        return [(p, s) for p in pipelines if p.watched and p.trigger is not None for s in p.resolved_schedules()]

    def _today(self, pipeline: PipelineConfig, schedule: ScheduleConfig) -> str:
        return cycle_date(self.ctx.clock.now(), schedule_zone(pipeline, schedule))

    def _is_settled(self, pipeline: PipelineConfig, schedule: ScheduleConfig) -> bool:
        cid = (pipeline.name, schedule.name)
        day = self._settled.get(cid)
        if day is None:
            return False
        if day != self._today(pipeline, schedule) or self._settled_configs.get(pipeline.name) != pipeline:
            del self._settled[cid]
            return False
        return True

    async def _settle(self, pipeline: PipelineConfig, schedule: ScheduleConfig, outcome: Outcome | None) -> None:
        """Remember a cycle that completed today (or a retired pipeline's) and has nothing left to look after."""
        if outcome is not Outcome.DUPLICATE and outcome is not Outcome.RETIRED:
            return
        reruns = await self.ctx.store.list_reruns(pipeline.name, limit=50)
        # a retired pipeline's PENDING reruns wait for its file to come back: nothing to look after
        if any(r.schedule_id == schedule.name and not r.status.is_terminal
               and (outcome is Outcome.DUPLICATE or r.rerun_run_id) for r in reruns):
            return
        from .engine.cycle import days_in_view

        today = self._today(pipeline, schedule)
        for day in days_in_view(today):
            entry = await self.ctx.store.get_run_log(pipeline.name, day, schedule.name)
            if entry is not None and not entry.status.is_terminal:
                return
        self._settled[(pipeline.name, schedule.name)] = today
        self._settled_configs[pipeline.name] = pipeline

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

    # ------------------------------------------------------------------------- one cycle
    async def _tick(self, pipeline: PipelineConfig, schedule: ScheduleConfig, stats: PassStats) -> None:
        cid = (pipeline.name, schedule.name)
        key = f"cycle:{pipeline.name}:{schedule.name}"
        if cid in self._in_flight:
            stats.skipped_busy += 1
            return
        self._in_flight.add(cid)
        try:
            async with self._limit:
                if not await self.ctx.store.acquire_lease(key, self.ctx.owner, self.cycle_lease):
                    stats.skipped_busy += 1
                    return
                try:
                    outcome, error = None, None
                    async with anyio.create_task_group() as holder:
                        holder.start_soon(self._hold_lease, key)
                        try:
                            outcome = await self.engine.cycles.tick(pipeline, schedule)
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
        stats = PassStats()
        now = self.ctx.clock.now()
        pipelines = await self._pipelines_now(force=all_cycles)
        woken, self._woken = self._woken, set()
        mono = self.ctx.clock.monotonic()
        if self._resynced_at is None or mono - self._resynced_at >= self.resync:
            self._settled.clear()
            self._resynced_at = mono
        due = []
        for pipeline, schedule in self._cycles(pipelines):
            cid = (pipeline.name, schedule.name)
            if pipeline.name in woken:
                self._settled.pop(cid, None)
            if all_cycles or pipeline.name in woken or self._due.get(cid, now) <= now:
                self._due[cid] = now + self.ctx.interval(pipeline)
                if self._is_settled(pipeline, schedule):
                    stats.settled += 1
                    continue
                due.append((pipeline, schedule))
        failures: list[BaseException] = []

        async def guarded(p: PipelineConfig, s: ScheduleConfig) -> None:
            try:
                await self._tick(p, s, stats)
            except StoreUnavailable as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            for pipeline, schedule in due:
                tg.start_soon(guarded, pipeline, schedule)
        if failures:
            raise failures[0]
        self.last_pass_at = now
        self.passes += 1
        return stats

    def wake(self, pipeline_id: str) -> None:
        self._woken.add(pipeline_id)
        self._wake_event.set()

    async def _listen(self) -> None:
        async for wake in self.ctx.notifier.subscribe():
            self.wake(wake.pipeline_id)

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
