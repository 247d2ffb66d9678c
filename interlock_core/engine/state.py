"""Reading a pipeline's state: the records of its current cycles, handed to
:func:`interlock_core.pipeline_state.pipeline_state`. Only reads (the CLI's ``status``, the API and
the dashboard call it); nothing is evaluated, claimed or repaired here."""

from __future__ import annotations

from collections.abc import Mapping

from ..cycles import cycle_day
from ..errors import InterlockError, StoreUnavailable
from ..model import PipelineConfig, ReadinessResult, RerunRecord, RunLogEntry, RunStatus, ScheduleConfig
from ..pipeline_state import ACTIVE, CycleFacts, PipelineStateView, pipeline_state
from ..schedule import current_cycle, excluded
from .context import EngineContext
from .dry_run import would_trigger_at
from .evaluation import Evaluation
from .rerun_slot import RERUN_SCAN_LIMIT


class StateReader:
    def __init__(self, ctx: EngineContext, evaluation: Evaluation) -> None:
        self.ctx = ctx
        self.evaluation = evaluation

    async def read(self, pipeline: PipelineConfig, *, readiness: ReadinessResult | None = None,
                   retired: bool = False, run_logs: Mapping[tuple[str, str], RunLogEntry] | None = None
                   ) -> PipelineStateView:
        """``readiness``: the stored readiness when the caller has just read it (read here otherwise);
        ``run_logs``: the current cycles' run logs by (date, schedule) when the caller has just read
        them (:meth:`Store.read_pipeline`; a cycle missing there has none)."""
        now = self.ctx.clock.now()
        problem: str | None = None
        try:
            readiness = readiness or await self.evaluation.stored_readiness(pipeline)
        except StoreUnavailable:
            raise
        except InterlockError as exc:  # e.g. an archetype that is no longer loaded
            problem = exc.message
        reruns = await self.ctx.store.list_reruns(pipeline.name, RERUN_SCAN_LIMIT)
        cycles = [await self._cycle(pipeline, schedule, reruns, run_logs)
                  for schedule in pipeline.resolved_schedules()]
        latest = await self.ctx.store.list_runs(pipeline.name, 1)
        return pipeline_state(pipeline, cycles, readiness, now, latest_run=latest[0] if latest else None,
                              retired=retired or pipeline.retired, problem=problem)

    async def _cycle(self, pipeline: PipelineConfig, schedule: ScheduleConfig, reruns: list[RerunRecord],
                     run_logs: Mapping[tuple[str, str], RunLogEntry] | None) -> CycleFacts:
        day = current_cycle(pipeline, schedule, self.ctx.clock.now())
        if run_logs is not None:
            entry = run_logs.get((day, schedule.name))
        else:
            entry = await self.ctx.store.get_run_log(pipeline.name, day, schedule.name)
        run = await self.ctx.store.get_run(entry.run_id) if entry is not None and entry.run_id else None
        mine = [r for r in reruns if r.original_date == day and r.schedule_id == schedule.name
                and not r.status.is_terminal]
        candidates = [run] + [await self.ctx.store.get_run(r.rerun_run_id) for r in mine if r.rerun_run_id]
        active = max((c for c in candidates if c is not None and c.status in ACTIVE),
                      key=lambda c: c.updated_at, default=None)
        pending = next((r for r in mine if r.status is RunStatus.PENDING and not r.rerun_run_id), None)
        try:
            is_excluded = excluded(pipeline, cycle_day(day), self.ctx.calendars)
        except InterlockError:
            is_excluded = False  # an unknown calendar excludes nothing (the loader reports it)
        would = await would_trigger_at(self.ctx, pipeline.name, schedule.name, day) if pipeline.dry_run else None
        return CycleFacts(schedule=schedule, date=day, entry=entry, excluded=is_excluded, active_run=active,
                          pending_rerun=pending, run=run, would_trigger_at=would)

    async def with_readiness(self, pipeline: PipelineConfig) -> tuple[
            ReadinessResult, PipelineConfig, Mapping[tuple[str, str], RunLogEntry]]:
        """The stored readiness of a pipeline already read, from its trait rows, read in one call
        (:meth:`Store.read_pipeline`) with its current cycles' run logs (returned for :meth:`read`)."""
        now = self.ctx.clock.now()
        cycles = [(current_cycle(pipeline, s, now), s.name) for s in pipeline.resolved_schedules()]
        records = await self.ctx.store.read_pipeline(pipeline.name, cycles, readiness=False)
        return self.evaluation.readiness_of(pipeline, records.traits), pipeline, records.run_logs
