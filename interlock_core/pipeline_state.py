"""A pipeline's state for its current cycle: the one vocabulary of the CLI, the API and the dashboard.

Readiness answers "do the traits pass?"; a run log answers "what happened to this cycle?". What a
person asks is the pipeline's *state*: is today's cycle done, running, blocked (and by what),
waiting for fresh results, failed? :func:`pipeline_state` answers it from the current cycle of each
schedule (its run log, its active run, a pending rerun) and readiness, with no I/O; the engine
gathers those records (:meth:`interlock_core.engine.Engine.pipeline_state`).

A cycle that has settled (completed, failed for good, cancelled, excluded) reads as such whatever
its traits say: expired trait results block nothing until the next cycle, so they are no blockers.
Readiness decides the state only of a cycle that has not run (or whose retry or rerun waits for it).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from pydantic import Field

from .model import (
    PipelineConfig,
    ReadinessResult,
    Record,
    RerunRecord,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    Timestamp,
    TraitEvaluation,
    TraitStatus,
)
from .model.base import empty_list
from .model.enums import ACTIVE_STATUSES
from .retry import decide_run_log
from .schedule import cycle_opens, deadlines, evaluation_span, is_schedule_active, schedule_zone
from .sla_state import CycleSla, SlaState, cycle_sla


class PipelineState(StrEnum):
    """What a pipeline's current cycle is doing. Every surface (``interlock status``, the API's
    ``state`` fields, the dashboard) uses these words and nothing else."""

    COMPLETED = "COMPLETED"
    """The cycle's run completed (post-run monitoring may still watch it); for a dry-run pipeline, the
    cycle would have triggered (nothing was launched). Done until the next cycle."""
    RUNNING = "RUNNING"
    """A run of the cycle (its scheduled attempt or a rerun) is launching or running."""
    RETRYING = "RETRYING"
    """An attempt failed; the next one may start after its backoff (and once ready)."""
    FAILED = "FAILED"
    """The cycle failed for good: a non-retryable failure or every attempt spent. A rerun runs it again."""
    CANCELLED = "CANCELLED"
    """The cycle's run was cancelled. A rerun runs it again."""
    SKIPPED = "SKIPPED"
    """The cycle was given up at its deadline, not ready (``onDeadline: skip``). A rerun runs it."""
    READY = "READY"
    """Nothing ran yet this cycle and every required trait passes: it starts at the next watcher pass."""
    NOT_READY = "NOT_READY"
    """Nothing ran yet this cycle and a required trait fails: the blockers say which and why."""
    STALE = "STALE"
    """Nothing ran yet this cycle and the only blockers are missing or expired trait results."""
    WAITING = "WAITING"
    """The cycle's window (the schedule's ``after`` time) has not opened yet."""
    EXCLUDED = "EXCLUDED"
    """The cycle's date is excluded by the pipeline's calendar: nothing is due."""
    RETIRED = "RETIRED"
    """The pipeline is retired (its file is gone): never evaluated or triggered; history kept."""
    ERROR = "ERROR"
    """The state cannot be computed (e.g. its archetype is not loaded): the message says why."""


ATTENTION = [PipelineState.ERROR, PipelineState.FAILED, PipelineState.NOT_READY, PipelineState.RETRYING,
             PipelineState.STALE, PipelineState.RUNNING, PipelineState.READY, PipelineState.WAITING,
             PipelineState.CANCELLED, PipelineState.SKIPPED, PipelineState.COMPLETED, PipelineState.EXCLUDED,
             PipelineState.RETIRED]
"""The states from most to least in need of attention: a pipeline with several schedules shows
its most urgent cycle, and lists sort by this order."""
SEVERITY = {state: len(ATTENTION) - rank for rank, state in enumerate(ATTENTION)}
SETTLED = frozenset({PipelineState.COMPLETED, PipelineState.FAILED, PipelineState.CANCELLED,
                     PipelineState.SKIPPED, PipelineState.EXCLUDED, PipelineState.RETIRED})
"""States in which nothing more happens this cycle unless someone acts (a rerun)."""
GAVE_UP = frozenset({PipelineState.FAILED, PipelineState.CANCELLED, PipelineState.SKIPPED})
"""States of a cycle that was given up: nothing runs before its deadline unless someone acts."""
ACTIVE = ACTIVE_STATUSES
"""Run statuses of a run still doing its job (``RunStatus.is_active``)."""


class Blocker(Record):
    """A required trait that keeps the cycle from starting, with its stored result's reason."""

    trait: str
    status: str
    reason: str | None = None
    failure_category: str | None = None


class CycleState(Record):
    """The current cycle of one schedule."""

    schedule_id: str
    date: str
    state: PipelineState
    message: str
    run_status: RunStatus | None = None
    """The run log's status, when the cycle has one."""
    run_id: str | None = None
    attempt: int = 0
    retry_at: Timestamp | None = None
    """RETRYING: when the next attempt may start."""
    window_opens_at: Timestamp | None = None
    """WAITING: when the schedule's window opens."""
    rerun_id: str | None = None
    """A rerun of this cycle that is running, or waiting to start."""
    sla: CycleSla | None = None
    """Where the cycle stands against its SLA (:func:`interlock_core.sla_state.cycle_sla`); None when
    it has no SLA deadline or is excluded."""
    run_log: RunLogEntry | None = Field(default=None, exclude=True)


class PipelineStateView(Record):
    """A pipeline's state: its most urgent current cycle, every cycle, its blockers and its last run."""

    pipeline_id: str
    state: PipelineState
    message: str
    schedule_id: str | None = None
    date: str | None = None
    blockers: list[Blocker] = Field(default_factory=empty_list)
    """Only while readiness decides what happens next (NOT_READY, STALE, a retry or rerun waiting)."""
    readiness: PipelineState | None = None
    """What the stored trait results say (READY, NOT_READY or STALE), whether or not it matters now."""
    problem: str | None = None
    """Why readiness could not be read (readiness is then unset)."""
    cycles: list[CycleState] = Field(default_factory=empty_list)
    last_run: RunState | None = None
    """The current cycle's latest run; else the pipeline's latest run of any date (see ``lastRunCurrent``)."""
    last_run_current: bool = False
    """Whether ``lastRun`` belongs to a current cycle (False: it is another date's run, e.g. a backfill)."""
    computed_at: Timestamp
    readiness_result: ReadinessResult | None = Field(default=None, exclude=True)

    @property
    def settled(self) -> bool:
        return self.state in SETTLED


@dataclass(frozen=True)
class CycleFacts:
    """What the store holds about the current cycle of one schedule."""

    schedule: ScheduleConfig
    date: str
    entry: RunLogEntry | None
    excluded: bool = False
    active_run: RunState | None = None
    """A run of this cycle still doing its job (its scheduled attempt or a rerun)."""
    pending_rerun: RerunRecord | None = None
    """A rerun of this cycle that has not started (it waits for readiness)."""
    run: RunState | None = None
    """The run the run log names."""
    would_trigger_at: datetime | None = None
    """A dry-run pipeline's cycle: when it first would have triggered (its dry-run counterpart of done)."""


# ---------------------------------------------------------------------------------- readiness


def readiness_state(result: ReadinessResult) -> tuple[PipelineState, list[Blocker]]:
    """READY, NOT_READY (a required trait FAILs) or STALE (only missing or expired results block)."""
    if result.ready:
        return PipelineState.READY, []
    by_type = {t.trait_type: t for t in result.traits}
    blockers = [_blocker(label, by_type) for label in result.blocking]
    if blockers and all(b.status == TraitStatus.STALE for b in blockers):
        return PipelineState.STALE, blockers
    return PipelineState.NOT_READY, blockers


def _blocker(label: str, by_type: dict[str, TraitEvaluation]) -> Blocker:
    trait_type = label.removesuffix(" (STALE)")
    evaluation = by_type.get(trait_type)
    if evaluation is None:
        return Blocker(trait=trait_type, status=TraitStatus.STALE if label != trait_type else TraitStatus.FAIL)
    category = evaluation.failure_category.value if evaluation.failure_category else None
    return Blocker(trait=trait_type, status=evaluation.status, reason=evaluation.reason, failure_category=category)


# ---------------------------------------------------------------------------------- one cycle


def _clock(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _names(blockers: Sequence[Blocker]) -> str:
    return ", ".join(b.trait for b in blockers) or "the readiness rule"


def _on_readiness(pipeline: PipelineConfig, readiness: PipelineState | None, blockers: list[Blocker],
                  problem: str | None) -> tuple[PipelineState, str]:
    """The state readiness gives a cycle that waits for it, and how to say so."""
    if readiness is None:
        return PipelineState.ERROR, f"cannot read readiness: {problem or 'unknown error'}"
    if readiness is PipelineState.NOT_READY:
        return readiness, f"blocked by {_names(blockers)}"
    if readiness is PipelineState.STALE:
        return readiness, f"waiting for fresh results of {_names(blockers)} (missing or expired)"
    if pipeline.trigger is None:
        return readiness, "ready (no trigger: nothing is launched)"
    if pipeline.dry_run:
        return readiness, "ready (dry run: evaluated, never triggered)"
    return readiness, "ready: the watcher starts it at its next pass"


class CycleDecision(NamedTuple):
    """What one schedule's current cycle is doing, decided (:func:`decide_cycle`); its words and its
    view are built only when asked (:func:`cycle_state`), so a caller that needs the state alone
    (:func:`pipeline_state_word`) decides it the same way without them."""

    state: PipelineState
    decides: bool
    """Whether readiness decides what happens next in the cycle."""
    message: Callable[[], str]
    retry_at: datetime | None = None
    window_opens_at: datetime | None = None
    rerun_id: str | None = None


def cycle_state(pipeline: PipelineConfig, facts: CycleFacts, now: datetime, readiness: PipelineState | None,
                blockers: list[Blocker], *, problem: str | None = None) -> tuple[CycleState, bool]:
    """One schedule's current cycle, and whether readiness decides what happens next in it."""
    decision = decide_cycle(pipeline, facts, now, readiness, blockers, problem=problem)
    return _cycle_view(pipeline, facts, now, readiness, decision), decision.decides


def _cycle_view(pipeline: PipelineConfig, facts: CycleFacts, now: datetime, readiness: PipelineState | None,
                decision: CycleDecision) -> CycleState:
    entry = facts.entry
    return CycleState(schedule_id=facts.schedule.name, date=facts.date, state=decision.state,
                      message=decision.message(), run_status=entry.status if entry else None,
                      run_id=entry.run_id if entry else None, attempt=entry.attempt_number if entry else 0,
                      retry_at=decision.retry_at, window_opens_at=decision.window_opens_at,
                      rerun_id=decision.rerun_id, sla=_sla(pipeline, facts, decision.state, now, readiness),
                      run_log=entry)


def decide_cycle(pipeline: PipelineConfig, facts: CycleFacts, now: datetime, readiness: PipelineState | None,
                 blockers: list[Blocker], *, problem: str | None = None) -> CycleDecision:
    """One schedule's current cycle: its state, whether readiness decides what happens next in it,
    and how to say so."""
    entry, day = facts.entry, facts.date
    active = facts.active_run
    if active is not None:
        rerun = f" (rerun {active.rerun_id})" if active.rerun_id else ""
        return CycleDecision(PipelineState.RUNNING, False,
                             lambda: f"run {active.run_id}{rerun} is {active.status.value} for {day}, "
                                     f"attempt {active.attempt}", rerun_id=active.rerun_id)
    if facts.pending_rerun is not None:
        state, why = _on_readiness(pipeline, readiness, blockers, problem)
        rerun_id = facts.pending_rerun.rerun_id
        return CycleDecision(state, True, lambda: f"rerun {rerun_id} of {day} waits to start: {why}",
                             rerun_id=rerun_id)
    if entry is not None and entry.status.is_done:
        done = entry

        def completed() -> str:
            finished = done.completed_at or done.updated_at
            tail = "; post-run monitoring continues" if done.status is RunStatus.COMPLETED_MONITORING else ""
            return f"{day} completed at {_clock(finished)} (run {done.run_id}){tail}"

        return CycleDecision(PipelineState.COMPLETED, False, completed)
    if entry is None and facts.would_trigger_at is not None:
        would = facts.would_trigger_at
        return CycleDecision(PipelineState.COMPLETED, False,
                             lambda: f"dry run: {day} would have triggered at {_clock(would)}; nothing was launched")
    if entry is None:
        return _not_run(pipeline, facts, now, readiness, blockers, problem)
    logged = entry
    if entry.status in (RunStatus.TRIGGERING, RunStatus.RUNNING):
        # its run ended or is not recorded yet: the watcher's next pass repairs the log or reclaims it
        return CycleDecision(PipelineState.RUNNING, False,
                             lambda: f"attempt {logged.attempt_number} of {day} is {logged.status.value}")
    if entry.status is RunStatus.CANCELLED:
        return CycleDecision(PipelineState.CANCELLED, False,
                             lambda: f"{day} was cancelled (run {logged.run_id}); a rerun runs it again")
    if entry.status is RunStatus.SKIPPED:
        return CycleDecision(PipelineState.SKIPPED, False,
                             lambda: f"{day} was skipped "
                                     f"({(logged.failure_message or 'skipped').removeprefix('skipped: ')}); "
                                     "a rerun runs it")
    if entry.status is RunStatus.FAILED:
        return _failed(pipeline, entry, now, readiness, blockers, problem)
    return _not_run(pipeline, facts, now, readiness, blockers, problem)


def _not_run(pipeline: PipelineConfig, facts: CycleFacts, now: datetime, readiness: PipelineState | None,
             blockers: list[Blocker], problem: str | None) -> CycleDecision:
    """A cycle nothing ran in yet (or whose claim is being made): excluded, waiting for its window,
    or up to readiness."""
    day, entry = facts.date, facts.entry
    if entry is None and facts.excluded:
        return CycleDecision(PipelineState.EXCLUDED, False,
                             lambda: f"{day} is excluded by the pipeline's calendar: no run is due")
    tz = schedule_zone(pipeline, facts.schedule)
    if entry is None and not is_schedule_active(facts.schedule, now, tz):
        opens = cycle_opens(pipeline, facts.schedule, day)
        return CycleDecision(PipelineState.WAITING, False, lambda: f"the window of {day} opens at {_clock(opens)}",
                             window_opens_at=opens)
    # nothing ran yet (or a claim is being made): readiness decides
    state, why = _on_readiness(pipeline, readiness, blockers, problem)
    return CycleDecision(state, True,
                         lambda: f"{day}: {why}{_window_note(pipeline, facts.schedule, day, now, state)}")


def _window_note(pipeline: PipelineConfig, schedule: ScheduleConfig, day: str, now: datetime,
                 state: PipelineState) -> str:
    """For a cycle still waiting for readiness inside (or past) its evaluation window: when it closes."""
    span = evaluation_span(pipeline, schedule, day)
    if span is None or state not in (PipelineState.NOT_READY, PipelineState.STALE):
        return ""
    if now < span.closes:
        return f" (evaluation window closes at {_clock(span.closes)}; then onDeadline: {schedule.on_deadline})"
    return f" (evaluation window closed at {_clock(span.closes)}; still waiting)"


def _failed(pipeline: PipelineConfig, entry: RunLogEntry, now: datetime, readiness: PipelineState | None,
            blockers: list[Blocker], problem: str | None) -> CycleDecision:
    """A failed cycle: FAILED for good, or RETRYING (in its backoff, or due and waiting for readiness)."""
    decision = decide_run_log(pipeline.retry_policy, entry)
    category = entry.failure_category.value if entry.failure_category else "uncategorised"
    attempts = entry.attempt_number
    if not decision.retry or decision.at is None:
        return CycleDecision(PipelineState.FAILED, False,
                             lambda: f"{entry.date} failed for good after {attempts} attempt"
                                     f"{'' if attempts == 1 else 's'} ({category}); a rerun runs it again "
                                     "once the cause is fixed")
    retry_at = decision.at
    lead = f"attempt {attempts} of {decision.max_attempts} failed ({category}); the next"
    if decision.waiting(now):
        return CycleDecision(PipelineState.RETRYING, True, lambda: f"{lead} may start after {_clock(retry_at)}",
                             retry_at=retry_at)
    _, why = _on_readiness(pipeline, readiness, blockers, problem)
    return CycleDecision(PipelineState.RETRYING, True, lambda: f"{lead} is due: {why}")


def _sla(pipeline: PipelineConfig, facts: CycleFacts, state: PipelineState, now: datetime,
         readiness: PipelineState | None) -> CycleSla | None:
    """The cycle's SLA state (None: it has none)."""
    if pipeline.sla is None and facts.schedule.deadline is None:
        return None
    sla = cycle_sla(deadlines(pipeline, facts.schedule, facts.date), facts.entry, now,
                    ready=readiness is PipelineState.READY, excluded=facts.excluded,
                    gave_up=state in GAVE_UP)
    return None if sla.state is SlaState.NONE else sla


# ---------------------------------------------------------------------------------- the pipeline


def pipeline_state(pipeline: PipelineConfig, cycles: Sequence[CycleFacts], readiness: ReadinessResult | None,
                   now: datetime, *, latest_run: RunState | None = None, retired: bool = False,
                   problem: str | None = None) -> PipelineStateView:
    """The pipeline's state for its current cycles, from their run logs and readiness.

    ``readiness``: the readiness over stored trait results (None with ``problem`` when it cannot be
    computed). ``latest_run``: the pipeline's newest run of any date, shown as the last run when no
    current cycle has one. ``retired``: the pipeline is retired (its history is still shown)."""
    word, blockers, decisions = _decided(pipeline, cycles, readiness, now, problem)
    states = [(_cycle_view(pipeline, facts, now, word, decision), decision.decides)
              for facts, decision in zip(cycles, decisions, strict=True)]
    last_run, current = _last_run(cycles, latest_run)
    if retired:
        return PipelineStateView(
            pipeline_id=pipeline.name, state=PipelineState.RETIRED, readiness=word, problem=problem, last_run=last_run,
            last_run_current=current, cycles=[s for s, _ in states], computed_at=now, readiness_result=readiness,
            message="retired: its pipeline file is gone, so it is never evaluated or triggered; history is kept")
    if not states:
        state, message = _on_readiness(pipeline, word, blockers, problem)
        return PipelineStateView(pipeline_id=pipeline.name, state=state, message=message, blockers=blockers,
                                 readiness=word, problem=problem, last_run=last_run, last_run_current=current,
                                 computed_at=now, readiness_result=readiness)
    headline, decides = states[_headline(decisions)]
    multiple = len(states) > 1
    return PipelineStateView(
        pipeline_id=pipeline.name, state=headline.state,
        message=f"{headline.schedule_id}: {headline.message}" if multiple else headline.message,
        schedule_id=headline.schedule_id, date=headline.date,
        blockers=blockers if decides and headline.state is not PipelineState.READY else [],
        readiness=word, problem=problem, cycles=[s for s, _ in states], last_run=last_run,
        last_run_current=current,
        computed_at=now, readiness_result=readiness)


def pipeline_state_word(pipeline: PipelineConfig, cycles: Sequence[CycleFacts], readiness: ReadinessResult | None,
                        now: datetime, *, retired: bool = False, problem: str | None = None) -> PipelineState:
    """:func:`pipeline_state`'s ``state`` alone, decided by the same steps, without the words, the
    cycles' views and their SLA (a readiness answer tells the state and nothing more of it)."""
    if retired:
        return PipelineState.RETIRED
    word, blockers, decisions = _decided(pipeline, cycles, readiness, now, problem)
    if not decisions:
        return _on_readiness(pipeline, word, blockers, problem)[0]
    return decisions[_headline(decisions)].state


def _decided(pipeline: PipelineConfig, cycles: Sequence[CycleFacts], readiness: ReadinessResult | None,
             now: datetime, problem: str | None) -> tuple[PipelineState | None, list[Blocker], list[CycleDecision]]:
    """What readiness says (its word and blockers) and each current cycle's decision."""
    word, blockers = readiness_state(readiness) if readiness is not None else (None, [])
    return word, blockers, [decide_cycle(pipeline, facts, now, word, blockers, problem=problem) for facts in cycles]


def _headline(decisions: Sequence[CycleDecision]) -> int:
    """The index of the most urgent cycle (the first of equals)."""
    if len(decisions) == 1:
        return 0
    return max(range(len(decisions)), key=lambda index: SEVERITY[decisions[index].state])


def _last_run(cycles: Sequence[CycleFacts], latest: RunState | None) -> tuple[RunState | None, bool]:
    """The newest run of a current cycle; else ``latest`` (any date), marked as not current."""
    current = [run for facts in cycles for run in (facts.active_run, facts.run) if run is not None]
    if current:
        return max(current, key=lambda run: run.updated_at), True
    if latest is None:
        return None, False
    is_current = any(latest.date == f.date and latest.schedule_id == f.schedule.name for f in cycles)
    return latest, is_current
