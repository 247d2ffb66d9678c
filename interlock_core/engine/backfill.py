"""Backfill: run every cycle of a date range through the one run lifecycle, a few at a time.

Each cycle is started exactly as the watcher starts one (:meth:`Runs.start_run`): the run log gate
first (a cycle that completed, or whose run is under way, is reported and left alone — so running
the same backfill again never doubles any work), then the readiness gate (its traits evaluated for
that cycle; ``force`` launches whatever they say), then the claim and the launch under the cycle's
run key. Which cycles a range holds is :func:`~.backfill_plan.cycles_between`'s answer; an excluded
one is reported, never run.

At most ``concurrency`` cycles are in flight at once. A cycle is in flight from its gate until its
run ends when ``wait`` is on (its run followed like ``interlock run --wait``), or until its launch
is recorded when it is off (the API: the watcher and the orchestrator's callback carry the runs on).

Stopping (``stop`` set: Ctrl-C on the command line) starts no new cycle. A cycle whose start has
begun runs to the end of its start — shielded from cancellation too — so a claim is always either
launched and recorded or never made: nothing is left half-claimed, no cycle stays TRIGGERING. Runs
being followed are left running (launched and recorded) and reported so; cycles never reached are
reported ``not_started``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import anyio
from pydantic import Field

from ..errors import InterlockError, NotFoundError, ValidationError
from ..model import PipelineConfig, Record, RunState, RunStatus, ScheduleConfig, Timestamp
from ..model.base import empty_list
from .backfill_plan import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, PlannedCycle, backfill_range, cycles_between
from .context import EngineContext
from .cycle import CyclePass
from .outcome import Outcome, RunOutcome
from .runs import ACTIVE, Runs

log = logging.getLogger("interlock.backfill")
S = RunStatus


class BackfillResult(StrEnum):
    COMPLETED = "completed"                  # launched by this backfill; its run completed
    FAILED = "failed"                        # launched by this backfill; its run failed or was cancelled
    RUNNING = "running"                      # launched by this backfill; its run is still under way
    ALREADY_COMPLETED = "already_completed"  # the cycle had completed before (dedup): nothing launched
    ALREADY_RUNNING = "already_running"      # a run of the cycle was under way (or just claimed): nothing launched
    NOT_READY = "not_ready"                  # the readiness gate said no: nothing launched
    EXCLUDED = "excluded"                    # the pipeline does not run that day (calendar): nothing launched
    REFUSED = "refused"                      # the run log refused a new attempt (backoff, retries spent …)
    DRY_RUN = "dry_run"                      # a dry-run pipeline: ready, it would have triggered
    SKIPPED = "skipped"                      # onDeadline: skip recorded the cycle skipped: a rerun runs it
    ERROR = "error"                          # the cycle could not be started (the store did not answer …)
    NOT_STARTED = "not_started"              # the backfill was stopped before it reached the cycle


FAILURES = frozenset({BackfillResult.FAILED, BackfillResult.NOT_READY, BackfillResult.REFUSED, BackfillResult.ERROR})
"""Results that leave a cycle undone: a backfill with any of them did not succeed."""

_SETTLED = {
    Outcome.DUPLICATE: BackfillResult.ALREADY_COMPLETED,
    Outcome.IN_PROGRESS: BackfillResult.ALREADY_RUNNING,
    Outcome.CLAIM_LOST: BackfillResult.ALREADY_RUNNING,
    Outcome.NOT_READY: BackfillResult.NOT_READY,
    Outcome.EXCLUDED: BackfillResult.EXCLUDED,
    Outcome.DRY_RUN: BackfillResult.DRY_RUN,
    Outcome.SKIPPED: BackfillResult.SKIPPED,
}


class BackfillCycle(Record):
    """What the backfill did with one cycle."""

    cycle: str
    """The cycle's key (its date for a daily schedule)."""
    result: BackfillResult
    message: str
    run_id: str | None = None
    run_status: RunStatus | None = None
    attempt: int | None = None
    blocking: list[str] = Field(default_factory=empty_list)
    """The traits that did not pass (a NOT_READY cycle; a forced launch records them too)."""
    forced: bool = False
    """Launched with ``force`` although its traits did not pass."""


class BackfillReport(Record):
    pipeline_id: str
    schedule_id: str
    from_date: str
    to_date: str
    force: bool
    concurrency: int
    wait: bool
    stopped: bool = False
    """Stopped before every cycle was reached (the rest are ``not_started``)."""
    ok: bool
    """No cycle failed, was refused or stayed not ready (excluded and already done ones are fine)."""
    started_at: Timestamp
    finished_at: Timestamp
    counts: dict[str, int]
    """How many cycles ended with each result (only results that occurred)."""
    cycles: list[BackfillCycle]


OnCycle = Callable[[BackfillCycle, int, int], Awaitable[None] | None]
"""Told of each cycle as it is settled, with how many are settled and how many there are."""


def check_concurrency(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise ValidationError(f"concurrency: must be a whole number from 1 to {MAX_CONCURRENCY}",
                              field="concurrency")
    return value


def _run_result(run: RunState) -> BackfillResult:
    if run.status.is_done:
        return BackfillResult.COMPLETED
    if run.status in (S.FAILED, S.CANCELLED):
        return BackfillResult.FAILED
    return BackfillResult.RUNNING


class Backfill:
    def __init__(self, ctx: EngineContext, runs: Runs, cycles: CyclePass) -> None:
        self.ctx = ctx
        self.runs = runs
        self.cycles = cycles

    async def run(self, pipeline_id: str, *, since: str | None, until: str | None,
                  schedule_id: str | None = None, force: bool = False,
                  concurrency: int = DEFAULT_CONCURRENCY, wait: bool = True,
                  stop: anyio.Event | None = None, on_cycle: OnCycle | None = None,
                  poll_every: float | None = None) -> BackfillReport:
        """Backfill ``since`` to ``until`` (``YYYY-MM-DD``, both included) of one schedule (default: the
        first). Bad arguments raise ValidationError naming the field; an unknown pipeline NotFoundError.
        ``poll_every``: seconds between two looks at a followed run (default: the pipeline's interval)."""
        check_concurrency(concurrency)
        first, last = backfill_range(since, until)
        pipeline = await self.ctx.live_pipeline(pipeline_id)
        schedule = self._schedule(pipeline, schedule_id)
        plan = cycles_between(pipeline, schedule, first, last, self.ctx.calendars)
        stop = stop or anyio.Event()
        started = self.ctx.clock.now()
        settled: dict[str, BackfillCycle] = {}
        limiter = anyio.CapacityLimiter(concurrency)
        every = poll_every if poll_every is not None else self.ctx.interval(pipeline).total_seconds()

        async def settle(result: BackfillCycle) -> None:
            settled[result.cycle] = result
            if on_cycle is not None:
                told = on_cycle(result, len(settled), len(plan))
                if told is not None:
                    await told

        async def one(planned: PlannedCycle) -> None:
            if planned.excluded is not None:
                await settle(BackfillCycle(cycle=planned.key, result=BackfillResult.EXCLUDED,
                                           message=f"{planned.excluded}: not run (a rerun runs it anyway)"))
                return
            async with limiter:
                if stop.is_set():
                    return
                try:
                    with anyio.CancelScope(shield=True):  # a started cycle is launched and recorded, or not claimed
                        outcome = await self.runs.start_run(pipeline.name, schedule.name, planned.key, force=force)
                        result = await self._settled(outcome)
                except InterlockError as exc:  # this cycle's error; the others go on
                    await settle(BackfillCycle(cycle=planned.key, result=BackfillResult.ERROR, message=exc.message))
                    return
                if wait and result.result is BackfillResult.RUNNING and outcome.run is not None:
                    result = await self._follow(outcome.run, result, stop, every)
                await settle(result)

        async with anyio.create_task_group() as tg:
            for planned in plan:
                tg.start_soon(one, planned)
        cycles = [settled.get(p.key) or BackfillCycle(cycle=p.key, result=BackfillResult.NOT_STARTED,
                                                      message="the backfill was stopped before this cycle")
                  for p in plan]
        counts = {result.value: n for result in BackfillResult
                  if (n := sum(1 for c in cycles if c.result is result))}
        return BackfillReport(
            pipeline_id=pipeline.name, schedule_id=schedule.name, from_date=first.isoformat(),
            to_date=last.isoformat(), force=force, concurrency=concurrency, wait=wait,
            stopped=any(c.result is BackfillResult.NOT_STARTED for c in cycles),
            ok=not any(c.result in FAILURES for c in cycles), started_at=started, finished_at=self.ctx.clock.now(),
            counts=counts, cycles=cycles)

    def _schedule(self, pipeline: PipelineConfig, schedule_id: str | None) -> ScheduleConfig:
        if schedule_id is None:
            return pipeline.resolved_schedules()[0]
        schedule = pipeline.schedule(schedule_id)
        if schedule is None:
            names = ", ".join(s.name for s in pipeline.resolved_schedules())
            raise ValidationError(f"schedule: pipeline {pipeline.name!r} has no schedule {schedule_id!r} "
                                  f"(it has: {names})", field="schedule")
        return schedule

    async def _settled(self, outcome: RunOutcome) -> BackfillCycle:
        """What one start of the cycle came to."""
        run = outcome.run
        blocking = list(outcome.readiness.blocking) if outcome.readiness is not None else []
        if outcome.outcome is Outcome.TRIGGERED and run is not None:
            forced = bool(run.metadata.get("forced"))
            return self._of_run(outcome.date, run, _run_result(run), forced=forced, blocking=blocking if forced else [])
        if outcome.outcome is Outcome.IN_PROGRESS and run is not None:
            try:  # moved along as a watcher pass would: an orphaned claim is relaunched under its run key
                run = await self.cycles.advance(run)
            except NotFoundError:
                pass
            return self._of_run(outcome.date, run, BackfillResult.ALREADY_RUNNING,
                                message=f"{outcome.message}; not launched again")
        result = _SETTLED.get(outcome.outcome, BackfillResult.REFUSED)
        entry = outcome.run_log
        return BackfillCycle(cycle=outcome.date, result=result, message=outcome.message,
                             run_id=run.run_id if run else entry.run_id if entry else None,
                             run_status=run.status if run else entry.status if entry else None,
                             attempt=run.attempt if run else entry.attempt_number if entry else None,
                             blocking=blocking if result is BackfillResult.NOT_READY else [])

    @staticmethod
    def _of_run(cycle: str, run: RunState, result: BackfillResult, *, message: str | None = None,
                forced: bool = False, blocking: list[str] | None = None) -> BackfillCycle:
        text = message or f"run {run.run_id} (attempt {run.attempt}) is {run.status.value}" + (
            f": {run.failure_message}" if run.failure_message else "")
        return BackfillCycle(cycle=cycle, result=result, message=text, run_id=run.run_id, run_status=run.status,
                             attempt=run.attempt, forced=forced, blocking=blocking or [])

    async def _follow(self, run: RunState, launched: BackfillCycle, stop: anyio.Event,
                      every: float) -> BackfillCycle:
        """Follow a launched run until it ends (polled, or completed by its callback) or ``stop``."""
        while run.status in ACTIVE:
            with anyio.move_on_after(max(every, 0.0)):
                await stop.wait()
            if stop.is_set():
                break
            try:
                with anyio.CancelScope(shield=True):
                    run = await self.cycles.advance(run)
                    current = await self.ctx.store.get_run(run.run_id)
            except InterlockError as exc:  # looked at again at the next interval, as the watcher would
                log.warning("backfill: could not follow run %s: %s", run.run_id, exc.message)
                continue
            run = current or run
        update: dict[str, Any] = {"result": _run_result(run), "run_status": run.status}
        followed = self._of_run(launched.cycle, run, _run_result(run))
        update["message"] = followed.message + (" (stopped following it; the run goes on)"
                                                if run.status in ACTIVE else "")
        return launched.model_copy(update=update)

