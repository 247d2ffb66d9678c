"""The engine: one object through which the CLI, the API, the watcher and the Lambda handlers
evaluate readiness and drive the run lifecycle."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from ..config.registration import api_pipeline_problems
from ..errors import ConfigErrors, ConflictError, NotFoundError, PipelineInUse, ValidationError
from ..model import (
    AlertRecord,
    AlertStatus,
    EventKind,
    FailureCategory,
    PipelineConfig,
    PipelineOrigin,
    ReadinessResult,
    RerunRecord,
    RunState,
    SchedulerRun,
    ShadowCycle,
    TraitEvaluation,
)
from ..pipeline_state import ACTIVE, PipelineState, PipelineStateView
from .backfill_plan import DEFAULT_CONCURRENCY
from .context import EngineContext

if TYPE_CHECKING:
    from .backfill import Backfill, BackfillReport, OnCycle
    from .callbacks import Callbacks
    from .cycle import CyclePass
    from .evaluation import Evaluation
    from .late_data import LateData
    from .monitoring import Monitoring
    from .outcome import RunOutcome
    from .reruns import Reruns
    from .runs import Runs
    from .shadow_report import ShadowReport
    from .sla import SLAChecks
    from .state import JustRead, StateReader
    from .sweep import SweepSummary, WatchdogSweep
    from .transitions import Transitions
    from .watchdog import Watchdog

ACTIVE_RUN_SCAN = 50
"""How many of a pipeline's newest runs are checked for one under way before it is removed."""


T = TypeVar("T")

_JUST_READ: ContextVar[JustRead | None] = ContextVar("interlock_just_read_readiness", default=None)
"""The records :meth:`Engine.check_readiness` read, for the :meth:`Engine.pipeline_state` that follows it."""


_SHARED: ContextVar[bool] = ContextVar("interlock_shared_answers", default=False)
"""Set within :meth:`Engine.shared_answers`."""


class _SharedAnswers(contextlib.AbstractContextManager[None]):
    """:meth:`Engine.shared_answers`' block (a class, not a generator: every readiness GET opens one)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _SHARED.set(True)

    def __exit__(self, *_: object) -> None:
        _SHARED.reset(self._token)


def _just_read(pipeline: str | PipelineConfig, readiness: ReadinessResult | None) -> JustRead | None:
    """What :meth:`Engine.check_readiness` has just read in this task, when ``readiness`` is its
    answer for ``pipeline`` (then taken: it serves one state)."""
    just = _JUST_READ.get()
    if just is not None and readiness is not None and readiness is just.readiness and \
            pipeline in (just.pipeline.name, just.pipeline):
        _JUST_READ.set(None)
        return just
    return None


class Engine:
    def __init__(self, ctx: EngineContext, *, validate_pipeline: Any = None, closers: list[Any] | None = None) -> None:
        self.ctx = ctx
        self._validate_pipeline = validate_pipeline
        self._closers = closers or []

    @property
    def store(self) -> Any:
        return self.ctx.store

    # ------------------------------------------------------------------------- lifecycle parts
    # Each part is built (and its module imported) when first used: a command that only reads
    # state never imports the run lifecycle.
    @cached_property
    def evaluation(self) -> Evaluation:
        from .evaluation import Evaluation
        return Evaluation(self.ctx)

    @cached_property
    def transitions(self) -> Transitions:
        from .transitions import Transitions
        return Transitions(self.ctx)

    @cached_property
    def runs(self) -> Runs:
        from .runs import Runs
        return Runs(self.ctx, self.evaluation, self.transitions)

    @cached_property
    def callbacks(self) -> Callbacks:
        from .callbacks import Callbacks
        return Callbacks(self.ctx, self.transitions)

    @cached_property
    def reruns(self) -> Reruns:
        from .reruns import Reruns
        return Reruns(self.ctx, self.runs, self.callbacks)

    @cached_property
    def late_data(self) -> LateData:
        from .late_data import LateData
        return LateData(self.ctx, self.reruns.inputs, self.reruns)

    @cached_property
    def monitoring(self) -> Monitoring:
        from .monitoring import Monitoring
        return Monitoring(self.evaluation, self.transitions, self.reruns, self.late_data)

    @cached_property
    def sla(self) -> SLAChecks:
        from .sla import SLAChecks
        return SLAChecks(self.ctx)

    @cached_property
    def watchdog(self) -> Watchdog:
        from .watchdog import Watchdog
        return Watchdog(self.ctx, self.sla)

    @cached_property
    def cycles(self) -> CyclePass:
        from .cycle import CyclePass
        return CyclePass(self.ctx, self.runs, self.callbacks, self.monitoring, self.reruns, self.sla,
                         self.watchdog, self.late_data)

    @cached_property
    def sweep(self) -> WatchdogSweep:
        from .sweep import WatchdogSweep
        return WatchdogSweep(self.ctx, self.cycles, self.evaluation, self.watchdog)

    @cached_property
    def states(self) -> StateReader:
        from .state import StateReader
        return StateReader(self.ctx, self.evaluation)

    @cached_property
    def backfills(self) -> Backfill:
        from .backfill import Backfill
        return Backfill(self.ctx, self.runs, self.cycles)

    # ------------------------------------------------------------------------- pipelines
    async def register_pipeline(self, pipeline: PipelineConfig, *,
                                origin: PipelineOrigin = PipelineOrigin.FILE) -> PipelineConfig:
        """Store ``pipeline`` as written by ``origin`` (whatever origin or retirement the pipeline itself
        claims). An API pipeline is held to :mod:`interlock_core.config.registration` first."""
        pipeline = pipeline.model_copy(update={"origin": origin, "retired_at": None})
        if origin is PipelineOrigin.API:
            self._check_api_pipeline(pipeline)
        if self._validate_pipeline is not None:
            self._validate_pipeline(pipeline)
        await self.ctx.store.put_pipeline(pipeline)
        return pipeline

    def _check_api_pipeline(self, pipeline: PipelineConfig) -> None:
        if pipeline.trigger is not None:
            cls = self.ctx.triggers.cls(pipeline.trigger.type) if pipeline.trigger.type in self.ctx.triggers.classes \
                else None
            if cls is not None and not getattr(cls, "api_registrable", True):
                raise ValidationError(f"{pipeline.trigger.type} triggers cannot be registered via API",
                                      field="trigger.type")
        problems = api_pipeline_problems(pipeline, allowed_env=self.ctx.api_allowed_env,
                                         evaluator_dirs=self.ctx.evaluator_dirs, outbound=self.ctx.outbound)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise ConfigErrors(problems)

    async def get_pipeline(self, pipeline_id: str) -> PipelineConfig:
        return await self.ctx.pipeline(pipeline_id)

    async def list_pipelines(self) -> list[PipelineConfig]:
        return await self.ctx.store.list_pipelines()

    async def delete_pipeline(self, pipeline_id: str) -> bool:
        """Delete the stored configuration, no questions asked (tests and repair tools): the API
        and the CLI call :meth:`remove_pipeline`."""
        return await self.ctx.store.delete_pipeline(pipeline_id)

    async def remove_pipeline(self, pipeline_id: str) -> PipelineConfig:
        """Remove a pipeline registered over the API (``DELETE /api/pipelines/{id}``, ``interlock
        remove-pipeline``); its history (runs, run logs, reruns, events) stays in the store. A
        pipeline file's pipeline is refused — deleting its file retires it — unless it is already
        retired; so is a pipeline with a run under way (wait for it to end, or cancel it)."""
        pipeline = await self.ctx.pipeline(pipeline_id)
        if pipeline.origin is not PipelineOrigin.API and not pipeline.retired:
            raise PipelineInUse(f"pipeline {pipeline.name!r} is defined in a pipeline file: delete its file to "
                                "retire it (its history is kept; restoring the file brings it back)",
                                pipelineId=pipeline.name, origin=PipelineOrigin.FILE.value)
        for run in await self.ctx.store.list_runs(pipeline.name, ACTIVE_RUN_SCAN):
            if run.status in ACTIVE:
                raise PipelineInUse(f"pipeline {pipeline.name!r} has a run under way ({run.run_id} is "
                                    f"{run.status.value}): wait for it to end, or cancel it "
                                    f"(interlock cancel {run.run_id}), before removing the pipeline",
                                    pipelineId=pipeline.name, activeRunId=run.run_id,
                                    activeRunStatus=run.status.value)
        await self.ctx.store.delete_pipeline(pipeline.name)
        source = "over the API" if pipeline.origin is PipelineOrigin.API else "from a pipeline file, since retired"
        await self.ctx.emit(EventKind.PIPELINE_REMOVED, pipeline.name,
                            message=f"pipeline removed (it was registered {source}); its history is kept")
        # every watcher (other replicas too) drops it now, not at its next list refresh
        await self.ctx.wake(pipeline.name, "pipeline-deleted")
        return pipeline

    # ------------------------------------------------------------------------- readiness
    async def evaluate(self, pipeline_id: str, *, schedule_id: str | None = None,
                       date: str | None = None) -> ReadinessResult:
        return await self.evaluation.evaluate(pipeline_id, schedule_id=schedule_id, date=date)

    async def check_readiness(self, pipeline_id: str) -> ReadinessResult:
        """Readiness from stored results only; the pipeline's configuration (resolved once per stored
        version), trait rows, current cycles' run logs, reruns and runs are read in one store read,
        kept (in this task) for a :meth:`pipeline_state` of the same result that follows
        (``GET .../readiness`` asks for both)."""
        just = await self.states.read_current(pipeline_id, shared=_SHARED.get())
        _JUST_READ.set(just)
        return just.readiness

    def shared_answers(self) -> contextlib.AbstractContextManager[None]:
        """Within this block the caller renders what it is answered at once and never changes it
        (``GET .../readiness``): :meth:`check_readiness` may answer what the engine and the store
        keep rather than copies — a result sharing its trait results and lists with the store's kept
        records and with other answers, its verdict decided once for the same stored rows
        (:meth:`StateReader.read_current`)."""
        return _SharedAnswers()

    async def push_trait(self, pipeline_id: str, trait_type: str, status: str, **kwargs: Any) -> TraitEvaluation:
        return await self.evaluation.push_trait(pipeline_id, trait_type, status, **kwargs)

    async def pipeline_state(self, pipeline: str | PipelineConfig, *,
                             readiness: ReadinessResult | None = None, retired: bool = False) -> PipelineStateView:
        """The pipeline's state for its current cycles (COMPLETED, RUNNING, NOT_READY with its
        blockers …; :mod:`interlock_core.pipeline_state`), from stored records only (``readiness``:
        :meth:`check_readiness` when the caller has just read it; ``retired``: the caller knows it is
        retired although its stored record does not say so yet)."""
        return await self._state(self.states.read, pipeline, readiness, retired)

    async def pipeline_state_word(self, pipeline: str | PipelineConfig, *,
                                  readiness: ReadinessResult | None = None, retired: bool = False) -> PipelineState:
        """:meth:`pipeline_state`'s ``state`` alone, decided the same way from the same records,
        without building the rest of the view (``GET .../readiness`` answers the word)."""
        return await self._state(self.states.read_word, pipeline, readiness, retired)

    async def _state(self, read: Callable[..., Awaitable[T]], pipeline: str | PipelineConfig,
                     readiness: ReadinessResult | None, retired: bool) -> T:
        """``read`` (:meth:`StateReader.read` or :meth:`StateReader.read_word`) of the pipeline."""
        just = _just_read(pipeline, readiness)
        if just is not None:  # what check_readiness has just read, as of the same instant: no second read
            return await read(just.pipeline, readiness=readiness, retired=retired, run_logs=just.run_logs,
                              records=just.records, now=just.now, days=just.days, shared=just.shared)
        config = await self.ctx.pipeline(pipeline) if isinstance(pipeline, str) else pipeline
        return await read(config, readiness=readiness, retired=retired)

    # ------------------------------------------------------------------------- lifecycle
    async def start_run(self, pipeline_id: str, schedule_id: str | None = None,
                        date: str | None = None) -> RunOutcome:
        return await self.runs.start_run(pipeline_id, schedule_id, date)

    async def poll_run(self, run_id: str) -> RunState:
        return await self.callbacks.poll_run(run_id)

    async def complete_run(self, run_id: str, status: str, metadata: dict[str, Any] | None = None) -> RunState:
        return await self.callbacks.complete_run(run_id, status, metadata)

    async def fail_run(self, run_id: str, message: str,
                       category: FailureCategory = FailureCategory.TRANSIENT) -> RunState:
        return await self.callbacks.fail_run(run_id, message, category)

    async def cancel_run(self, run_id: str, reason: str = "cancelled") -> RunState:
        return await self.callbacks.cancel_run(run_id, reason)

    async def advance_run(self, run_id: str) -> RunState:
        run = await self.callbacks._run(run_id)
        return await self.cycles.advance(run)

    async def backfill(self, pipeline_id: str, *, since: str | None, until: str | None,
                       schedule_id: str | None = None, force: bool = False, concurrency: int = DEFAULT_CONCURRENCY,
                       wait: bool = True, stop: Any = None, on_cycle: OnCycle | None = None,
                       poll_every: float | None = None) -> BackfillReport:
        """Run every cycle from ``since`` to ``until`` through the lifecycle, ``concurrency`` at a time
        (:mod:`.backfill`); cycles already completed or under way are reported, never run twice."""
        return await self.backfills.run(pipeline_id, since=since, until=until, schedule_id=schedule_id, force=force,
                                        concurrency=concurrency, wait=wait, stop=stop, on_cycle=on_cycle,
                                        poll_every=poll_every)

    async def request_rerun(self, pipeline_id: str, original_date: str, reason: str,
                            **kwargs: Any) -> tuple[RerunRecord, RunOutcome | None]:
        return await self.reruns.request_rerun(pipeline_id, original_date, reason, **kwargs)

    async def complete_rerun(self, rerun_id: str, status: str, metadata: dict[str, Any] | None = None) -> RerunRecord:
        return await self.reruns.complete_rerun(rerun_id, status, metadata)

    async def cancel_rerun(self, rerun_id: str, reason: str = "cancelled") -> RerunRecord:
        return await self.reruns.cancel_rerun(rerun_id, reason)

    # ------------------------------------------------------------------------- dry run
    async def report_scheduler_run(self, pipeline_id: str, date: str, run: SchedulerRun, *,
                                   schedule_id: str | None = None) -> ShadowCycle:
        """A dry-run pipeline's cycle was run by the scheduler in place (pushed by a client)."""
        return await self.runs.dry_run.scheduler.report(pipeline_id, date, run, schedule_id)

    async def shadow_report(self, pipeline_id: str, *, since: str | None = None, until: str | None = None,
                            schedule_id: str | None = None) -> ShadowReport:
        """Would-trigger against the scheduler's runs, cycle by cycle (:mod:`.shadow_report`). Only reads."""
        pipeline = await self.ctx.pipeline(pipeline_id)
        lookup = self.runs.dry_run.scheduler.lookup(pipeline) is not None
        from .shadow_report import shadow_report

        return await shadow_report(self.ctx, pipeline, since=since, until=until, schedule_id=schedule_id,
                                   lookup=lookup)

    async def watchdog_sweep(self) -> SweepSummary:
        """The watchdog's checks over every pipeline without a watcher pass (AWS mode's scheduled sweep)."""
        return await self.sweep.sweep()

    # ------------------------------------------------------------------------- alert outbox
    async def list_alerts(self, status: AlertStatus | None = None, *, limit: int = 50,
                          before: str | None = None) -> list[AlertRecord]:
        """Outbox records, newest first (``before``: the id that ended the previous page)."""
        return await self.ctx.store.list_alerts(status, limit=limit, before=before)

    async def get_alert(self, alert_id: str) -> AlertRecord:
        record = await self.ctx.store.get_alert(alert_id)
        if record is None:
            raise NotFoundError(f"alert {alert_id!r} not found", alertId=alert_id)
        return record

    async def retry_alert(self, alert_id: str) -> AlertRecord:
        """Send an alert again: a dead letter (FAILED) gets its attempts back, a PENDING one waiting
        for its next attempt is tried now. A delivered or grouped alert is a conflict."""
        record = await self.get_alert(alert_id)
        if record.status not in (AlertStatus.FAILED, AlertStatus.PENDING):
            raise ConflictError(f"alert {alert_id} was already {record.status.value}: nothing to retry",
                                alertId=alert_id, alertStatus=record.status.value)
        now = self.ctx.clock.now()
        retried = record.model_copy(update={
            "status": AlertStatus.PENDING, "next_attempt_at": now, "updated_at": now, "version": record.version + 1,
            **({"attempts": 0, "failed_at": None, "retried": record.retried + 1}
               if record.status is AlertStatus.FAILED else {}),
        })
        if not await self.ctx.store.cas_alert(retried, record.version):
            raise ConflictError(f"alert {alert_id} changed meanwhile: look again and retry", alertId=alert_id)
        wake = getattr(self.ctx.alerts, "wake", None)
        if wake is not None:
            wake()
        return retried

    # ------------------------------------------------------------------------- lifetime
    async def aclose(self) -> None:
        await self.ctx.triggers.aclose()
        for close in self._closers:
            await close()
        await self.ctx.store.close()
