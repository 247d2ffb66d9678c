"""The run log gate: whether a new attempt of a cycle may start (dedup, retry), and which runs of a
cycle are still doing their job."""

from __future__ import annotations

from typing import Any

from ..model import PipelineConfig, RunLogEntry, RunState, RunStatus
from ..model.enums import ACTIVE_STATUSES
from ..retry import RetryDecision, RetryReason, decide_run_log
from .context import EngineContext
from .outcome import Outcome, RunOutcome
from .rerun_slot import RERUN_SCAN_LIMIT
from .transitions import Change, Transitions

__all__ = ["ABANDONED_CLAIM", "ACTIVE", "RunGate"]

S = RunStatus
ACTIVE = ACTIVE_STATUSES
"""A run in one of these is still doing its job (COMPLETED_MONITORING is done; only watched)."""

ABANDONED_CLAIM = "the claim was abandoned before its run was recorded; the attempt is claimed again"


class RunGate:
    """The gate half of :class:`~.runs.Runs`."""

    ctx: EngineContext
    transitions: Transitions

    # ---------------------------------------------------------------------------- the gate
    async def gate(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                   entry: RunLogEntry | None) -> tuple[RunOutcome | None, RunLogEntry | None]:
        """(None, entry) when a new attempt may start; otherwise (why not, entry). The entry returned
        is one the gate judged: the claim is made against its version, never against a newer one
        (say, another caller's claim written meanwhile, whose run is still being launched)."""
        while True:
            blocked = await self._gate(pipeline, schedule_id, date, entry)
            if blocked is not None:
                return blocked, blocked.run_log
            if entry is None:
                return None, None
            current = await self.ctx.store.get_run_log(pipeline.name, date, schedule_id)
            if current is None or current.version == entry.version:
                return None, current
            entry = current  # repaired by the gate, or changed by another caller: judge it again

    async def _gate(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                    entry: RunLogEntry | None) -> RunOutcome | None:
        if entry is None:
            return None

        def out(outcome: Outcome, message: str, **kw: Any) -> RunOutcome:
            return RunOutcome(outcome, pipeline.name, schedule_id, date, message, run_log=entry, **kw)

        if entry.status.is_done:
            return out(Outcome.DUPLICATE, f"{pipeline.name} already completed for {date}/{schedule_id} "
                       f"(run {entry.run_id}); request a rerun to run it again")
        if entry.status is S.PENDING:
            return None  # an abandoned claim: its attempt is claimed again, under the same run key
        if not entry.status.is_terminal:
            run = await self.ctx.store.get_run(entry.run_id) if entry.run_id else None
            if run is not None and not run.status.is_terminal:
                return out(Outcome.IN_PROGRESS, f"run {run.run_id} of {pipeline.name} for {date}/{schedule_id} "
                           f"is {run.status.value}", run=run)
            if run is not None:  # the run ended but the log missed it: repair, then gate again
                await self.transitions._sync_run_log(run, Change("reconcile", run.failure_message,
                                                                 run.failure_category))
                entry = await self.ctx.store.get_run_log(pipeline.name, date, schedule_id)
                return await self._gate(pipeline, schedule_id, date, entry)
            # claimed, but its run was never recorded: the claimer may still be about to record it
            if self.ctx.clock.now() < entry.updated_at + self.ctx.config.run_lease:
                return out(Outcome.IN_PROGRESS, f"attempt {entry.attempt_number} of {pipeline.name} for "
                           f"{date}/{schedule_id} was claimed and is being launched")
            return await self._gate(pipeline, schedule_id, date, await self._abandon(entry))
        if entry.status is S.SKIPPED:
            return out(Outcome.SKIPPED, f"the cycle {date}/{schedule_id} was skipped "
                       f"({entry.failure_message or 'onDeadline: skip'}); request a rerun to run it")
        if entry.status is S.CANCELLED:
            return out(Outcome.NON_RETRYABLE, f"the cycle {date}/{schedule_id} was cancelled "
                       f"(run {entry.run_id}); request a rerun to run it again")
        decision = decide_run_log(pipeline.retry_policy, entry)
        if not decision.retry:
            if not entry.alert_sent:
                await self.transitions.alert_gave_up(pipeline, schedule_id, date, decision, entry.failure_message or "")
            return out(*_gave_up(decision, entry, f"{date}/{schedule_id}"))
        assert decision.at is not None
        if decision.waiting(self.ctx.clock.now()):
            return out(Outcome.BACKOFF, f"attempt {entry.attempt_number} failed; the next one waits until "
                       f"{decision.at.isoformat()}", retry_at=decision.at)
        return None

    async def active_run(self, pipeline_id: str, schedule_id: str, date: str) -> RunState | None:
        """A run of the cycle (its scheduled attempt or any rerun) that is still doing its job."""
        runs = await self.active_runs(pipeline_id, schedule_id, date)
        return runs[0] if runs else None

    async def active_runs(self, pipeline_id: str, schedule_id: str, date: str) -> list[RunState]:
        """Every run of the cycle (its scheduled attempt and its reruns) still doing its job."""
        candidates: list[str] = []
        entry = await self.ctx.store.get_run_log(pipeline_id, date, schedule_id)
        if entry is not None and entry.run_id and not entry.status.is_terminal:
            candidates.append(entry.run_id)
        for record in await self.ctx.store.list_reruns(pipeline_id, RERUN_SCAN_LIMIT):
            if (record.original_date == date and record.schedule_id == schedule_id and record.rerun_run_id
                    and not record.status.is_terminal):
                candidates.append(record.rerun_run_id)
        active: list[RunState] = []
        for run_id in dict.fromkeys(candidates):
            run = await self.ctx.store.get_run(run_id)
            if run is not None and run.status in ACTIVE:
                active.append(run)
        return active

    async def _abandon(self, entry: RunLogEntry) -> RunLogEntry | None:
        """Release a claim whose run was never recorded (its claimer died before launching): the
        entry is PENDING again with the same attempt, so the next claim launches under the same
        run key and no retry is spent on a job that never started."""
        now = self.ctx.clock.now()
        released = entry.model_copy(deep=True)
        released.status = S.PENDING
        released.failure_message = ABANDONED_CLAIM
        released.updated_at = now
        released.version = entry.version + 1
        if await self.ctx.store.cas_run_log(released, entry.version):
            return released
        return await self.ctx.store.get_run_log(entry.pipeline_id, entry.date, entry.schedule_id)


def _gave_up(decision: RetryDecision, entry: RunLogEntry, cycle: str) -> tuple[Outcome, str]:
    """The gate's answer for a cycle whose failed attempt is not retried."""
    if decision.reason is RetryReason.NON_RETRYABLE:
        return Outcome.NON_RETRYABLE, (f"last attempt failed with a non-retryable error "
                                       f"({entry.failure_category or 'uncategorised'}): {entry.failure_message}; "
                                       "request a rerun to run it again")
    if decision.reason is RetryReason.CODE_BUDGET and decision.code_budget is not None:
        failures, limit = decision.code_budget
        return Outcome.EXHAUSTED, (f"the job failed {failures} times for {cycle}, more than "
                                   f"retry.maxCodeRetries ({limit}) allows retrying; request a rerun to run it again")
    return Outcome.EXHAUSTED, (f"all {decision.max_attempts} attempts failed for {cycle}; "
                               "request a rerun to run it again")
