"""What the lifecycle steps share: the values they exchange, lookups and the cycle lease.

See :mod:`interlock_core.engine.steps` for the steps themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..archetypes import ResolvedTrait
from ..errors import ConflictError, NotFoundError
from ..model import PipelineConfig, RunState, RunStatus, ScheduleConfig, TraitEvaluation
from .engine import Engine
from .runs import cycle_lease_key

S = RunStatus
LEASE_TTL = timedelta(minutes=15)
POLL_WINDOW = timedelta(hours=1)


class CycleLeaseLost(ConflictError):
    """Another owner took the cycle lease (ours expired): this orchestration must stop."""


@dataclass(frozen=True)
class CycleRef:
    """One cycle as an orchestration carries it: which pipeline, schedule and date, and whether
    it replays a completed date (``replay``) or runs a recorded rerun (``rerun_id``)."""

    pipeline_id: str
    schedule_id: str
    date: str
    replay: bool = False
    rerun_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pipelineId": self.pipeline_id, "scheduleId": self.schedule_id, "date": self.date,
                "replay": self.replay, "rerunId": self.rerun_id}


@dataclass
class Step:
    proceed: bool
    payload: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"result": "proceed" if self.proceed else "skip", "payload": self.payload}


def skipped(outcome: str, reason: str, **payload: Any) -> Step:
    return Step(False, {"outcome": outcome, "reason": reason, **payload})


def ceil_seconds(delta: timedelta) -> int:
    """Whole seconds, rounded up, at least 1 (a Wait state's SecondsPath)."""
    return max(1, math.ceil(delta.total_seconds()))


def run_state_word(status: RunStatus) -> str:
    """``running`` / ``succeeded`` / ``failed``: where a run stands, as a Choice state reads it."""
    if status.is_done:
        return "succeeded"
    if status in (S.FAILED, S.CANCELLED):
        return "failed"
    return "running"


def trait_result(trait: ResolvedTrait, evaluation: TraitEvaluation) -> dict[str, Any]:
    out = evaluation.to_json_dict()
    out["required"] = trait.required
    return out


class StepsBase:
    """Lookups and the cycle lease shared by every step."""

    def __init__(self, engine: Engine, *, lease_ttl: timedelta = LEASE_TTL,
                 poll_window: timedelta = POLL_WINDOW) -> None:
        self.engine = engine
        self.ctx = engine.ctx
        self.lease_ttl = lease_ttl
        self.poll_window = poll_window

    # ------------------------------------------------------------------------------ lookups
    def _schedule(self, pipeline: PipelineConfig, schedule_id: str) -> ScheduleConfig:
        schedule = pipeline.schedule(schedule_id)
        if schedule is None:
            raise NotFoundError(f"pipeline {pipeline.name!r} has no schedule {schedule_id!r}",
                                pipelineId=pipeline.name, scheduleId=schedule_id)
        return schedule

    async def _run(self, run_id: str) -> RunState:
        return await self.engine.callbacks._run(run_id)

    def _interval(self, pipeline: PipelineConfig) -> int:
        return ceil_seconds(self.ctx.interval(pipeline))

    def run_payload(self, run: RunState, pipeline: PipelineConfig | None) -> dict[str, Any]:
        interval = self._interval(pipeline) if pipeline is not None else 30
        return {
            "runId": run.run_id, "status": run.status.value, "state": run_state_word(run.status),
            "attemptNumber": run.attempt, "rerunId": run.rerun_id, "triggerType": run.trigger_type,
            "failureCategory": run.failure_category.value if run.failure_category else None,
            "message": run.failure_message,
            "pollIntervalSeconds": interval,
            "maxPolls": self.max_polls(pipeline, interval),
            "monitoringIntervalSeconds": interval,
        }

    def max_polls(self, pipeline: PipelineConfig | None, interval: int) -> int:
        """How many status polls an execution makes before its poll bound: the pipeline's
        ``job.pollWindow`` (one more poll than fits in it, so the poll past the window fails the run),
        else the default bound (then the run stays RUNNING and a later execution resumes it)."""
        window = pipeline.poll_window if pipeline is not None else None
        if window is not None:
            return math.ceil(window.total_seconds() / interval) + 1
        return max(1, math.ceil(self.poll_window.total_seconds() / interval))

    # ------------------------------------------------------------------------------ lease
    def lease_key(self, cycle: CycleRef) -> str:
        return cycle_lease_key(cycle.pipeline_id, cycle.schedule_id)

    async def acquire_lease(self, cycle: CycleRef, owner: str) -> Step:
        key = self.lease_key(cycle)
        if await self.ctx.store.acquire_lease(key, owner, self.lease_ttl.total_seconds()):
            return Step(True, {"lease": key, "owner": owner})
        holder = await self.ctx.store.lease_owner(key)
        return skipped("lease_held", f"cycle lease held by {holder or 'another owner'}", lease=key)

    async def renew_lease(self, cycle: CycleRef, owner: str, wait_seconds: float = 0) -> None:
        """Hold the lease for the coming wait plus the usual margin; raise if another owner has it."""
        ttl = self.lease_ttl.total_seconds() + max(0.0, wait_seconds)
        if not await self.ctx.store.acquire_lease(self.lease_key(cycle), owner, ttl):
            raise CycleLeaseLost(f"cycle lease {self.lease_key(cycle)} is held by another owner",
                                 owner=owner)

    async def hold_for_run(self, cycle: CycleRef, owner: str, run: RunState, pipeline: PipelineConfig | None) -> None:
        """Renew the lease for the wait that follows a step reporting ``run``: the poll interval of a
        running job, the monitoring interval of a run being monitored."""
        wait = 0
        if pipeline is not None and run.status in (S.TRIGGERING, S.RUNNING, S.COMPLETED_MONITORING):
            wait = self._interval(pipeline)
        await self.renew_lease(cycle, owner, wait)

    async def release_lease(self, cycle: CycleRef, owner: str) -> Step:
        released = await self.ctx.store.release_lease(self.lease_key(cycle), owner)
        return Step(True, {"released": released})
