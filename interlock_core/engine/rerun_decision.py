"""Would a rerun asked for now be accepted? The answer a dry run gives from its own counts.

A dry-run pipeline never reruns anything, but it says what would have happened
(DRY_RUN_WOULD_RERUN): it asks this module the question the real lifecycle answers before it records
a rerun (:mod:`interlock_core.engine.budgets`), with the counts its shadow record keeps instead of
the store's rerun records. The rules are the lifecycle's own — the source's budget (``retry.*``,
:data:`~interlock_core.engine.budgets.BUDGETS`), the "no new data" breaker, ``watch.onLateData`` and
``watch.monitoring.autoRerun`` — so both paths give the same answer for the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import PipelineConfig, RerunSource
from .budgets import BUDGET_SPENT, BUDGETS, NO_NEW_DATA, budget_limit


@dataclass(frozen=True)
class RerunDecision:
    asked: bool
    """Whether the pipeline asks for a rerun on this at all."""
    accepted: bool
    reason: str
    held: bool = False
    """Accepted, but recorded for a person to start (``autoRerun: false``)."""


def decide_rerun(pipeline: PipelineConfig, source: RerunSource, *, earlier: int = 0,
                 inputs_changed: bool | None = None) -> RerunDecision:
    """The decision on a rerun of one cycle asked for by ``source``; ``earlier``: how many reruns
    counted under the same budget the cycle already had; ``inputs_changed``: whether its inputs changed
    since the run the rerun would replace (None: not known, which never refuses)."""
    if source is RerunSource.LATE_DATA and pipeline.on_late_data != "rerun":
        return RerunDecision(False, False, "late data is alerted, not rerun (watch.onLateData: alert)")
    budget = BUDGETS[source]
    limit = budget_limit(pipeline.retry_policy, budget)
    if limit is not None and earlier >= limit:
        return RerunDecision(True, False, f"{BUDGET_SPENT}: {earlier} of {limit} (retry.{budget})")
    if inputs_changed is False:
        return RerunDecision(True, False, f"{NO_NEW_DATA}: the cycle's inputs are unchanged since its run")
    if source is RerunSource.DRIFT and not pipeline.monitoring.auto_rerun:
        return RerunDecision(True, True, "a rerun would be requested and held for a person to start "
                                         "(monitoring.autoRerun is off)", held=True)
    return RerunDecision(True, True, "a rerun would be requested and started when ready")
