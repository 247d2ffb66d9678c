"""The watcher: evaluates each watched pipeline × schedule on its own interval, and at once when
a trait result is pushed, a run completes or a cascade marker is written.

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
from .errors import StoreUnavailable
from .model import PipelineConfig, ScheduleConfig

log = logging.getLogger("interlock.watcher")

CycleId = tuple[str, str]


@dataclass
class PassStats:
    cycles: int = 0
    skipped_busy: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Watcher:
    def __init__(self, engine: Engine, *, resolution: float = 0.25, list_refresh: float = 5.0,
                 max_backoff: float = 30.0) -> None:
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
        self.outage = False
        self.last_pass_at: datetime | None = None
        self.passes = 0
        self.ctx.wake_listeners.append(lambda wake: self.wake(wake.pipeline_id))

    # ------------------------------------------------------------------------- selection
    def _cycles(self, pipelines: Iterable[PipelineConfig]) -> list[tuple[PipelineConfig, ScheduleConfig]]:
        return [(p, s) for p in pipelines if p.watched and p.trigger is not None for s in p.resolved_schedules()]

    def _lease_ttl(self, pipeline: PipelineConfig) -> float:
        traits = self.ctx.traits_of(pipeline) if pipeline.archetype in self.ctx.archetypes else []
        timeout = max([t.timeout or self.ctx.config.default_timeout.total_seconds() for t in traits] or [30.0])
        return max(timeout * 2 + 30.0, 2 * self.ctx.interval(pipeline).total_seconds())

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
                if not await self.ctx.store.acquire_lease(key, self.ctx.owner, self._lease_ttl(pipeline)):
                    stats.skipped_busy += 1
                    return
                try:
                    outcome = await self.engine.cycles.tick(pipeline, schedule)
                    stats.cycles += 1
                    if outcome is not None:
                        stats.outcomes[outcome.outcome.value] = stats.outcomes.get(outcome.outcome.value, 0) + 1
                finally:
                    with anyio.CancelScope(shield=True):
                        try:
                            await self.ctx.store.release_lease(key, self.ctx.owner)
                        except StoreUnavailable:
                            pass  # it expires by itself
        except StoreUnavailable:
            raise
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
        due = []
        for pipeline, schedule in self._cycles(pipelines):
            cid = (pipeline.name, schedule.name)
            if all_cycles or pipeline.name in woken or self._due.get(cid, now) <= now:
                due.append((pipeline, schedule))
                self._due[cid] = now + self.ctx.interval(pipeline)
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
