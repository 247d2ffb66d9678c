"""Dry run (shadow mode): a pipeline with ``dryRun: true`` is evaluated on the normal path, and where
it would trigger the cycle records DRY_RUN_WOULD_TRIGGER once — no launch, no claim, no run log, so
nothing blocks a later real run. The first would-trigger instant of a cycle is kept as a store lease
(its owner is the instant) for 8 days; the SLA checks judge the cycle on it, and while its
monitoring window is open a readiness that turns back is recorded as drift (no rerun is made:
DRY_RUN_WOULD_RERUN says whether one would have been, :mod:`.rerun_decision`).

Each cycle also has a shadow record (:class:`~interlock_core.model.ShadowCycle`): when it was first
evaluated, what held it, when it would have triggered and the trait results it would have run on;
what the scheduler in place did is added to it by :mod:`.shadow`, and ``interlock shadow-report``
reads it (:mod:`.shadow_report`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from ..model import (
    EventKind,
    PipelineConfig,
    ReadinessResult,
    RerunSource,
    ScheduleConfig,
    ShadowCycle,
    format_timestamp,
)
from .budgets import DRIFT_REASON
from .context import EngineContext
from .dry_run_marks import marker_key, would_trigger_at
from .outcome import Outcome, RunOutcome
from .records import update_shadow_cycle
from .rerun_decision import decide_rerun
from .shadow import SchedulerRuns, inputs_digest

KEEP = timedelta(days=8)


def _owner(at: datetime) -> str:
    """A claim's owner: the instant, made unique so two engines at the same instant never both win."""
    return f"{format_timestamp(at)}|{uuid.uuid4().hex[:12]}"


class DryRun:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.scheduler = SchedulerRuns(ctx)

    async def follow(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str) -> None:
        """A watcher pass over a dry-run cycle: what the scheduler in place did, and late data."""
        await self.scheduler.follow(pipeline, schedule, today)

    async def settled(self, pipeline: PipelineConfig, schedule_id: str, date: str) -> RunOutcome | None:
        """The cycle already would have triggered and its monitoring window (if any) is over: there is
        nothing left to evaluate, as for a completed real cycle."""
        at = await would_trigger_at(self.ctx, pipeline.name, schedule_id, date)
        if at is None:
            return None
        monitoring = pipeline.monitoring
        if monitoring.enabled and self.ctx.clock.now() < at + monitoring.duration:
            return None
        return self._outcome(pipeline, schedule_id, date, at, None)

    async def ready(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                    readiness: ReadinessResult | None) -> RunOutcome:
        """Ready: record the would-trigger once per cycle (across every engine on the store)."""
        now = self.ctx.clock.now()
        key = marker_key(pipeline.name, schedule_id, date)
        if await self.ctx.store.acquire_lease(key, _owner(now), KEEP.total_seconds()):
            trigger = pipeline.trigger.type if pipeline.trigger else "none"
            await self.ctx.emit(EventKind.DRY_RUN_WOULD_TRIGGER, pipeline.name, schedule_id=schedule_id, date=date,
                                status="READY", message=f"dry run: {pipeline.name} is ready and would trigger "
                                                        f"its {trigger} job now; nothing was launched",
                                details={"dryRun": True, "triggerType": trigger})
            at = now
        else:
            at = await would_trigger_at(self.ctx, pipeline.name, schedule_id, date) or now
        await self._record_would_trigger(pipeline, schedule_id, date, at, readiness)
        return self._outcome(pipeline, schedule_id, date, at, readiness)

    async def _record_would_trigger(self, pipeline: PipelineConfig, schedule_id: str, date: str, at: datetime,
                                    readiness: ReadinessResult | None) -> None:
        """The shadow record learns the would-trigger, and the trait results it would have run on."""
        store = self.ctx.store
        record = await store.get_shadow_cycle(pipeline.name, date, schedule_id)
        if record is not None and record.would_trigger_at is not None:
            return
        traits = readiness.traits if readiness is not None else await store.list_traits(pipeline.name)
        inputs = {t.trait_type: inputs_digest(t) for t in traits}

        def mark(current: ShadowCycle) -> ShadowCycle | None:
            if current.would_trigger_at is not None:
                return None
            current.would_trigger_at, current.inputs, current.blocking = at, inputs, []
            current.first_evaluated_at = current.first_evaluated_at or at
            return current

        await update_shadow_cycle(store, pipeline.name, date, schedule_id, self.ctx.clock.now(), mark)

    async def _record_held(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                           readiness: ReadinessResult) -> None:
        """Not ready before it would have triggered: the shadow record learns what held it (written
        only when that changes)."""
        now = self.ctx.clock.now()
        blocking = list(readiness.blocking)
        record = await self.ctx.store.get_shadow_cycle(pipeline.name, date, schedule_id)
        if record is not None and (record.would_trigger_at is not None
                                   or (record.blocking == blocking and record.first_evaluated_at is not None)):
            return

        def held(current: ShadowCycle) -> ShadowCycle | None:
            if current.would_trigger_at is not None or (current.blocking == blocking and current.first_evaluated_at):
                return None
            current.blocking = blocking
            current.first_evaluated_at = current.first_evaluated_at or now
            return current

        await update_shadow_cycle(self.ctx.store, pipeline.name, date, schedule_id, now, held)

    async def not_ready(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                        readiness: ReadinessResult) -> None:
        """Not ready. Before the cycle would have triggered: what held it goes on its shadow record.
        After, inside its monitoring window: drift, once, and whether it would have been rerun."""
        at = await would_trigger_at(self.ctx, pipeline.name, schedule_id, date)
        if at is None:
            await self._record_held(pipeline, schedule_id, date, readiness)
            return
        monitoring = pipeline.monitoring
        if not monitoring.enabled or self.ctx.clock.now() >= at + monitoring.duration:
            return
        key = marker_key(pipeline.name, schedule_id, date, "drift")
        if not await self.ctx.store.acquire_lease(key, _owner(self.ctx.clock.now()), KEEP.total_seconds()):
            return
        blocking = list(readiness.blocking)
        await self.ctx.emit(EventKind.MONITORING_DRIFT_DETECTED, pipeline.name, schedule_id=schedule_id,
                            date=date, status="NOT_READY",
                            message=f"dry run: drift after the would-trigger — blocked by "
                                    f"{', '.join(blocking)}; no rerun (dry run)",
                            details={"dryRun": True, "blocking": blocking})
        record = await self.ctx.store.get_shadow_cycle(pipeline.name, date, schedule_id)
        decision = decide_rerun(pipeline, RerunSource.DRIFT, earlier=record.would_reruns if record else 0)
        if not decision.asked:
            return

        def counted(current: ShadowCycle) -> ShadowCycle:
            current.would_reruns += 1
            return current

        await update_shadow_cycle(self.ctx.store, pipeline.name, date, schedule_id, self.ctx.clock.now(), counted)
        verdict = "would have been requested" if decision.accepted else "would have been refused"
        await self.ctx.emit(EventKind.DRY_RUN_WOULD_RERUN, pipeline.name, schedule_id=schedule_id, date=date,
                            status="ACCEPTED" if decision.accepted else "REJECTED",
                            message=f"dry run: a rerun of {date}/{schedule_id} {verdict} (post-run drift, "
                                    f"blocked by {', '.join(blocking)}): {decision.reason}",
                            details={"dryRun": True, "reason": DRIFT_REASON,
                                     "accepted": decision.accepted, "held": decision.held,
                                     "decision": decision.reason, "blockingTraits": blocking})

    def _outcome(self, pipeline: PipelineConfig, schedule_id: str, date: str, at: datetime,
                 readiness: ReadinessResult | None) -> RunOutcome:
        return RunOutcome(Outcome.DRY_RUN, pipeline.name, schedule_id, date,
                          f"{pipeline.name} would have triggered for {date}/{schedule_id} at "
                          f"{format_timestamp(at)}; nothing was launched", readiness=readiness,
                          would_trigger_at=at)
