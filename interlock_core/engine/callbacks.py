"""What happens to a launched run: completion callbacks, failure, cancellation and status polls.
(A run whose owner disappeared mid-launch is reconciled by ``Runs.reconcile``: relaunched.)"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from ..errors import InvalidTransition, NotFoundError, StoreUnavailable, TriggerError
from ..model import AlertLevel, FailureCategory, PipelineOrigin, RunState, RunStatus
from ..outbound import untrusted_target
from .context import EngineContext
from .transitions import Change, Transitions

log = logging.getLogger("interlock.lifecycle")
S = RunStatus

SUCCESS_WORDS = {"success", "succeeded", "completed", "ok"}
FAILURE_WORDS = {"failed", "failure", "error"}


class Callbacks:
    def __init__(self, ctx: EngineContext, transitions: Transitions) -> None:
        self.ctx = ctx
        self.transitions = transitions

    async def _run(self, run_id: str) -> RunState:
        run = await self.ctx.store.get_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id!r} not found", runId=run_id)
        return run

    async def complete_run(self, run_id: str, status: str, metadata: dict[str, Any] | None = None,
                           message: str | None = None) -> RunState:
        """The orchestrator's completion callback. Idempotent: the same callback twice changes nothing."""
        word = status.strip().lower()
        run = await self._run(run_id)
        if word in SUCCESS_WORDS:
            if run.status in (S.COMPLETED, S.COMPLETED_MONITORING):
                return run
            pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
            target = self.transitions.target_for_success(pipeline)
            change = Change("callback", message or "callback received: success", None, metadata)
        elif word in FAILURE_WORDS:
            if run.status is S.FAILED:
                return run
            target = S.FAILED
            category = FailureCategory.TRANSIENT
            if metadata and str(metadata.get("failureCategory", "")).upper() in FailureCategory.__members__:
                category = FailureCategory(str(metadata["failureCategory"]).upper())
            change = Change("callback", message or "completed via callback with status: failed", category, metadata)
        else:
            from ..errors import ValidationError

            raise ValidationError("status must be 'success' or 'failed'", field="status")
        if run.status.is_terminal or (run.status is S.COMPLETED_MONITORING and target is not S.FAILED):
            raise InvalidTransition(f"run {run_id} is already {run.status.value}", runId=run_id,
                                    currentStatus=run.status.value)
        updated, moved = await self.transitions.move(run_id, target, change)
        if updated is None:
            raise NotFoundError(f"run {run_id!r} not found", runId=run_id)
        if not moved and updated.status not in (target, S.COMPLETED):
            raise InvalidTransition(f"run {run_id} is already {updated.status.value}", runId=run_id,
                                    currentStatus=updated.status.value)
        return updated

    async def fail_run(self, run_id: str, message: str,
                       category: FailureCategory = FailureCategory.TRANSIENT) -> RunState:
        run = await self._run(run_id)
        if run.status is S.FAILED:
            return run
        updated, moved = await self.transitions.move(run_id, S.FAILED, Change("callback", message, category))
        if not moved:
            raise InvalidTransition(f"run {run_id} is already {run.status.value}", runId=run_id)
        assert updated is not None
        return updated

    async def cancel_run(self, run_id: str, reason: str = "cancelled") -> RunState:
        run = await self._run(run_id)
        if run.status is S.CANCELLED:
            return run
        updated, moved = await self.transitions.move(run_id, S.CANCELLED, Change("cancel", reason))
        if not moved:
            raise InvalidTransition(f"run {run_id} is already {run.status.value}; it cannot be cancelled",
                                    runId=run_id)
        assert updated is not None
        return updated

    async def poll_run(self, run_id: str) -> RunState:
        """Ask the orchestrator where a RUNNING run stands and record the answer."""
        run = await self._run(run_id)
        if run.status is not S.RUNNING or not run.trigger_type:
            return run
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        if pipeline is None or pipeline.trigger is None or pipeline.trigger.type != run.trigger_type:
            return run
        cls = self.ctx.triggers.cls(run.trigger_type)
        if not getattr(cls, "pollable", False):
            return run
        trigger = self.ctx.triggers.get(run.trigger_type)
        try:
            config = cls.config_model.model_validate(pipeline.trigger.options())
            with untrusted_target(pipeline.origin is PipelineOrigin.API):
                result = await trigger.poll(config, run.metadata)
        except TriggerError as exc:
            log.warning("status poll of %s failed: %s", run_id, exc.message)
            if exc.category is FailureCategory.PERMANENT and not pipeline.retired:  # will not mend: say so once
                with contextlib.suppress(StoreUnavailable):  # alert_once alerted before raising
                    await self.ctx.alert_once(
                        f"poll-refused:{run_id}", AlertLevel.ERROR,
                        f"Status poll of run {run_id} of pipeline {run.pipeline_id} failed: {exc.message}. "
                        "The run stays RUNNING until a poll succeeds; complete or cancel it if it ended.",
                        run.pipeline_id, details={"runId": run_id, "upstreamStatus": exc.upstream_status})
            return run
        except Exception:
            log.exception("status poll of %s failed", run_id)
            return run
        if result.state == "running":
            return run
        if result.state == "succeeded":
            target = self.transitions.target_for_success(pipeline)
            change = Change("poll", f"run completed successfully (provider state: {result.message})", None,
                            result.metadata or None)
        else:
            target = S.FAILED
            change = Change("poll", f"run failed (provider state: {result.message})",
                            result.failure_category or FailureCategory.TRANSIENT, result.metadata or None)
        updated, _ = await self.transitions.move(run_id, target, change)
        return updated or run
