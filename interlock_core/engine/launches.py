"""Launching a claimed run through its trigger, recording the launch's outcome, and relaunching a
run whose launcher died before recording it (reconciliation)."""

from __future__ import annotations

import logging

import anyio

from ..config.registration import expanded_values, trigger_environment
from ..errors import LaunchOutcomeUnknown, NotFoundError, StoreUnavailable, TriggerError, VersionConflict
from ..expanded import EXPANDED, expanded_scope
from ..metrics import METRICS
from ..model import EventKind, FailureCategory, PipelineConfig, PipelineOrigin, RunState, RunStatus
from ..outbound import untrusted_target
from ..ports import LaunchRequest, LaunchResult
from ..templating import run_variables
from ..tracing import inject, span
from .context import EngineContext
from .records import update_run
from .transitions import Change, Transitions

__all__ = ["MAX_RELAUNCHES", "Launches"]

log = logging.getLogger("interlock.lifecycle")
S = RunStatus
MAX_RELAUNCHES = 3
"""How often a run orphaned TRIGGERING is relaunched under its run key before it is failed."""


class Launches:
    """The launch half of :class:`~.runs.Runs`."""

    ctx: EngineContext
    transitions: Transitions

    async def _renew_lease(self, run_id: str) -> None:
        lease = self.ctx.config.run_lease
        while True:
            await anyio.sleep(max(lease.total_seconds() / 3, 0.05))

            def renew(run: RunState) -> RunState | None:
                if run.status is not S.TRIGGERING or run.owner != self.ctx.owner:
                    return None
                run.lease_expires_at = self.ctx.clock.now() + lease
                return run

            try:
                await update_run(self.ctx.store, run_id, renew)
            except (StoreUnavailable, VersionConflict) as exc:
                # never cancel the launch in flight for this: a lapsed lease only means reconciliation
                log.warning("could not renew the lease of run %s: %s", run_id, exc.message)

    async def _launch(self, pipeline: PipelineConfig, run: RunState) -> RunState:
        assert pipeline.trigger is not None
        with span("interlock.launch", "client", **{
                "interlock.pipeline": pipeline.name, "interlock.run_id": run.run_id,
                "interlock.schedule": run.schedule_id, "interlock.date": run.date,
                "interlock.trigger_type": pipeline.trigger.type, "interlock.attempt": run.attempt,
                "interlock.relaunch": int(run.metadata.get("relaunches", 0))}) as traced:
            recorded = await self._launch_traced(pipeline, run)
            if traced.recording:
                traced.set(**{"interlock.status": recorded.status.value,
                              "interlock.failure_category": recorded.failure_category.value
                              if recorded.failure_category else None})
                if recorded.status is S.FAILED:
                    traced.error(f"launch failed ({recorded.failure_category or 'uncategorised'})")
            return recorded

    async def _launch_traced(self, pipeline: PipelineConfig, run: RunState) -> RunState:
        assert pipeline.trigger is not None and run.run_key is not None and run.date is not None
        spec = pipeline.trigger
        callback_url = f"{self.ctx.callback_base_url}/api/runs/{run.run_id}/complete" \
            if self.ctx.callback_base_url else None
        request = LaunchRequest(
            pipeline_id=pipeline.name, run_id=run.run_id, run_key=run.run_key, schedule_id=run.schedule_id,
            date=run.date, attempt=run.attempt, relaunch=int(run.metadata.get("relaunches", 0)),
            variables=run_variables(pipeline.name, run.schedule_id, run.date, run.run_id, run.run_key, run.attempt,
                                    callback_url or "", degraded=bool(run.degraded)),
            callback_url=callback_url,
            environment=trigger_environment(pipeline, self.ctx.api_allowed_env),
            trace_context=inject({}),
        )
        expanded = expanded_values(pipeline, self.ctx.api_allowed_env)
        EXPANDED.remember(pipeline.name, expanded)  # never stored, never logged (see interlock_core.expanded)
        result: LaunchResult | None = None
        error: BaseException | None = None
        try:
            trigger = self.ctx.triggers.get(spec.type)
            config = self.ctx.triggers.cls(spec.type).config_model.model_validate(spec.options())
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew_lease, run.run_id)
                try:
                    with untrusted_target(pipeline.origin is PipelineOrigin.API), expanded_scope(expanded):
                        result = await trigger.launch(config, request)
                except Exception as exc:  # kept out of the task group so it is not wrapped
                    error = exc
                finally:
                    tg.cancel_scope.cancel()
        except Exception as exc:
            error = error or exc
        with anyio.CancelScope(shield=True):
            recorded = await self._record_launch(pipeline, run, result, error)
        return recorded

    async def reconcile(self, run_id: str) -> RunState:
        """A run left TRIGGERING by an owner whose lease expired: it crashed between claiming and
        recording the launch outcome, so the job may or may not have started. The run is taken
        over and launched again under the SAME run key, which every trigger hands the orchestrator
        as its idempotency key: a job that did start is adopted, never started a second time, and
        no retry is spent. After ``MAX_RELAUNCHES`` relaunches without an outcome, or when the
        pipeline's trigger is gone or changed, it is failed as TRANSIENT and the retry policy decides."""
        run = await self.ctx.store.get_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id!r} not found", runId=run_id)
        now = self.ctx.clock.now()
        if run.status is not S.TRIGGERING or (run.lease_expires_at is not None and run.lease_expires_at > now):
            return run
        lost = f"owner {run.owner} lost its lease before recording the launch outcome"
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        relaunches = int(run.metadata.get("relaunches", 0))
        reason = None
        if pipeline is None or pipeline.trigger is None or pipeline.trigger.type != run.trigger_type:
            reason = "its pipeline's trigger is gone or changed, so it is not relaunched"
        elif pipeline.retired:
            reason = "its pipeline is retired (its file was deleted), so it is not relaunched"
        elif relaunches >= MAX_RELAUNCHES:
            reason = f"relaunched {relaunches} times under run key {run.run_key} without an outcome"
        if reason is not None or pipeline is None:
            updated, _ = await self.transitions.move(
                run_id, S.FAILED, Change("reconcile", f"{lost}; {reason}", FailureCategory.TRANSIENT))
            return updated or run
        took = False

        def take(current: RunState) -> RunState | None:
            nonlocal took
            took = (current.status is S.TRIGGERING and current.owner == run.owner
                    and (current.lease_expires_at is None or current.lease_expires_at <= now))
            if not took:
                return None  # another replica took it over (or it was recorded) meanwhile
            current.owner = self.ctx.owner
            current.lease_expires_at = now + self.ctx.config.run_lease
            current.updated_at = now
            current.metadata["relaunches"] = int(current.metadata.get("relaunches", 0)) + 1
            return current

        taken = await update_run(self.ctx.store, run_id, take)
        if taken is None or not took:
            return taken or run
        METRICS.inc("interlock_relaunches_total")
        await self.ctx.emit(EventKind.RUN_RECONCILED, run.pipeline_id, run_id=run_id, status=S.TRIGGERING,
                            schedule_id=run.schedule_id, date=run.date,
                            message=f"{lost}; relaunched under the same run key {run.run_key}",
                            details={"runKey": run.run_key, "relaunch": taken.metadata["relaunches"]})
        return await self._launch(pipeline, taken)

    async def _record_launch(self, pipeline: PipelineConfig, run: RunState, result: LaunchResult | None,
                             error: BaseException | None) -> RunState:
        spec_type = pipeline.trigger.type if pipeline.trigger else "none"
        if isinstance(error, LaunchOutcomeUnknown):
            return await self._launch_unknown(run, spec_type, error)
        if error is not None or result is None or result.state == "failed":
            if isinstance(error, TriggerError):
                category, message = error.category, error.message
            elif error is not None:
                category, message = FailureCategory.TRANSIENT, f"trigger error: {error}"
            else:
                assert result is not None
                category = result.failure_category or FailureCategory.TRANSIENT
                message = result.message or "the job failed"
            METRICS.inc("interlock_triggers_total", type=spec_type, outcome="failed")
            # the launch ran the job (a command) and it failed: the job's own failure, not the launch's
            target, change = S.FAILED, Change("launch", message, category, result.metadata if result else None,
                                              job_failure=error is None and result is not None)
        else:
            METRICS.inc("interlock_triggers_total", type=spec_type, outcome=result.state)
            target = self.transitions.target_for_success(pipeline) if result.state == "succeeded" else S.RUNNING
            change = Change("launch", result.message, None, result.metadata)
        updated, _ = await self.transitions.move(run.run_id, target, change)
        return updated or run

    async def _launch_unknown(self, run: RunState, spec_type: str, error: LaunchOutcomeUnknown) -> RunState:
        """A job holds the run key but could not be checked to be ours: nothing is recorded, as if
        the launcher had crashed. The run stays TRIGGERING; once its lease lapses it is relaunched
        under the same key (:meth:`reconcile`), which adopts the job if it proves to be this run's."""
        METRICS.inc("interlock_triggers_total", type=spec_type, outcome="unknown")
        log.warning("run %s: %s", run.run_id, error.message)
        await self.ctx.emit(EventKind.TRIGGER_FAILED, run.pipeline_id, run_id=run.run_id, status=S.TRIGGERING,
                            schedule_id=run.schedule_id, date=run.date, message=error.message,
                            details={"runKey": run.run_key, "outcome": "unknown"})
        return await self.ctx.store.get_run(run.run_id) or run
