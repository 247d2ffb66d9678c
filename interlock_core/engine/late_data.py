"""Late data: a trait value that changed after the cycle's run completed, or an upstream the cycle
consumed that ran again.

The cycle's last run recorded the inputs it was launched with (:mod:`.inputs`); whenever the
cycle is looked at after that run completed — a watcher pass over the completed cycle (woken by a
pushed result, a cascade marker of an upstream that re-ran, or its periodic resync), a monitoring
evaluation inside the window, the AWS state machine's gate — the inputs the store holds now are
compared with them. Each trait that differs is recorded (LATE_DATA_ARRIVAL) and alerted once per
cycle, trait and run (edge-triggered: a claim in the store, shared by replicas). With
``watch.onLateData: rerun`` a rerun of the cycle is also asked for, through the budget
(``retry.maxDriftReruns``) and the no-new-data breaker: source ``late-data``, or ``cascade`` when
only upstream runs changed.

The trait numeric drift watches (``watch.monitoring.driftTrait``) is judged by its number alone: a
change within ``driftThreshold`` of the baseline at completion is no late data.

:meth:`LateData.detect` only reads (a dry run asks it); :meth:`LateData.check` acts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..model import (
    AlertLevel,
    EventKind,
    PipelineConfig,
    RerunSource,
    RunInputs,
    RunState,
    RunStatus,
    TraitEvaluation,
    format_timestamp,
)
from .budgets import RerunRejected
from .context import EngineContext
from .drift import judge, number_at
from .inputs import InputChange, Inputs, belongs_to, changes
from .rerun_slot import RerunExists
from .reruns import CycleBusy, Reruns

S = RunStatus
CLAIM_TTL = timedelta(days=35)
"""How long a late-data report of one cycle, trait and run is remembered (longer than any cycle
is looked at again)."""


@dataclass(frozen=True)
class LateDataFinding:
    """What changed since ``run`` was launched, with the cycle's inputs now."""

    pipeline_id: str
    schedule_id: str
    date: str
    run: RunState
    changes: list[InputChange]
    current: RunInputs
    values: dict[str, TraitEvaluation]
    action: str | None = None
    """What :meth:`LateData.check` did about it (``rerun … requested``, ``no rerun …``)."""
    rerun_id: str | None = None

    @property
    def source(self) -> RerunSource:
        """``cascade`` when only upstream runs changed, else ``late-data``."""
        return RerunSource.CASCADE if all(c.kind == "upstream" for c in self.changes) else RerunSource.LATE_DATA

    def details(self, change: InputChange) -> dict[str, Any]:
        out: dict[str, Any] = {"runId": self.run.run_id, **change.to_json(),
                               "completedAt": format_timestamp(self.run.completed_at) if self.run.completed_at
                               else None}
        evaluation = self.values.get(change.trait_type)
        if change.kind == "value" and evaluation is not None:
            out.update(status=str(evaluation.status), value=evaluation.value,
                       evaluatedAt=format_timestamp(evaluation.evaluated_at))
            if self.run.completed_at is not None:
                out["arrivedAfterCompletion"] = evaluation.evaluated_at >= self.run.completed_at
        return out


class LateData:
    def __init__(self, ctx: EngineContext, inputs: Inputs, reruns: Reruns) -> None:
        self.ctx = ctx
        self.inputs = inputs
        self.reruns = reruns

    async def detect(self, pipeline: PipelineConfig, schedule_id: str, date: str, *, run: RunState | None = None,
                     evaluations: Sequence[TraitEvaluation] | None = None) -> LateDataFinding | None:
        """What changed since the cycle's last run was launched, now that it completed; None when
        nothing did (or the cycle's last run has not completed). ``run``: that run, when the caller
        has it (a run in its monitoring window); ``evaluations``: trait results the caller has just
        made (else the stored ones for the cycle are read). Reads only."""
        if run is None:
            run = await self.inputs.latest_run(pipeline.name, schedule_id, date)
            if run is None or run.status is not S.COMPLETED:
                return None  # a run in its monitoring window is looked after by the monitoring
        if run.inputs is None or run.status not in (S.COMPLETED, S.COMPLETED_MONITORING):
            return None
        if evaluations is None:
            evaluations = [e for e in await self.ctx.store.list_traits(pipeline.name)
                           if belongs_to(e, schedule_id, date)]
        current = await self.inputs.capture(pipeline, schedule_id, date, evaluations)
        values = {e.trait_type: e for e in evaluations}
        found = [c for c in changes(run.inputs, current) if self._counts(pipeline, run, c, values)]
        if not found:
            return None
        return LateDataFinding(pipeline.name, schedule_id, date, run, found, current, values)

    def _counts(self, pipeline: PipelineConfig, run: RunState, change: InputChange,
                values: dict[str, TraitEvaluation]) -> bool:
        rule = pipeline.monitoring.drift_rule if pipeline.monitoring.enabled else None
        if rule is None or change.kind != "value" or change.trait_type != rule.trait:
            return True
        if run.drift_baseline is None or run.drift_baseline.value is None \
                or number_at(rule, values.get(rule.trait)) is None:
            return True  # no number to judge it by: a change like any other trait's
        return judge(rule, run.drift_baseline, values.values()) is not None

    async def check(self, pipeline: PipelineConfig, schedule_id: str, date: str, *, run: RunState | None = None,
                    evaluations: Sequence[TraitEvaluation] | None = None) -> LateDataFinding | None:
        """:meth:`detect`, then record and alert each change once (per cycle, trait and run) and,
        with ``watch.onLateData: rerun``, ask for a rerun. Returns the new changes (None when none)."""
        if pipeline.retired or pipeline.dry_run:
            return None
        finding = await self.detect(pipeline, schedule_id, date, run=run, evaluations=evaluations)
        if finding is None:
            return None
        fresh = []
        for change in finding.changes:
            key = f"late-data:{pipeline.name}:{schedule_id}:{date}:{change.trait_type}:{finding.run.run_id}"
            # a fresh owner each time: a claim is never "renewed" by the engine that made it
            if await self.ctx.store.acquire_lease(key, uuid.uuid4().hex, CLAIM_TTL.total_seconds()):
                fresh.append(change)
        if not fresh:
            return None
        finding = LateDataFinding(finding.pipeline_id, schedule_id, date, finding.run, fresh, finding.current,
                                  finding.values)
        action, rerun_id = await self._rerun(pipeline, finding)
        finding = LateDataFinding(finding.pipeline_id, schedule_id, date, finding.run, fresh, finding.current,
                                  finding.values, action, rerun_id)
        for change in fresh:
            what = (f"upstream {change.trait_type} ran again (run {change.after}, was {change.before or 'none'})"
                    if change.kind == "upstream" else f"trait {change.trait_type} changed")
            message = f"late data for {date}/{schedule_id}: {what} after run {finding.run.run_id} completed; {action}"
            details = {**finding.details(change), "action": action, "rerunId": rerun_id}
            alert = self.ctx.make_alert(AlertLevel.WARNING, f"Pipeline {pipeline.name}: {message}", pipeline.name,
                                        trait_type=change.trait_type, details=details,
                                        key=f"late-data:{pipeline.name}:{schedule_id}:{date}:{change.trait_type}",
                                        schedule_id=schedule_id, date=date)
            # the change was claimed above: its event and alert are one store write
            await self.ctx.emit(EventKind.LATE_DATA_ARRIVAL, pipeline.name, run_id=finding.run.run_id,
                                trait_type=change.trait_type, schedule_id=schedule_id, date=date,
                                status=change.kind.upper(), message=message, details=details, alert=alert)
        return finding

    async def _rerun(self, pipeline: PipelineConfig, finding: LateDataFinding) -> tuple[str, str | None]:
        """Ask for the rerun ``onLateData: rerun`` wants: (what became of it, its rerun id)."""
        if pipeline.on_late_data != "rerun":
            return "no rerun (watch.onLateData: alert)", None
        traits = ", ".join(sorted({c.trait_type for c in finding.changes}))
        try:
            record, _ = await self.reruns.request_rerun(
                pipeline.name, finding.date, f"late data: {traits} changed after run {finding.run.run_id}",
                schedule_id=finding.schedule_id, original_run_id=finding.run.run_id, execute=False,
                source=finding.source, current=finding.current,
                metadata={"lateData": [c.to_json() for c in finding.changes]})
        except RerunRejected as exc:
            return f"rerun rejected: {exc.verdict.reason}", None
        except RerunExists as exc:
            return f"rerun {exc.rerun_id} of the cycle already requested", exc.rerun_id
        except CycleBusy as exc:
            return f"run {exc.run.run_id} of the cycle already running", exc.run.rerun_id
        return f"rerun {record.rerun_id} requested", record.rerun_id
