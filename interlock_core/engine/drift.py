"""Numeric drift: a number in a trait's value that moved too far from where it stood when the run
completed.

``watch.monitoring`` names the number (``driftTrait`` and ``driftField``, a JSON path into that
trait's value, :mod:`interlock_core.jsonpath`) and how far it may move (``driftThreshold``: an
amount, or a percentage of the baseline). The baseline is captured in the same write that records
the run's completion (:class:`~interlock_core.model.DriftBaseline` on the run). Every monitoring
evaluation then compares the number with it (:meth:`Drift.judge`, which only reads); beyond the
threshold the monitoring step records POST_RUN_DRIFT and asks for a drift rerun.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..jsonpath import MISSING, as_number
from ..model import DriftBaseline, DriftRule, PipelineConfig, RunState, TraitEvaluation, TraitStatus
from .context import EngineContext
from .inputs import belongs_to


@dataclass(frozen=True)
class DriftFinding:
    """The number drifted: ``current`` is beyond ``threshold`` from ``baseline``."""

    trait_type: str
    field: str
    baseline: float
    current: float
    threshold: str

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    def details(self) -> dict[str, Any]:
        return {"traitType": self.trait_type, "field": self.field, "baseline": self.baseline,
                "current": self.current, "delta": self.delta, "threshold": self.threshold}


def number_at(rule: DriftRule, evaluation: TraitEvaluation | None) -> float | None:
    if evaluation is None or evaluation.status == TraitStatus.STALE or evaluation.value is None:
        return None
    found = rule.path.resolve(evaluation.value)
    return None if found is MISSING else as_number(found)


def judge(rule: DriftRule, baseline: DriftBaseline | None, evaluations: Iterable[TraitEvaluation]) -> \
        DriftFinding | None:
    """The drift of one evaluation against the run's baseline, or None (no baseline, no number now,
    or within the threshold)."""
    if baseline is None or baseline.value is None or baseline.trait_type != rule.trait:
        return None
    current = number_at(rule, next((e for e in evaluations if e.trait_type == rule.trait), None))
    if current is None or not rule.beyond(baseline.value, current):
        return None
    return DriftFinding(rule.trait, rule.path.text, baseline.value, current, rule.threshold_text)


class Drift:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    async def baseline_for(self, run_id: str) -> DriftBaseline | None:
        """The baseline a run completing now records, when its pipeline watches a number (the
        trait's stored result for the run's cycle; a number missing there is recorded as None)."""
        run = await self.ctx.store.get_run(run_id)
        if run is None or run.drift_baseline is not None:
            return None
        pipeline = await self.ctx.store.get_pipeline(run.pipeline_id)
        rule = pipeline.monitoring.drift_rule if pipeline is not None and pipeline.monitoring.enabled else None
        if rule is None:
            return None
        stored = await self.ctx.store.get_trait(run.pipeline_id, rule.trait)
        if stored is not None and run.date is not None and not belongs_to(stored, run.schedule_id, run.date):
            stored = None
        return DriftBaseline(trait_type=rule.trait, field=rule.path.text, value=number_at(rule, stored),
                             captured_at=self.ctx.clock.now())

    def judge(self, pipeline: PipelineConfig, run: RunState,
              evaluations: Iterable[TraitEvaluation]) -> DriftFinding | None:
        rule = pipeline.monitoring.drift_rule
        return judge(rule, run.drift_baseline, evaluations) if rule is not None else None
