"""Post-run monitoring: re-evaluate during the window after completion and catch drift.

Three things can happen on a monitoring evaluation:

* readiness drift — the pipeline is no longer ready: MONITORING_DRIFT_DETECTED;
* numeric drift — ready, but the number ``driftField`` points at moved beyond ``driftThreshold``
  from its baseline at completion (:mod:`.drift`): POST_RUN_DRIFT with both values;
* late data — ready, but a trait's value changed since the launch (:mod:`.late_data`).

Drift (either kind) asks for a rerun of the cycle (source ``drift``: ``retry.maxDriftReruns`` and
the no-new-data breaker) and closes the window; so does late data when ``watch.onLateData: rerun``
asked for a rerun.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ..metrics import METRICS
from ..model import AlertLevel, EventKind, PipelineConfig, ReadinessResult, RerunSource, RunState, RunStatus
from .budgets import DRIFT_REASON, RerunRejected
from .drift import Drift, DriftFinding
from .evaluation import Evaluation
from .late_data import LateData
from .rerun_slot import RerunExists
from .reruns import CycleBusy, Reruns
from .transitions import Change, Transitions

log = logging.getLogger("interlock.monitoring")
S = RunStatus
NUMERIC_DRIFT_REASON = "post_run_drift"


class Monitoring:
    def __init__(self, evaluation: Evaluation, transitions: Transitions, reruns: Reruns, late_data: LateData) -> None:
        self.evaluation = evaluation
        self.transitions = transitions
        self.reruns = reruns
        self.late_data = late_data
        self.drift = Drift(evaluation.ctx)
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
            finding = self.drift.judge(pipeline, run, result.traits)
            if finding is not None:
                return await self._numeric_drift(pipeline, run, result, finding)
            late = await self.late_data.check(pipeline, run.schedule_id, run.date or "", run=run,
                                              evaluations=result.traits)
            if late is not None and late.rerun_id is not None and pipeline.on_late_data == "rerun":
                return await self._close(run, "monitoring ended: late data, rerun requested",
                                         f"monitoring ended: late data, {late.action}")
            return run
        METRICS.inc("interlock_drift_detected_total")
        rerun_id, what, done = await self._rerun(
            pipeline, run, result, DRIFT_REASON,
            f"trait drift detected during post-completion monitoring: blocking traits [{' '.join(result.blocking)}]",
            {"blockingTraits": result.blocking})
        updated, _ = await self.transitions.move(run.run_id, S.COMPLETED, Change("monitoring", "drift detected"))
        alert = self.ctx.make_alert(AlertLevel.WARNING,
                                    f"Pipeline {pipeline.name}: trait drift detected during monitoring, {what}",
                                    pipeline.name, details={"rerunId": rerun_id, "blockingTraits": result.blocking},
                                    schedule_id=run.schedule_id, date=run.date)
        await self.ctx.emit(EventKind.MONITORING_DRIFT_DETECTED, run.pipeline_id, run_id=run.run_id,
                            schedule_id=run.schedule_id, date=run.date,
                            message=f"trait drift detected, {done}",
                            details={"rerunId": rerun_id, "blockingTraits": result.blocking}, alert=alert)
        return updated or run

    async def _numeric_drift(self, pipeline: PipelineConfig, run: RunState, result: ReadinessResult,
                             finding: DriftFinding) -> RunState:
        METRICS.inc("interlock_drift_detected_total")
        said = (f"{finding.field} of {finding.trait_type} drifted from {finding.baseline:g} to {finding.current:g} "
                f"(threshold {finding.threshold})")
        rerun_id, what, done = await self._rerun(pipeline, run, result, NUMERIC_DRIFT_REASON,
                                                 f"numeric drift after completion: {said}",
                                                 {"drift": finding.details()})
        updated, _ = await self.transitions.move(run.run_id, S.COMPLETED,
                                                 Change("monitoring", "numeric drift detected"))
        details = {**finding.details(), "rerunId": rerun_id}
        alert = self.ctx.make_alert(AlertLevel.WARNING, f"Pipeline {pipeline.name}: {said}; {what}", pipeline.name,
                                    trait_type=finding.trait_type, details=details, schedule_id=run.schedule_id,
                                    date=run.date)
        await self.ctx.emit(EventKind.POST_RUN_DRIFT, run.pipeline_id, run_id=run.run_id,
                            trait_type=finding.trait_type, schedule_id=run.schedule_id, date=run.date,
                            status="DRIFTED", message=f"{said}; {done}", details=details, alert=alert)
        return updated or run

    async def _rerun(self, pipeline: PipelineConfig, run: RunState, result: ReadinessResult, reason: str,
                     description: str, metadata: dict[str, Any]) -> tuple[str | None, str, str]:
        """Ask for the drift rerun: (its rerun id, what became of it for the alert, and for the event)."""
        hold = {} if pipeline.monitoring.auto_rerun else {"autoRerun": False}  # held from its first write
        current = await self.reruns.inputs.capture(pipeline, run.schedule_id, run.date or "", result.traits)
        try:
            record, _ = await self.reruns.request_rerun(
                pipeline.name, run.date or "", reason, schedule_id=run.schedule_id, description=description,
                metadata={**metadata, **hold}, original_run_id=run.run_id, execute=False,
                source=RerunSource.DRIFT, current=current)
        except RerunExists as exc:  # a rerun of the cycle is already waiting or running: it covers the drift
            what = f"rerun {exc.rerun_id} of the cycle already requested"
            return exc.rerun_id, what, what
        except CycleBusy as exc:
            what = f"run {exc.run.run_id} of the cycle already running"
            return exc.run.rerun_id, what, what
        except RerunRejected as exc:
            what = f"rerun rejected: {exc.verdict.reason} ({exc.verdict.message})"
            return None, what, what
        return record.rerun_id, f"rerun {record.rerun_id} requested", f"rerun {record.rerun_id} created"

    async def _close(self, run: RunState, reason: str, message: str) -> RunState:
        updated, moved = await self.transitions.move(run.run_id, S.COMPLETED, Change("monitoring", reason))
        if moved:
            await self.ctx.emit(EventKind.MONITORING_COMPLETED, run.pipeline_id, run_id=run.run_id,
                                status=S.COMPLETED, schedule_id=run.schedule_id, date=run.date, message=message)
        return updated or run
