"""The lifecycle steps after a launch: poll, outcome and retry decision, poll bound, cascade,
post-run monitoring. See :mod:`interlock_core.engine.steps`."""

from __future__ import annotations

from datetime import datetime

from ..model import AlertLevel, RerunSource, RunStatus
from ..retry import decide_retry
from .budgets import DRIFT_REASON
from .steps_base import CycleRef, Step, StepsBase, ceil_seconds, skipped
from .transitions import cascade_targets

S = RunStatus


class RunSteps(StepsBase):
    """Steps that follow a launched run until the cycle is done with it."""

    async def poll(self, cycle: CycleRef, run_id: str, owner: str) -> Step:
        """Where the run stands: a RUNNING job is polled, a TRIGGERING one whose launcher lost its
        lease is relaunched under its run key, a completion callback that arrived meanwhile is simply read."""
        run = await self._run(run_id)
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        await self.renew_lease(cycle, owner)
        if run.status is S.TRIGGERING:
            run = await self.engine.runs.reconcile(run_id)
        elif run.status is S.RUNNING:
            run = await self.engine.callbacks.poll_run(run_id)
        await self.hold_for_run(cycle, owner, run, pipeline)
        return Step(True, self.run_payload(run, pipeline))

    async def record_outcome(self, cycle: CycleRef, run_id: str, owner: str) -> Step:
        """How the run ended and, for a failure, whether the retry policy retries it and after
        how long (the same decision that emitted RETRY_SCHEDULED when the run failed)."""
        run = await self._run(run_id)
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        payload = {**self.run_payload(run, pipeline), "retryable": False, "retryBackoffSeconds": 0}
        if run.status is S.FAILED and pipeline is not None:
            policy = pipeline.retry_policy
            decision = decide_retry(policy, run.attempt, run.failure_category, run.updated_at,
                                    rerun=run.rerun_id is not None)
            if decision.retry and policy.max_code_retries is not None and run.date is not None:
                run_log = await self.ctx.store.get_run_log(run.pipeline_id, run.date, run.schedule_id)
                decision = decide_retry(policy, run.attempt, run.failure_category, run.updated_at, run_log=run_log)
            wait = ceil_seconds(decision.backoff)
            payload.update(retryable=decision.retry, retryBackoffSeconds=wait)
            await self.renew_lease(cycle, owner, wait if decision.retry else 0)
        else:
            await self.hold_for_run(cycle, owner, run, pipeline)
        return Step(run.status is not S.FAILED, payload)

    async def stop_polling(self, cycle: CycleRef, run_id: str, polls: int) -> Step:
        """The poll bound was reached with the job still running. Past the pipeline's
        ``job.pollWindow`` the run fails (JOB_POLL_EXHAUSTED, TIMEOUT: ``Callbacks.check_poll_window``)
        and the retry decision follows. Without a poll window the run is left RUNNING (failing it
        could launch the job a second time); the next orchestration of the cycle resumes."""
        run = await self.engine.callbacks.check_poll_window(await self._run(run_id))
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        if run.status is S.RUNNING and not (pipeline is not None and pipeline.retired):
            await self.ctx.alert_once(
                f"poll-bound:{run.run_id}", AlertLevel.WARNING,
                f"Run {run.run_id} of {run.pipeline_id} still RUNNING after {polls} status polls; "
                "stopped watching it until the next evaluation of the cycle", run.pipeline_id,
                details={"scheduleId": cycle.schedule_id, "date": cycle.date, "polls": polls},
                schedule_id=cycle.schedule_id, date=cycle.date)
        return Step(run.status is not S.RUNNING, self.run_payload(run, pipeline))

    async def notify_downstream(self, cycle: CycleRef, run_id: str) -> Step:
        """Cascade markers for the downstream pipelines of a COMPLETED run. The lifecycle writes
        them when the run completes; this step writes any that are missing (the write is
        idempotent) and reports who was notified."""
        run = await self._run(run_id)
        if run.status is not S.COMPLETED:
            return skipped("not_completed", f"run {run_id} is {run.status.value}", notified=[])
        expected = cascade_targets(await self.ctx.store.list_pipelines(), run)
        missing = False
        for downstream, sid, day in expected:
            markers = await self.ctx.store.list_cascade_markers(downstream.name, day or cycle.date, sid)
            missing = missing or not any(m.source == run.pipeline_id for m in markers)
        notified = await self.engine.transitions.cascade(run) if missing else [f"{d.name}/{s}" for d, s, _ in expected]
        return Step(True, {"notified": notified})

    async def monitor(self, cycle: CycleRef, run_id: str, owner: str) -> Step:
        """One post-run monitoring step (``Monitoring.check``): re-evaluate and report drift, or
        close the window when it has expired."""
        run = await self._run(run_id)
        pipeline = await self.ctx.pipeline(run.pipeline_id)
        await self.hold_for_run(cycle, owner, run, pipeline)
        if run.status is not S.COMPLETED_MONITORING:
            return Step(False, {**self.run_payload(run, pipeline), "monitoring": False, "driftDetected": False,
                                "expired": False, "rerunId": None, "blocking": []})
        started_text = run.metadata.get("monitoringStartedAt")
        try:
            started = datetime.fromisoformat(str(started_text).replace("Z", "+00:00"))
        except ValueError:
            started = run.completed_at or run.updated_at
        expired = self.ctx.clock.now() >= started + pipeline.monitoring.duration
        updated = await self.engine.monitoring.check(run)
        drift = not expired and updated.status is S.COMPLETED
        rerun = None
        if drift:
            for record in await self.ctx.store.list_reruns(pipeline.name, limit=50):
                if record.original_run_id == run.run_id and (record.reason == DRIFT_REASON
                                                             or record.source is RerunSource.DRIFT):
                    rerun = record
                    break
        return Step(updated.status is S.COMPLETED_MONITORING, {
            **self.run_payload(updated, pipeline), "monitoring": updated.status is S.COMPLETED_MONITORING,
            "driftDetected": drift, "expired": expired and not drift,
            "rerunId": rerun.rerun_id if rerun else None,
            "blocking": list(rerun.metadata.get("blockingTraits", [])) if rerun else []})
