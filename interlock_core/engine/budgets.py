"""Whether a cycle may run again: rerun budgets per source and the no-new-data breaker.

Every rerun has a source (:class:`~interlock_core.model.RerunSource`) and each source a budget per
cycle (pipeline, schedule, date) in the pipeline's ``retry`` section:

* ``maxManualReruns`` — reruns people ask for (API, CLI, dashboard, AWS replay); unset: no cap;
* ``maxDriftReruns`` — reruns Interlock asks for by itself: drift (readiness or numeric), late
  data and an upstream that ran again (default 2);
* ``maxCodeRetries`` — automatic retries after the job itself failed (see :func:`interlock_core.retry.code_retries`).

A rerun's budget is counted over the cycle's rerun records of that budget's sources (a CANCELLED
one never ran and does not count). Requests are judged with the cycle's rerun slot held
(:mod:`.rerun_slot`), so requests made at the same moment cannot overspend.

The breaker: a rerun of a cycle whose last run COMPLETED, whose inputs (:mod:`.inputs`) did not
change since that run was launched, would only reproduce it: it is rejected ("no new data")
unless forced. A cycle whose last run failed or was cancelled, or that never ran, has nothing to
reproduce: its rerun is never stopped by the breaker.

:meth:`Budgets.judge` only reads: it answers "would this rerun be accepted?" (a dry run asks it
too); :class:`~.reruns.Reruns` acts on the verdict (events, refusal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConflictError, NextStep
from ..model import PipelineConfig, RerunSource, RetryPolicy, RunInputs, RunStatus
from ..retry import code_retries as code_retries  # its home is the retry rule
from .context import EngineContext
from .inputs import InputChange, Inputs, changes
from .rerun_slot import RERUN_SCAN_LIMIT

S = RunStatus
ACCEPTED = "accepted"
NO_NEW_DATA = "no new data"
DRIFT_REASON = "monitoring_drift_detected"
"""The reason a rerun that post-run monitoring asks for carries (drift of readiness or of a number)."""
BUDGET_SPENT = "budget exhausted"

BUDGETS: dict[RerunSource, str] = {
    RerunSource.MANUAL: "maxManualReruns",
    RerunSource.DRIFT: "maxDriftReruns",
    RerunSource.LATE_DATA: "maxDriftReruns",
    RerunSource.CASCADE: "maxDriftReruns",
    RerunSource.CODE: "maxCodeRetries",
}
"""The ``retry`` key that bounds each source's reruns of one cycle."""


def budget_limit(policy: RetryPolicy, budget: str) -> int | None:
    return {"maxManualReruns": policy.max_manual_reruns, "maxDriftReruns": policy.max_drift_reruns,
            "maxCodeRetries": policy.max_code_retries}[budget]


def counted_sources(budget: str) -> frozenset[RerunSource]:
    return frozenset(source for source, name in BUDGETS.items() if name == budget)


@dataclass(frozen=True)
class RerunVerdict:
    """What the budget and the breaker say about one rerun of a cycle."""

    accepted: bool
    pipeline_id: str
    schedule_id: str
    date: str
    source: RerunSource
    reason: str
    """``accepted``, ``no new data`` or ``budget exhausted``."""
    message: str
    budget: str
    used: int
    """Reruns of the cycle already counted under ``budget`` (before this one)."""
    limit: int | None
    forced: bool = False
    replaced_run_id: str | None = None
    fingerprint: str | None = None
    """The cycle's inputs now (when the breaker looked at them)."""
    replaced_fingerprint: str | None = None
    changes: list[InputChange] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pipelineId": self.pipeline_id, "scheduleId": self.schedule_id, "date": self.date,
            "source": self.source.value, "reason": self.reason, "budget": self.budget, "used": self.used,
            "limit": self.limit, "forced": self.forced, "replacedRunId": self.replaced_run_id,
            "fingerprint": self.fingerprint, "replacedFingerprint": self.replaced_fingerprint,
        }
        if self.changes:
            out["changes"] = [c.to_json() for c in self.changes]
        return out


class RerunRejected(ConflictError):
    """A rerun refused by its budget or by the no-new-data breaker: nothing was recorded."""

    def __init__(self, verdict: RerunVerdict) -> None:
        step = NextStep("force-rerun", verdict.pipeline_id, "to run it anyway") \
            if verdict.reason == NO_NEW_DATA else None
        super().__init__(verdict.message, next_step=step, rejected=True,
                         **{k: v for k, v in verdict.details().items() if k != "forced"})
        self.verdict = verdict


class Budgets:
    def __init__(self, ctx: EngineContext, inputs: Inputs) -> None:
        self.ctx = ctx
        self.inputs = inputs

    async def used(self, pipeline_id: str, schedule_id: str, date: str, budget: str) -> int:
        """Reruns of the cycle counted under ``budget`` (a cancelled one never ran: not counted)."""
        sources = counted_sources(budget)
        return sum(1 for record in await self.ctx.store.list_reruns(pipeline_id, RERUN_SCAN_LIMIT)
                   if record.original_date == date and record.schedule_id == schedule_id
                   and record.source in sources and record.status is not S.CANCELLED)

    async def judge(self, pipeline: PipelineConfig, schedule_id: str, date: str, source: RerunSource, *,
                    force: bool = False, current: RunInputs | None = None) -> RerunVerdict:
        """Would a rerun of the cycle from ``source`` be accepted now? Reads only. ``current``: the
        cycle's inputs when the caller has just evaluated them (else the stored results are read)."""
        budget = BUDGETS[source]
        limit = budget_limit(pipeline.retry_policy, budget)
        used = await self.used(pipeline.name, schedule_id, date, budget)
        cycle = f"{pipeline.name} for {date}/{schedule_id}"

        def verdict(accepted: bool, reason: str, message: str, **more: Any) -> RerunVerdict:
            return RerunVerdict(accepted, pipeline.name, schedule_id, date, source, reason, message, budget, used,
                                limit, forced=force, **more)

        if limit is not None and used >= limit:
            return verdict(False, BUDGET_SPENT,
                           f"rerun of {cycle} refused: its {source.value} rerun budget is spent ({used} of {limit}, "
                           f"retry.{budget}); raise retry.{budget} in the pipeline's configuration to allow more")
        replaced = await self.inputs.latest_run(pipeline.name, schedule_id, date)
        if replaced is None or not replaced.status.is_done \
                or replaced.inputs is None:
            return verdict(True, ACCEPTED, f"rerun of {cycle} accepted ({source.value})",
                           replaced_run_id=replaced.run_id if replaced else None)
        if force:
            return verdict(True, ACCEPTED, f"rerun of {cycle} accepted ({source.value}, forced)",
                           replaced_run_id=replaced.run_id, replaced_fingerprint=replaced.inputs.fingerprint)
        now = current or await self.inputs.current(pipeline, schedule_id, date)
        differ = changes(replaced.inputs, now)
        more = {"replaced_run_id": replaced.run_id, "fingerprint": now.fingerprint,
                "replaced_fingerprint": replaced.inputs.fingerprint, "changes": differ}
        if not differ:
            return verdict(False, NO_NEW_DATA,
                           f"rerun of {cycle} refused: no new data since run {replaced.run_id} (its traits and "
                           "upstream runs are unchanged), so it would only reproduce that run; ask again with force "
                           "to run it anyway (after a fix to the job, say)", **more)
        what = ", ".join(sorted({c.trait_type for c in differ}))
        return verdict(True, ACCEPTED, f"rerun of {cycle} accepted ({source.value}): new data in {what}", **more)
