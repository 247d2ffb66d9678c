"""Dry run (shadow mode): a pipeline with ``dryRun: true`` is evaluated on the normal path, and where
it would trigger the cycle records DRY_RUN_WOULD_TRIGGER once — no launch, no claim, no run log, so
nothing blocks a later real run. The first would-trigger instant of a cycle is kept as a store lease
(its owner is the instant) for 8 days; the SLA checks judge the cycle on it, and while its
monitoring window is open a readiness that turns back is recorded as drift (no rerun)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from ..model import EventKind, PipelineConfig, ReadinessResult, format_timestamp
from .context import EngineContext
from .outcome import Outcome, RunOutcome

KEEP = timedelta(days=8)


def marker_key(pipeline_id: str, schedule_id: str, date: str, what: str = "would-trigger") -> str:
    return f"dry-run:{what}:{pipeline_id}:{schedule_id}:{date}"


async def would_trigger_at(ctx: EngineContext, pipeline_id: str, schedule_id: str, date: str) -> datetime | None:
    """When the cycle of a dry-run pipeline first would have triggered, if it did."""
    owner = await ctx.store.lease_owner(marker_key(pipeline_id, schedule_id, date))
    if not owner:
        return None
    try:
        return datetime.fromisoformat(owner.split("|", 1)[0].replace("Z", "+00:00"))
    except ValueError:
        return None


def _owner(at: datetime) -> str:
    """A claim's owner: the instant, made unique so two engines at the same instant never both win."""
    return f"{format_timestamp(at)}|{uuid.uuid4().hex[:12]}"


class DryRun:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

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
        return self._outcome(pipeline, schedule_id, date, at, readiness)

    async def not_ready(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                        readiness: ReadinessResult) -> None:
        """Not ready after the cycle would have triggered, inside its monitoring window: drift, once."""
        at = await would_trigger_at(self.ctx, pipeline.name, schedule_id, date)
        monitoring = pipeline.monitoring
        if at is None or not monitoring.enabled or self.ctx.clock.now() >= at + monitoring.duration:
            return
        key = marker_key(pipeline.name, schedule_id, date, "drift")
        if await self.ctx.store.acquire_lease(key, _owner(self.ctx.clock.now()), KEEP.total_seconds()):
            await self.ctx.emit(EventKind.MONITORING_DRIFT_DETECTED, pipeline.name, schedule_id=schedule_id,
                                date=date, status="NOT_READY",
                                message=f"dry run: drift after the would-trigger — blocked by "
                                        f"{', '.join(readiness.blocking)}; no rerun (dry run)",
                                details={"dryRun": True, "blocking": list(readiness.blocking)})

    def _outcome(self, pipeline: PipelineConfig, schedule_id: str, date: str, at: datetime,
                 readiness: ReadinessResult | None) -> RunOutcome:
        return RunOutcome(Outcome.DRY_RUN, pipeline.name, schedule_id, date,
                          f"{pipeline.name} would have triggered for {date}/{schedule_id} at "
                          f"{format_timestamp(at)}; nothing was launched", readiness=readiness,
                          would_trigger_at=at)
