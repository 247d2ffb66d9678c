"""The overview's view model: one row per pipeline, computed from records without any I/O.

A row answers "why didn't my pipeline run?" at a glance: readiness (READY, NOT_READY when a
required trait fails, STALE when the only blockers are missing or expired results) with the
blocking traits and their reasons, the last run, today's cycle of each schedule (its run log,
its SLA state, its next window). ``gather`` reads the records; everything here is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from interlock_core.model import (
    PipelineConfig,
    ReadinessResult,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    TraitEvaluation,
    TraitStatus,
)
from interlock_core.retry import backoff, is_retryable
from interlock_core.schedule import Deadlines, is_schedule_active, schedule_zone, wall_time

AT_RISK_WINDOW = timedelta(minutes=30)
"""A cycle not done this close to its deadline is at risk."""
LOOKAHEAD_DAYS = 14
DONE = frozenset({RunStatus.COMPLETED, RunStatus.COMPLETED_MONITORING})
ACTIVE = frozenset({RunStatus.PENDING, RunStatus.TRIGGERING, RunStatus.RUNNING})


class Readiness(StrEnum):
    READY = "READY"
    NOT_READY = "NOT_READY"
    STALE = "STALE"


class SlaState(StrEnum):
    ON_TIME = "on time"
    AT_RISK = "at risk"
    BREACHED = "breached"
    NONE = "no SLA"


SLA_SEVERITY = {SlaState.NONE: 0, SlaState.ON_TIME: 1, SlaState.AT_RISK: 2, SlaState.BREACHED: 3}
READINESS_SEVERITY = {Readiness.READY: 0, Readiness.STALE: 1, Readiness.NOT_READY: 2}


@dataclass(frozen=True)
class Blocker:
    trait: str
    status: str
    reason: str | None = None
    failure_category: str | None = None


@dataclass(frozen=True)
class ScheduleToday:
    """Today's cycle of one schedule, in the schedule's own zone."""

    schedule: str
    date: str
    run_log: RunLogEntry | None
    excluded: bool
    sla: SlaState
    deadline: datetime | None
    deadline_label: str | None
    window_open: bool
    next_window: datetime | None
    """When the schedule next opens a cycle that has not run (None: open now)."""
    retry_at: datetime | None = None
    """A failed cycle whose next attempt waits for its backoff: when it may start."""
    gave_up: bool = False
    """The cycle failed for good (cancelled, non-retryable, or every attempt spent)."""

    @property
    def state(self) -> str:
        """The run log's status, or what stands in for a cycle without one."""
        if self.run_log is not None:
            return self.run_log.status.value
        if self.excluded:
            return "EXCLUDED"
        return "NOT_STARTED" if self.window_open else "WAITING"

    @property
    def attempts(self) -> int:
        return self.run_log.attempt_number if self.run_log else 0


@dataclass(frozen=True)
class OverviewRow:
    name: str
    archetype: str
    readiness: Readiness
    blockers: list[Blocker]
    last_run: RunState | None
    schedules: list[ScheduleToday]
    description: str | None = None
    tier: int | None = None
    has_trigger: bool = True
    watched: bool = True
    dry_run: bool = False
    """Shadow mode: evaluated, never triggered (a DRY-RUN badge)."""
    problem: str | None = None
    """Why the row could not be computed in full (a store or config problem), shown as is."""
    neighbours: list[str] = field(default_factory=list)
    """Upstream, then downstream pipelines: a change to one of them refreshes this pipeline's page."""
    retired_at: datetime | None = None
    """Its pipeline file was deleted (a RETIRED badge): never evaluated or triggered again, history kept."""

    @property
    def sla(self) -> SlaState:
        return max((s.sla for s in self.schedules), key=SLA_SEVERITY.__getitem__, default=SlaState.NONE)

    @property
    def next_window(self) -> datetime | None:
        """The earliest next window of a schedule that is not open now (None when one is open)."""
        if any(s.next_window is None for s in self.schedules) or not self.schedules:
            return None
        return min(s.next_window for s in self.schedules if s.next_window is not None)

    @property
    def last_run_at(self) -> datetime | None:
        return self.last_run.updated_at if self.last_run else None


# ---------------------------------------------------------------------------------- readiness


def readiness_of(result: ReadinessResult) -> tuple[Readiness, list[Blocker]]:
    """READY, NOT_READY (a required trait FAILs) or STALE (only missing or expired results block)."""
    by_type = {t.trait_type: t for t in result.traits}
    blockers = [_blocker(label, by_type) for label in result.blocking]
    if result.ready:
        return Readiness.READY, []
    if blockers and all(b.status == TraitStatus.STALE for b in blockers):
        return Readiness.STALE, blockers
    return Readiness.NOT_READY, blockers


def _blocker(label: str, by_type: dict[str, TraitEvaluation]) -> Blocker:
    trait_type = label.removesuffix(" (STALE)")
    evaluation = by_type.get(trait_type)
    if evaluation is None:
        return Blocker(trait_type, TraitStatus.STALE if label != trait_type else TraitStatus.FAIL)
    category = evaluation.failure_category.value if evaluation.failure_category else None
    return Blocker(trait_type, evaluation.status, evaluation.reason, category)


# ---------------------------------------------------------------------------------- SLA


def sla_state(deadlines: Deadlines, entry: RunLogEntry | None, now: datetime, *, ready: bool,
              excluded: bool = False) -> tuple[SlaState, datetime | None, str | None]:
    """The cycle's SLA state and the deadline that decides it.

    Done: on time when completed by the completion deadline, else breached. Not done: breached
    past the completion deadline (or, still not ready, past the evaluation deadline); at risk
    within ``AT_RISK_WINDOW`` of that deadline."""
    if excluded or (deadlines.completion is None and deadlines.evaluation is None):
        return SlaState.NONE, None, None
    completion, label = deadlines.completion, deadlines.completion_label
    if entry is not None and entry.status in DONE:
        finished = entry.completed_at or entry.updated_at
        if completion is not None and finished > completion:
            return SlaState.BREACHED, completion, label
        return SlaState.ON_TIME, completion or deadlines.evaluation, label or deadlines.evaluation_label
    started = entry is not None and entry.status is not RunStatus.FAILED
    pending: list[tuple[datetime, str | None]] = []
    if completion is not None:
        pending.append((completion, label))
    if deadlines.evaluation is not None and not ready and not started:
        pending.append((deadlines.evaluation, deadlines.evaluation_label))
    if not pending:
        return SlaState.ON_TIME, None, None
    deadline, deadline_label = min(pending, key=lambda item: item[0])
    if now > deadline:
        return SlaState.BREACHED, deadline, deadline_label
    if now >= deadline - AT_RISK_WINDOW:
        return SlaState.AT_RISK, deadline, deadline_label
    return SlaState.ON_TIME, deadline, deadline_label


# ---------------------------------------------------------------------------------- windows


def next_window(pipeline: PipelineConfig, schedule: ScheduleConfig, now: datetime, *, today_done: bool,
                is_excluded: Callable[[Date], bool]) -> datetime | None:
    """When the schedule next opens a cycle still to run: None while today's is open and not done,
    today's ``after`` time before it, else the first day after today that is not excluded."""
    tz = schedule_zone(pipeline, schedule)
    today = now.astimezone(tz).date()
    if not today_done and not is_excluded(today):
        if is_schedule_active(schedule, now, tz):
            return None
        return wall_time(today, schedule.after or "00:00", tz)
    for offset in range(1, LOOKAHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        if not is_excluded(day):
            return wall_time(day, schedule.after or "00:00", tz)
    return None


def schedule_today(pipeline: PipelineConfig, schedule: ScheduleConfig, day: str, entry: RunLogEntry | None,
                   now: datetime, deadlines: Deadlines, *, ready: bool,
                   is_excluded: Callable[[Date], bool]) -> ScheduleToday:
    tz = schedule_zone(pipeline, schedule)
    excluded = is_excluded(Date.fromisoformat(day))
    gave_up, retry_at = _failure(pipeline, entry)
    done = entry is not None and (entry.status in DONE or gave_up)
    sla, deadline, label = sla_state(deadlines, entry, now, ready=ready, excluded=excluded)
    if gave_up and sla is SlaState.ON_TIME:
        sla = SlaState.AT_RISK  # nothing will run before the deadline unless someone acts
    return ScheduleToday(
        schedule=schedule.name, date=day, run_log=entry, excluded=excluded, sla=sla, deadline=deadline,
        deadline_label=label, window_open=not excluded and is_schedule_active(schedule, now, tz),
        next_window=next_window(pipeline, schedule, now, today_done=done, is_excluded=is_excluded),
        retry_at=retry_at, gave_up=gave_up)


def _failure(pipeline: PipelineConfig, entry: RunLogEntry | None) -> tuple[bool, datetime | None]:
    """(gave up, next attempt at) for a failed or cancelled cycle, as the retry policy decides."""
    if entry is None or entry.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
        return False, None
    policy = pipeline.retry_policy
    if entry.status is RunStatus.CANCELLED or not is_retryable(policy, entry.failure_category) \
            or entry.attempt_number >= policy.max_attempts:
        return True, None
    return False, entry.updated_at + backoff(policy, entry.attempt_number)


# ---------------------------------------------------------------------------------- lists


@dataclass(frozen=True)
class Counts:
    total: int
    ready: int
    not_ready: int
    stale: int
    running: int
    at_risk: int
    breached: int

    @classmethod
    def of(cls, rows: Sequence[OverviewRow]) -> Counts:
        return cls(
            total=len(rows),
            ready=sum(r.readiness is Readiness.READY for r in rows),
            not_ready=sum(r.readiness is Readiness.NOT_READY for r in rows),
            stale=sum(r.readiness is Readiness.STALE for r in rows),
            running=sum(r.last_run is not None and r.last_run.status in ACTIVE for r in rows),
            at_risk=sum(r.sla is SlaState.AT_RISK for r in rows),
            breached=sum(r.sla is SlaState.BREACHED for r in rows),
        )


SORT_KEYS: dict[str, Callable[[OverviewRow], tuple[object, ...]]] = {
    "name": lambda r: (r.name,),
    "readiness": lambda r: (-READINESS_SEVERITY[r.readiness], -SLA_SEVERITY[r.sla], r.name),
    "sla": lambda r: (-SLA_SEVERITY[r.sla], -READINESS_SEVERITY[r.readiness], r.name),
    "last-run": lambda r: (-(r.last_run_at.timestamp() if r.last_run_at else float("-inf")), r.name),
    "next-window": lambda r: (r.next_window is not None,
                              r.next_window.timestamp() if r.next_window else 0.0, r.name),
}
"""Each key puts what needs attention first: blocked, breached, most recent, soonest."""


@dataclass(frozen=True)
class Selection:
    """The overview's filter and sort, as read from the query string."""

    text: str = ""
    readiness: Readiness | None = None
    sla: SlaState | None = None
    sort: str = "readiness"
    descending: bool = False

    @classmethod
    def parse(cls, query: dict[str, str]) -> Selection:
        readiness = query.get("readiness", "").upper()
        sla = query.get("sla", "")
        sort = query.get("sort", "")
        return cls(
            text=query.get("q", "").strip()[:200],
            readiness=Readiness(readiness) if readiness in Readiness.__members__ else None,
            sla=SlaState(sla) if sla in {s.value for s in SlaState} else None,
            sort=sort if sort in SORT_KEYS else "readiness",
            descending=query.get("order") == "desc",
        )

    def query(self, **changes: str) -> str:
        """This selection as a query string, with ``changes`` (an empty value drops a key)."""
        values = {"q": self.text, "readiness": self.readiness.value if self.readiness else "",
                  "sla": self.sla.value if self.sla else "", "sort": self.sort,
                  "order": "desc" if self.descending else "asc"}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})

    def apply(self, rows: Iterable[OverviewRow]) -> list[OverviewRow]:
        needle = self.text.lower()
        kept = [r for r in rows
                if (not needle or needle in r.name.lower() or needle in (r.description or "").lower()
                    or any(needle in b.trait.lower() or needle in (b.reason or "").lower() for b in r.blockers))
                and (self.readiness is None or r.readiness is self.readiness)
                and (self.sla is None or r.sla is self.sla)]
        return sorted(kept, key=SORT_KEYS[self.sort], reverse=self.descending)
