"""Runs still under way after their cycle left the view: a sub-daily schedule's pass looks after its
latest cycles only (``SUB_DAILY_IN_VIEW``), so a job that runs longer than that many fire times
would otherwise never be polled again (no completion, no poll window, no stuck alert).

Each pass over a sub-daily schedule notes the cycles that left the view since its previous pass (one
batch read of their run logs, usually one cycle per fire time, none while the cycle stays the
same), remembers those whose run is still active, and moves each of them along on every pass until
it ends. A process that has not looked at the schedule yet, or whose previous view does not meet
the current one (another replica worked the schedule meanwhile), reads the pipeline's recent run
logs once instead. Runs are followed within the look-back (``LOOKBACK_DAYS``), like the view of a
daily schedule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from ..cycles import cycle_day, is_sub_daily_key
from ..model import PipelineConfig, RunState, ScheduleConfig
from .context import EngineContext

SCAN_LIMIT = 1000
"""Run logs read (newest first) when the cycles that left the view are not known."""

CycleId = tuple[str, str]


class BeyondView:
    def __init__(self, ctx: EngineContext, lookback_days: int) -> None:
        self.ctx = ctx
        self.lookback_days = lookback_days
        self._views: dict[CycleId, list[str]] = {}
        self._active: dict[CycleId, dict[str, str]] = {}  # cycle key -> run id

    def following(self, pipeline_id: str, schedule_id: str) -> bool:
        """Whether a run of this schedule that left the view is still followed."""
        return bool(self._active.get((pipeline_id, schedule_id)))

    async def follow(self, pipeline: PipelineConfig, schedule: ScheduleConfig, view: list[str],
                     advance: Callable[[RunState], Awaitable[RunState]],
                     after: Callable[[RunState], Awaitable[object]] | None = None) -> None:
        """Move along every active run of the schedule whose cycle is older than ``view`` (the
        cycles the pass looked after, oldest first); ``after`` is told each run as it now stands."""
        if not view or not is_sub_daily_key(view[-1]):
            return
        cid = (pipeline.name, schedule.name)
        await self._note_departed(pipeline, schedule, view)
        active = self._active.get(cid)
        if not active:
            return
        floor = cycle_day(view[-1]) - timedelta(days=self.lookback_days)
        for key, run_id in sorted(active.items()):
            run = await self.ctx.store.get_run(run_id) if cycle_day(key) >= floor else None
            if run is not None and not run.status.is_terminal:
                run = await advance(run)
                if after is not None:
                    await after(run)
            if run is None or run.status.is_terminal:
                active.pop(key, None)
        if not active:
            self._active.pop(cid, None)

    async def _note_departed(self, pipeline: PipelineConfig, schedule: ScheduleConfig, view: list[str]) -> None:
        cid = (pipeline.name, schedule.name)
        previous = self._views.get(cid)
        self._views[cid] = view
        if previous == view:
            return
        oldest = view[0]
        if previous is not None and previous[-1] >= oldest:  # the views meet: these cycles left it
            departed = [k for k in previous if k < oldest]
            stored = await self.ctx.store.read_cycles([(pipeline.name, k, schedule.name) for k in departed])
            entries = list(stored.values())
        else:
            entries = [e for e in await self.ctx.store.list_run_logs(pipeline.name, SCAN_LIMIT)
                       if e.schedule_id == schedule.name and e.date < oldest]
        for entry in entries:
            if not entry.status.is_terminal and entry.run_id:
                self._active.setdefault(cid, {})[entry.date] = entry.run_id
