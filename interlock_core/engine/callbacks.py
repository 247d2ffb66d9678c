"""What happens to a launched run: completion callbacks, failure, cancellation and status polls.
(A run whose owner disappeared mid-launch is reconciled by ``Runs.reconcile``: relaunched.)"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from ..config.registration import expanded_values
from ..durations import format_duration
from ..errors import InvalidTransition, NotFoundError, StoreUnavailable, TriggerError
from ..expanded import EXPANDED, expanded_scope
from ..model import AlertLevel, FailureCategory, PipelineOrigin, RunState, RunStatus, format_timestamp
from ..outbound import untrusted_target
from ..tracing import Span, span
from .context import EngineContext
from .transitions import Change, Transitions

log = logging.getLogger("interlock.lifecycle")
S = RunStatus

SUCCESS_WORDS = {"success", "succeeded", "completed", "ok"}
FAILURE_WORDS = {"failed", "failure", "error"}


class PollProblems:
    """What each pipeline's status polls last failed with. A failure that repeats on every poll (a
    rejected static token, an orchestrator that is down) is logged once as a warning, again only
    when it changes, and the first poll that works afterwards says so: a watcher polling every few
    seconds must not repeat the same warning for as long as the problem lasts."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], str] = {}

    def failed(self, pipeline_id: str, trigger_type: str, message: str) -> bool:
        """Record a failed poll; True when it is news (first, or another problem than the last)."""
        key = (pipeline_id, trigger_type)
        if self._last.get(key) == message:
            return False
        self._last[key] = message
        return True

    def recovered(self, pipeline_id: str, trigger_type: str) -> str | None:
        """Record a poll that worked; the problem it ends, if there was one."""
        return self._last.pop((pipeline_id, trigger_type), None)


class Callbacks:
    def __init__(self, ctx: EngineContext, transitions: Transitions) -> None:
        self.ctx = ctx
        self.transitions = transitions
        self.poll_problems = PollProblems()

    async def _run(self, run_id: str) -> RunState:
        run = await self.ctx.store.get_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id!r} not found", runId=run_id)
        return run

    async def complete_run(self, run_id: str, status: str, metadata: dict[str, Any] | None = None,
                           message: str | None = None) -> RunState:
        """The orchestrator's completion callback. Idempotent: the same callback twice changes nothing."""
        with span("interlock.complete", **{"interlock.run_id": run_id,
                                           "interlock.callback_status": status[:32]}) as traced:
            run = await self._complete_run(run_id, status, metadata, message)
            traced.set(**{"interlock.pipeline": run.pipeline_id, "interlock.status": run.status.value})
            return run

    async def _complete_run(self, run_id: str, status: str, metadata: dict[str, Any] | None,
                            message: str | None) -> RunState:
        word = status.strip().lower()
        run = await self._run(run_id)
        if word in SUCCESS_WORDS:
            if run.status.is_done:
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
            change = Change("callback", message or "completed via callback with status: failed", category, metadata,
                            job_failure=True)
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
        updated, moved = await self.transitions.move(run_id, S.FAILED, Change("callback", message, category,
                                                                               job_failure=True))
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
        """Ask the orchestrator where a RUNNING run stands and record the answer; a run still
        RUNNING past its pipeline's ``job.pollWindow`` fails (:meth:`check_poll_window`)."""
        run = await self._run(run_id)
        if run.status is not S.RUNNING or not run.trigger_type:
            return run
        with span("interlock.poll", "client", **{"interlock.run_id": run_id, "interlock.pipeline": run.pipeline_id,
                                                  "interlock.trigger_type": run.trigger_type}) as traced:
            polled = await self._poll(run, traced)
            traced.set(**{"interlock.status": polled.status.value})
        return await self.check_poll_window(polled)

    async def check_poll_window(self, run: RunState) -> RunState:
        """A run still RUNNING ``job.pollWindow`` after its launch is failed with category TIMEOUT
        (JOB_POLL_EXHAUSTED, with its alert): its job did not report an outcome in time. TIMEOUT is
        what the retry policy calls running out of time — retried by default (``retryableFailures``
        lists TRANSIENT and TIMEOUT), never when a pipeline leaves it out. It counts as a failure of
        the job itself (``retry.maxCodeRetries``). Without a poll window a run is followed until it ends."""
        if run.status is not S.RUNNING:
            return run
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        window = pipeline.poll_window if pipeline is not None else None
        if window is None:
            return run
        launched = run.created_at
        now = self.ctx.clock.now()
        if now < launched + window:
            return run
        message = (f"still RUNNING {format_duration(now - launched)} after its launch, past job.pollWindow "
                   f"({format_duration(window)}); no longer followed, failed as TIMEOUT")
        change = Change("poll-window", message, FailureCategory.TIMEOUT,
                        {"pollWindow": format_duration(window), "launchedAt": format_timestamp(launched)},
                        job_failure=True)
        updated, _ = await self.transitions.move(run.run_id, S.FAILED, change)
        return updated or run

    async def _poll(self, run: RunState, traced: Span) -> RunState:
        run_id = run.run_id
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        if pipeline is None or pipeline.trigger is None or pipeline.trigger.type != run.trigger_type:
            return run
        cls = self.ctx.triggers.cls(run.trigger_type)
        if not getattr(cls, "pollable", False):
            return run
        trigger = self.ctx.triggers.get(run.trigger_type)
        expanded = expanded_values(pipeline, self.ctx.api_allowed_env)
        EXPANDED.remember(pipeline.name, expanded)  # never stored, never logged (see interlock_core.expanded)
        try:
            config = cls.config_model.model_validate(pipeline.trigger.options())
            with untrusted_target(pipeline.origin is PipelineOrigin.API), expanded_scope(expanded):
                result = await trigger.poll(config, run.metadata)
        except TriggerError as exc:
            exc.message = EXPANDED.mask(pipeline.name, exc.message)
            traced.error(exc.message)
            if self.poll_problems.failed(run.pipeline_id, run.trigger_type, exc.message):
                log.warning("status poll of %s failed: %s (not logged again while it fails the same way)",
                            run_id, exc.message)
            else:
                log.debug("status poll of %s failed again: %s", run_id, exc.message)
            if exc.category is FailureCategory.PERMANENT and not pipeline.retired:  # will not mend: say so once
                with contextlib.suppress(StoreUnavailable):  # alert_once alerted before raising
                    await self.ctx.alert_once(
                        f"poll-refused:{run_id}", AlertLevel.ERROR,
                        f"Status poll of run {run_id} of pipeline {run.pipeline_id} failed: {exc.message}. "
                        "The run stays RUNNING until a poll succeeds; complete or cancel it if it ended.",
                        run.pipeline_id, details={"runId": run_id, "upstreamStatus": exc.upstream_status},
                        schedule_id=run.schedule_id, date=run.date)
            return run
        except Exception as exc:
            log.exception("status poll of %s failed", run_id)
            traced.error(f"status poll failed: {type(exc).__name__}")
            return run
        if self.poll_problems.recovered(run.pipeline_id, run.trigger_type) is not None:
            log.info("status poll of %s works again (%s)", run_id, result.message)
        if result.state == "running":
            return run
        if result.state == "succeeded":
            target = self.transitions.target_for_success(pipeline)
            change = Change("poll", f"run completed successfully (provider state: {result.message})", None,
                            result.metadata or None)
        else:
            target = S.FAILED
            change = Change("poll", f"run failed (provider state: {result.message})",
                            result.failure_category or FailureCategory.TRANSIENT, result.metadata or None,
                            job_failure=True)
        updated, _ = await self.transitions.move(run_id, target, change)
        return updated or run
