"""Post-run monitoring: re-evaluate during the window after completion and catch drift."""

from __future__ import annotations

import logging
from datetime import datetime

from ..metrics import METRICS
from ..model import AlertLevel, EventKind, RunState, RunStatus
from .evaluation import Evaluation
from .rerun_slot import RerunExists
from .reruns import CycleBusy, Reruns
from .transitions import Change, Transitions

log = logging.getLogger("interlock.monitoring")
S = RunStatus


class Monitoring:
    def __init__(self, evaluation: Evaluation, transitions: Transitions, reruns: Reruns) -> None:
        self.evaluation = evaluation
        self.transitions = transitions
        self.reruns = reruns
        self.ctx = evaluation.ctx

    async def check(self, run: RunState) -> RunState:
        """One monitoring step for a COMPLETED_MONITORING run."""
        if run.status is not S.COMPLETED_MONITORING:
            return run
        pipeline = await self.ctx.pipeline(run.pipeline_id)
        started_text = run.metadata.get("monitoringStartedAt")
        try:
            started = datetime.fromisoformat(str(started_text).replace("Z", "+00:00"))
        except ValueError:
            started = run.completed_at or run.updated_at  # never stuck on a bad timestamp
        now = self.ctx.clock.now()
        if pipeline.retired:  # never evaluated again: the window closes now
            return await self._close(run, "monitoring ended: the pipeline is retired",
                                     "monitoring ended early without a drift check: the pipeline is retired "
                                     "(its file was deleted)")
        if now >= started + pipeline.monitoring.duration:
            return await self._close(run, "monitoring window expired",
                                     "monitoring window expired with no drift detected")
        result = await self.evaluation.evaluate(pipeline, schedule_id=run.schedule_id, date=run.date)
        if result.ready:
            return run
        METRICS.inc("interlock_drift_detected_total")
        hold = {} if pipeline.monitoring.auto_rerun else {"autoRerun": False}  # held from its first write
        rerun_id: str | None
        try:
            record, _ = await self.reruns.request_rerun(
                pipeline.name, run.date or "", "monitoring_drift_detected", schedule_id=run.schedule_id,
                description=f"trait drift detected during post-completion monitoring: blocking traits "
                            f"[{' '.join(result.blocking)}]",
                metadata={"blockingTraits": result.blocking, **hold}, original_run_id=run.run_id, execute=False)
            rerun_id, what = record.rerun_id, f"rerun {record.rerun_id} requested"
            done = f"rerun {rerun_id} created"
        except RerunExists as exc:  # a rerun of the cycle is already waiting or running: it covers the drift
            rerun_id, what = exc.rerun_id, f"rerun {exc.rerun_id} of the cycle already requested"
            done = what
        except CycleBusy as exc:
            rerun_id, what = exc.run.rerun_id, f"run {exc.run.run_id} of the cycle already running"
            done = what
        updated, _ = await self.transitions.move(run.run_id, S.COMPLETED,
                                                 Change("monitoring", "drift detected"))
        alert = self.ctx.make_alert(AlertLevel.WARNING,
                                    f"Pipeline {pipeline.name}: trait drift detected during monitoring, {what}",
                                    pipeline.name, details={"rerunId": rerun_id, "blockingTraits": result.blocking},
                                    schedule_id=run.schedule_id, date=run.date)
        await self.ctx.emit(EventKind.MONITORING_DRIFT_DETECTED, run.pipeline_id, run_id=run.run_id,
                            schedule_id=run.schedule_id, date=run.date,
                            message=f"trait drift detected, {done}",
                            details={"rerunId": rerun_id, "blockingTraits": result.blocking}, alert=alert)
        return updated or run

    async def _close(self, run: RunState, reason: str, message: str) -> RunState:
        updated, moved = await self.transitions.move(run.run_id, S.COMPLETED, Change("monitoring", reason))
        if moved:
            await self.ctx.emit(EventKind.MONITORING_COMPLETED, run.pipeline_id, run_id=run.run_id,
                                status=S.COMPLETED, schedule_id=run.schedule_id, date=run.date, message=message)
        return updated or run
