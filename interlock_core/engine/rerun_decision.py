"""Would a rerun asked for now be accepted? The one answer the lifecycle and the dry run share.

A dry-run pipeline never reruns anything, but it says what would have happened
(DRY_RUN_WOULD_RERUN): it asks this module the question the real lifecycle answers before it
records a rerun, with the counts its shadow record keeps instead of the store's rerun records. The
decision is a pure function of the pipeline's configuration and what the cycle went through, so
both paths get the same answer for the same facts.

What decides today: post-run drift asks for a rerun (held for a person to start when
``watch.monitoring.autoRerun`` is off); late data asks for none. Rerun budgets per source and the
"no new data" breaker add their refusals here, from the counts passed in (``earlier``) and whether
the cycle's inputs changed since the run the rerun would replace (``inputs_changed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..model import PipelineConfig


class RerunSource(StrEnum):
    DRIFT = "monitoring_drift_detected"
    LATE_DATA = "late_data"


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
    from that source the cycle already had; ``inputs_changed``: whether its inputs changed since the
    run the rerun would replace (None: not known). Nothing is refused on those yet: they are what rerun
    budgets and the breaker decide on."""
    if source is RerunSource.LATE_DATA:
        return RerunDecision(False, False, "late data asks for no rerun")
    if not pipeline.monitoring.auto_rerun:
        return RerunDecision(True, True, "a rerun would be requested and held for a person to start "
                                         "(monitoring.autoRerun is off)", held=True)
    return RerunDecision(True, True, "a rerun would be requested and started when ready")
