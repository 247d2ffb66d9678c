"""Reading a pipeline's state: the records of its current cycles, handed to
:func:`interlock_core.pipeline_state.pipeline_state`. Only reads (the CLI's ``status``, the API and
the dashboard call it); nothing is evaluated, claimed or repaired here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from ..cycles import cycle_day
from ..errors import InterlockError, NotFoundError, StoreUnavailable
from ..model import (
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    TraitEvaluation,
)
from ..model.parsed import with_evaluated_at
from ..pipeline_state import ACTIVE, CycleFacts, PipelineState, PipelineStateView, pipeline_state, pipeline_state_word
from ..schedule import current_cycle, excluded
from ..unit_of_work import PipelineRecords
from .context import EngineContext
from .dry_run_marks import would_trigger_at
from .evaluation import Evaluation
from .rerun_slot import RERUN_SCAN_LIMIT
from .resolved import MAX_KEPT, ResolvedPipeline, ResolvedPipelines


class JustRead(NamedTuple):
    """What :meth:`StateReader.read_current` read, for a :meth:`StateReader.read` of the same instant."""

    readiness: ReadinessResult
    pipeline: PipelineConfig
    run_logs: Mapping[tuple[str, str], RunLogEntry]
    records: PipelineRecords | None
    """All :meth:`StateReader.read` needs (None: it reads the rest itself)."""
    now: datetime
    """The instant read for: the current cycles are this instant's."""
    days: Mapping[str, str] | None = None
    """The current cycle's date by schedule name, at ``now`` (None: :meth:`StateReader.read` works them out)."""
    shared: bool = False
    """``records`` are the store's kept ones (a shared read): what is made of them may be kept with them."""


class _Verdict(NamedTuple):
    """A readiness decided over stored trait rows only (none missing), kept by :meth:`StateReader.read_current`
    for shared reads: while the store answers the same rows (the same objects) and the pipeline's
    resolved version, it is the same verdict but for its ``evaluatedAt``."""

    resolved: ResolvedPipeline
    result: ReadinessResult


class _Cycles(NamedTuple):
    """A pipeline's current cycles' facts made of a shared read's records (:meth:`StateReader._facts`):
    the same while the store answers the same records, the same schedules and the same days."""

    records: PipelineRecords
    schedules: Sequence[ScheduleConfig]
    days: Mapping[str, str]
    cycles: list[CycleFacts]


class _StateFacts(NamedTuple):
    """What a pipeline's state is worked out from (:meth:`StateReader.read`, :meth:`StateReader.read_word`)."""

    cycles: list[CycleFacts]
    readiness: ReadinessResult | None
    latest_run: RunState | None
    problem: str | None
    now: datetime


def _same_rows(rows: Sequence[TraitEvaluation], stored: Mapping[str, TraitEvaluation]) -> bool:
    """Whether each of ``rows`` is the stored row of its trait (the same object)."""
    for row in rows:
        if stored.get(row.trait_type) is not row:
            return False
    return True


class StateReader:
    def __init__(self, ctx: EngineContext, evaluation: Evaluation) -> None:
        self.ctx = ctx
        self.evaluation = evaluation
        self.resolved = ResolvedPipelines()
        self._verdicts: dict[str, _Verdict] = {}
        self._cycles: dict[str, _Cycles] = {}

    async def read(self, pipeline: PipelineConfig, *, readiness: ReadinessResult | None = None,
                   retired: bool = False, run_logs: Mapping[tuple[str, str], RunLogEntry] | None = None,
                   records: PipelineRecords | None = None, now: datetime | None = None,
                   days: Mapping[str, str] | None = None, shared: bool = False) -> PipelineStateView:
        """``readiness``: the stored readiness when the caller has just read it (read here otherwise);
        ``run_logs``: the current cycles' run logs by (date, schedule) when the caller has just read
        them (:meth:`Store.read_pipeline`; a cycle missing there has none); ``records``: all of what
        this reads, when the caller has just read it with the pipeline's history (:meth:`read_current`);
        ``now``: the instant those were read for (the current cycles are that instant's, so they are
        the cycles whose run logs were read); ``days``: those cycles' dates by schedule name, when
        the caller has worked them out for ``now``; ``shared``: ``records`` came from a shared read
        (:meth:`read_current`), so the cycles' facts made of them are kept with them. The whole view
        is of one instant."""
        facts = await self._facts(pipeline, readiness, run_logs, records, now or self.ctx.clock.now(), days, shared)
        return pipeline_state(pipeline, facts.cycles, facts.readiness, facts.now, latest_run=facts.latest_run,
                              retired=retired or pipeline.retired, problem=facts.problem)

    async def read_word(self, pipeline: PipelineConfig, *, readiness: ReadinessResult | None = None,
                        retired: bool = False, run_logs: Mapping[tuple[str, str], RunLogEntry] | None = None,
                        records: PipelineRecords | None = None, now: datetime | None = None,
                        days: Mapping[str, str] | None = None, shared: bool = False) -> PipelineState:
        """:meth:`read`'s ``state`` alone (:func:`~interlock_core.pipeline_state.pipeline_state_word`),
        from the same records."""
        facts = await self._facts(pipeline, readiness, run_logs, records, now or self.ctx.clock.now(), days, shared)
        return pipeline_state_word(pipeline, facts.cycles, facts.readiness, facts.now,
                                   retired=retired or pipeline.retired, problem=facts.problem)

    async def _facts(self, pipeline: PipelineConfig, readiness: ReadinessResult | None,
                     run_logs: Mapping[tuple[str, str], RunLogEntry] | None, records: PipelineRecords | None,
                     now: datetime, days: Mapping[str, str] | None = None, shared: bool = False) -> _StateFacts:
        latest: list[RunState] = []
        problem: str | None = None
        try:
            readiness = readiness or await self.evaluation.stored_readiness(pipeline, now=now)
        except StoreUnavailable:
            raise
        except InterlockError as exc:  # e.g. an archetype that is no longer loaded
            problem = exc.message
        if records is not None:
            reruns, run_logs = list(records.reruns), records.run_logs
            latest = [records.latest_run] if records.latest_run is not None else []
        else:
            reruns = await self.ctx.store.list_reruns(pipeline.name, RERUN_SCAN_LIMIT)
        schedules = self._schedules(pipeline, records)
        # a shared read's facts are kept with its records (not a dry run's: it reads its marks from the store)
        keeping = shared and records is not None and days is not None and not pipeline.dry_run
        kept = self._cycles.get(pipeline.name) if keeping else None
        if kept is not None and kept.records is records and kept.schedules is schedules and kept.days == days:
            cycles = kept.cycles
        else:
            cycles = [await self._cycle(pipeline, schedule, now, reruns, run_logs, records,
                                        days.get(schedule.name) if days is not None else None)
                      for schedule in schedules]
            if keeping and records is not None and days is not None:
                if len(self._cycles) >= MAX_KEPT:
                    self._cycles.clear()
                self._cycles[pipeline.name] = _Cycles(records, schedules, days, cycles)
        if records is None:
            latest = await self.ctx.store.list_runs(pipeline.name, 1)
        return _StateFacts(cycles, readiness, latest[0] if latest else None, problem, now)

    def _schedules(self, pipeline: PipelineConfig, records: PipelineRecords | None) -> Sequence[ScheduleConfig]:
        """The pipeline's schedules: those resolved with its stored version when ``records`` were
        read at that version (:meth:`read_current`), else resolved now."""
        known = self.resolved.get(pipeline.name) if records is not None else None
        if known is not None and records is not None and records.config_version == known.version:
            return known.schedules
        return pipeline.resolved_schedules()

    async def _cycle(self, pipeline: PipelineConfig, schedule: ScheduleConfig, now: datetime,
                     reruns: list[RerunRecord], run_logs: Mapping[tuple[str, str], RunLogEntry] | None,
                     records: PipelineRecords | None = None, day: str | None = None) -> CycleFacts:
        day = day or current_cycle(pipeline, schedule, now)
        if run_logs is not None:
            entry = run_logs.get((day, schedule.name))
        else:
            entry = await self.ctx.store.get_run_log(pipeline.name, day, schedule.name)

        async def get_run(run_id: str) -> RunState | None:
            return records.runs.get(run_id) if records is not None else await self.ctx.store.get_run(run_id)

        run = await get_run(entry.run_id) if entry is not None and entry.run_id else None
        mine = [r for r in reruns if r.original_date == day and r.schedule_id == schedule.name
                and not r.status.is_terminal]
        candidates = [run] + [await get_run(r.rerun_run_id) for r in mine if r.rerun_run_id]
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

    async def read_current(self, pipeline_id: str, *, shared: bool = False) -> JustRead:
        """The stored readiness of a pipeline and all :meth:`read` needs, in one store read
        (:meth:`Store.read_pipeline` with its configuration and history) once its configuration is
        resolved (:mod:`.resolved`): the configuration is resolved again only when its stored
        version changed (then, as on the first read, its current cycles are read once more). All
        of it is of one instant (``now`` of the answer): the current cycles whose run logs are read,
        the readiness's ``evaluatedAt``, and the state :meth:`read` gives them.

        ``shared``: the caller only reads what it is given (it renders it at once): the records are
        the store's kept ones where it keeps them (``Store.read_pipeline(shared=True)``), and a
        readiness decided over the same stored rows before is answered again (its copy, with this
        instant's ``evaluatedAt``; its trait results and lists shared with every such answer)."""
        now = self.ctx.clock.now()
        for _ in range(3):
            known = self.resolved.get(pipeline_id)
            cycles = [] if known is None else \
                [(current_cycle(known.config, s, now), s.name) for s in known.schedules]
            # the cycles of the configuration kept at that version: read() of the same instant, given
            # the records read at it, decides the same schedules
            records = await self.ctx.store.read_pipeline(
                pipeline_id, cycles, readiness=False, config=True,
                known_version=known.version if known is not None else None, history=RERUN_SCAN_LIMIT,
                shared=shared)
            if records.config_version is None:
                self.resolved.forget(pipeline_id)
                raise NotFoundError(f"pipeline {pipeline_id!r} not found", pipelineId=pipeline_id)
            if known is not None and records.config_version == known.version:
                pipeline = known.config if shared else known.pipeline()  # shared: read, never changed
                readiness = self._readiness(known, pipeline, records.traits, now, shared)
                return JustRead(readiness, pipeline, records.run_logs, records, now,
                                {name: day for day, name in cycles}, shared)
            if records.pipeline is None:  # stored but unreadable: as get_pipeline answers it
                self.resolved.forget(pipeline_id)
                raise NotFoundError(f"pipeline {pipeline_id!r} not found", pipelineId=pipeline_id)
            self.resolved.keep(records.config_version, records.pipeline, self.ctx.archetypes)
        pipeline = await self.ctx.pipeline(pipeline_id)  # changing under every read: read it the plain way
        return await self.with_readiness(pipeline, now)

    def _readiness(self, known: ResolvedPipeline, pipeline: PipelineConfig,
                   stored: Mapping[str, TraitEvaluation], now: datetime, shared: bool) -> ReadinessResult:
        """The readiness rule over ``stored`` (the trait rows just read) at ``now``; for a ``shared``
        read, the verdict kept for the same rows (the same objects) and resolved version when there
        is one, and the verdict kept for the next when every trait had its row."""
        kept = self._verdicts.get(known.config.name) if shared else None
        if kept is not None and kept.resolved is known and known.is_current(self.ctx.archetypes) and \
                _same_rows(kept.result.traits, stored):
            return with_evaluated_at(kept.result, now)
        resolved = known.traits_if_current(self.ctx.archetypes)
        readiness = self.evaluation.readiness_of(pipeline, stored, now=now, resolved=resolved)
        if shared and resolved is not None and _same_rows(readiness.traits, stored):
            if len(self._verdicts) >= MAX_KEPT:
                self._verdicts.clear()
            self._verdicts[known.config.name] = _Verdict(known, readiness)
        return readiness

    async def with_readiness(self, pipeline: PipelineConfig, now: datetime) -> JustRead:
        """The stored readiness of a pipeline already read, from its trait rows, read in one call
        (:meth:`Store.read_pipeline`) with its current cycles' run logs (returned for :meth:`read`)."""
        cycles = [(current_cycle(pipeline, s, now), s.name) for s in pipeline.resolved_schedules()]
        records = await self.ctx.store.read_pipeline(pipeline.name, cycles, readiness=False)
        return JustRead(self.evaluation.readiness_of(pipeline, records.traits, now=now), pipeline, records.run_logs,
                        None, now)
