"""Reading what the pages show: the store's records through the engine, into the view models.

Only reads: each pipeline's state comes from the engine's one reading of it
(:meth:`interlock_core.engine.Engine.pipeline_state`: run logs and stored trait results, nothing
is evaluated), everything else from the store's list/get methods, as the API's routes read them. Secrets in configs,
trait values and event details are masked before a template sees them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime
from typing import Any

from interlock_core.archetypes import ResolvedTrait
from interlock_core.engine import Engine
from interlock_core.engine.shadow_report import ShadowReport
from interlock_core.errors import InterlockError, StoreUnavailable
from interlock_core.model import (
    Event,
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    ScheduleConfig,
    TraitEvaluation,
    TraitStatus,
)
from interlock_core.pipeline_state import Blocker, CycleState, PipelineState
from interlock_core.schedule import deadlines, excluded

from ..redaction import mask_urls, redact
from .overview import OverviewRow, ScheduleToday, schedule_today

log = logging.getLogger("interlock.dashboard")

RUNS_SHOWN = 20
RUN_LOGS_SHOWN = 14
RERUNS_SHOWN = 10
EVENTS_SHOWN = 60


@dataclass(frozen=True)
class TraitRow:
    type: str
    required: bool
    evaluator: str | None
    status: str
    value: Any
    reason: str | None
    failure_category: str | None
    evaluated_at: datetime | None
    """None when there is no stored result (the trait is STALE)."""
    expires_at: datetime | None
    ttl: int | None
    blocking: bool

    @property
    def pushed(self) -> bool:
        return not self.evaluator


@dataclass(frozen=True)
class Neighbour:
    name: str
    row: OverviewRow | None
    """None when no such pipeline is registered."""


@dataclass(frozen=True)
class PipelineDetail:
    pipeline: PipelineConfig
    config: dict[str, Any]
    row: OverviewRow
    traits: list[TraitRow]
    runs: list[RunState]
    run_logs: list[RunLogEntry]
    reruns: list[RerunRecord]
    events: list[Event]
    """Newest first."""
    upstream: list[Neighbour]
    downstream: list[Neighbour]
    shadow: ShadowReport | None = None
    """A dry-run pipeline's shadow report over the last days (core computes it; the page renders it)."""

    @property
    def rerun_date(self) -> str:
        """The date the rerun form offers: the latest completed cycle, else today's."""
        done = [e.date for e in self.run_logs if e.status.is_done]
        return max(done) if done else (self.row.schedules[0].date if self.row.schedules else "")


# ---------------------------------------------------------------------------------- overview


async def overview_rows(engine: Engine) -> list[OverviewRow]:
    pipelines = await engine.list_pipelines()
    downstream = downstream_map(pipelines)
    return [await overview_row(engine, p, downstream.get(p.name, [])) for p in pipelines]


def downstream_map(pipelines: list[PipelineConfig]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pipeline in pipelines:
        for upstream in sorted(pipeline.upstream_pipelines()):
            out.setdefault(upstream, []).append(pipeline.name)
    return out


async def overview_row(engine: Engine, pipeline: PipelineConfig, downstream: list[str] | None = None) -> OverviewRow:
    row, _ = await _row_and_readiness(engine, pipeline, downstream or [])
    return row


async def _row_and_readiness(engine: Engine, pipeline: PipelineConfig,
                             downstream: list[str]) -> tuple[OverviewRow, ReadinessResult | None]:
    """The pipeline's row; a row naming the problem when its data cannot be computed (one bad
    pipeline never takes the page down for everyone). A store outage still fails the page."""
    try:
        return await _computed_row(engine, pipeline, downstream)
    except StoreUnavailable:
        raise
    except Exception as exc:
        log.exception("dashboard: cannot compute the state of %s", pipeline.name)
        problem = f"cannot compute this pipeline's state: {type(exc).__name__}: {str(exc)[:200]}"
        row = OverviewRow(
            name=pipeline.name, archetype=pipeline.archetype, state=PipelineState.ERROR, blockers=[], last_run=None,
            schedules=[], message=problem, description=pipeline.description, tier=pipeline.tier,
            has_trigger=pipeline.trigger is not None, watched=pipeline.watched, problem=problem,
            neighbours=sorted(pipeline.upstream_pipelines()) + downstream, retired_at=pipeline.retired_at)
        return row, None


async def _computed_row(engine: Engine, pipeline: PipelineConfig,
                        downstream: list[str]) -> tuple[OverviewRow, ReadinessResult | None]:
    view = await engine.pipeline_state(pipeline)
    now = view.computed_at  # the row's schedules of the instant its state is of
    ready = view.readiness is PipelineState.READY
    schedules = [_today(engine, pipeline, schedule, cycle, now, ready=ready)
                 for schedule, cycle in zip(pipeline.resolved_schedules(), view.cycles, strict=True)]
    neighbours = sorted(pipeline.upstream_pipelines()) + downstream
    row = OverviewRow(
        name=pipeline.name, archetype=pipeline.archetype, state=view.state, blockers=view.blockers,
        last_run=view.last_run, schedules=schedules, message=view.message, last_run_current=view.last_run_current,
        readiness=view.readiness, description=pipeline.description, tier=pipeline.tier,
        has_trigger=pipeline.trigger is not None, watched=pipeline.watched, dry_run=pipeline.dry_run,
        problem=view.problem, neighbours=neighbours, retired_at=pipeline.retired_at)
    return row, view.readiness_result


def _today(engine: Engine, pipeline: PipelineConfig, schedule: ScheduleConfig, cycle: CycleState, now: datetime, *,
           ready: bool) -> ScheduleToday:
    def is_excluded(candidate: Date) -> bool:
        try:
            return excluded(pipeline, candidate, engine.ctx.calendars)
        except InterlockError:
            return False  # an unknown calendar excludes nothing (the loader reports it)

    return schedule_today(pipeline, schedule, cycle, now, deadlines(pipeline, schedule, cycle.date),
                          ready=ready, is_excluded=is_excluded)


# ---------------------------------------------------------------------------------- one pipeline


async def pipeline_detail(engine: Engine, name: str) -> PipelineDetail:
    pipeline = await engine.get_pipeline(name)  # NotFoundError: 404
    pipelines = await engine.list_pipelines()
    downstream = downstream_map(pipelines).get(pipeline.name, [])
    row, result = await _row_and_readiness(engine, pipeline, downstream)
    store = engine.store
    events: list[Event] = await store.list_events(pipeline.name, EVENTS_SHOWN)
    known = {p.name: p for p in pipelines}
    return PipelineDetail(
        pipeline=pipeline, config=redact(pipeline.to_json_dict()), row=row,
        traits=trait_rows(_resolved(engine, pipeline), result, row.blockers),
        runs=await store.list_runs(pipeline.name, RUNS_SHOWN),
        run_logs=await store.list_run_logs(pipeline.name, RUN_LOGS_SHOWN),
        reruns=await store.list_reruns(pipeline.name, RERUNS_SHOWN),
        events=[_masked(e) for e in reversed(events)],
        upstream=[await _neighbour(engine, n, known) for n in sorted(pipeline.upstream_pipelines())],
        downstream=[await _neighbour(engine, n, known) for n in downstream],
        shadow=await engine.shadow_report(pipeline.name) if pipeline.dry_run else None,
    )


def _resolved(engine: Engine, pipeline: PipelineConfig) -> list[ResolvedTrait]:
    try:
        return engine.ctx.traits_of(pipeline)
    except InterlockError:
        return []


def trait_rows(resolved: list[ResolvedTrait], result: ReadinessResult | None,
               blockers: list[Blocker]) -> list[TraitRow]:
    """Each configured trait with its stored result (readiness lists them in the same order);
    ``blocking`` only for the state's blockers (a settled cycle has none, whatever expired)."""
    evaluations = {t.trait_type: t for t in result.traits} if result else {}
    blocking = {b.trait for b in blockers}
    return [_trait_row(trait, evaluations.get(trait.type), trait.type in blocking) for trait in resolved]


def _trait_row(trait: ResolvedTrait, evaluation: TraitEvaluation | None, blocking: bool) -> TraitRow:
    stored = evaluation is not None and evaluation.status != TraitStatus.STALE
    return TraitRow(
        type=trait.type, required=trait.required, evaluator=mask_urls(trait.evaluator) if trait.evaluator else None,
        status=evaluation.status if evaluation else TraitStatus.STALE,
        value=redact(evaluation.value) if evaluation and evaluation.value is not None else None,
        reason=evaluation.reason if evaluation else "no evaluation found or expired",
        failure_category=evaluation.failure_category.value if evaluation and evaluation.failure_category else None,
        evaluated_at=evaluation.evaluated_at if evaluation and stored else None,
        expires_at=evaluation.expires_at if evaluation and stored else None,
        ttl=trait.ttl, blocking=blocking)


def _masked(event: Event) -> Event:
    if event.details is None:
        return event
    return event.model_copy(update={"details": redact(event.details)})


async def _neighbour(engine: Engine, name: str, known: dict[str, PipelineConfig]) -> Neighbour:
    pipeline = known.get(name)
    return Neighbour(name, await overview_row(engine, pipeline) if pipeline is not None else None)
