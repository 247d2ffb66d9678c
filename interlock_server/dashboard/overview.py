"""The overview's view model: one row per pipeline, computed from records without any I/O.

A row answers "why didn't my pipeline run?" at a glance: the pipeline's state for its current
cycle, in the one vocabulary of :mod:`interlock_core.pipeline_state` (COMPLETED, RUNNING, NOT_READY
with its blocking traits and their reasons, STALE …), the last run (the current cycle's, or one of
another date labelled as such), today's cycle of each schedule (its state, its SLA, its next
window). ``gather`` reads the records; everything here is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from urllib.parse import urlencode

from interlock_core.cycles import cycle_day, next_fire
from interlock_core.model import PipelineConfig, RunLogEntry, RunState, ScheduleConfig
from interlock_core.pipeline_state import GAVE_UP, SEVERITY, Blocker, CycleState, PipelineState
from interlock_core.schedule import Deadlines, is_schedule_active, schedule_zone, wall_time
from interlock_core.sla_state import SLA_SEVERITY, SlaState, cycle_sla, sla_state, worst

# SlaState and sla_state are core's (interlock_core.sla_state): the overview shows what they say
__all__ = ["Counts", "OverviewRow", "ScheduleToday", "Selection", "SlaState", "count_label", "next_window",
           "schedule_today", "sla_state"]

LOOKAHEAD_DAYS = 14


@dataclass(frozen=True)
class ScheduleToday:
    """Today's cycle of one schedule, in the schedule's own zone: its state (the pipeline state
    vocabulary), its SLA and its next window."""

    cycle: CycleState
    excluded: bool
    sla: SlaState
    deadline: datetime | None
    deadline_label: str | None
    window_open: bool
    next_window: datetime | None
    """When the schedule next opens a cycle that has not run (None: open now)."""

    @property
    def schedule(self) -> str:
        return self.cycle.schedule_id

    @property
    def date(self) -> str:
        return self.cycle.date

    @property
    def run_log(self) -> RunLogEntry | None:
        return self.cycle.run_log

    @property
    def state(self) -> PipelineState:
        return self.cycle.state

    @property
    def attempts(self) -> int:
        return self.cycle.attempt

    @property
    def retry_at(self) -> datetime | None:
        """A failed cycle whose next attempt waits for its backoff: when it may start."""
        return self.cycle.retry_at

    @property
    def gave_up(self) -> bool:
        """The cycle failed for good (non-retryable, or every attempt spent)."""
        return self.cycle.state is PipelineState.FAILED


@dataclass(frozen=True)
class OverviewRow:
    name: str
    archetype: str
    state: PipelineState
    """The pipeline's state for its current cycle (its most urgent schedule's)."""
    blockers: list[Blocker]
    """Only while readiness decides what happens next: a settled cycle has none."""
    last_run: RunState | None
    schedules: list[ScheduleToday]
    message: str = ""
    """The state in words (when a cycle completed, what blocks it, when its window opens …)."""
    last_run_current: bool = True
    """False: ``last_run`` is another date's run (no run of the current cycle yet)."""
    readiness: PipelineState | None = None
    """What the stored trait results say (READY, NOT_READY, STALE), whether or not it matters now."""
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
        return worst(s.sla for s in self.schedules)

    @property
    def next_window(self) -> datetime | None:
        """The earliest next window of a schedule that is not open now (None when one is open)."""
        if any(s.next_window is None for s in self.schedules) or not self.schedules:
            return None
        return min(s.next_window for s in self.schedules if s.next_window is not None)

    @property
    def last_run_at(self) -> datetime | None:
        return self.last_run.updated_at if self.last_run else None


# ---------------------------------------------------------------------------------- windows


def next_window(pipeline: PipelineConfig, schedule: ScheduleConfig, now: datetime, *, today_done: bool,
                is_excluded: Callable[[Date], bool]) -> datetime | None:
    """When the schedule next opens a cycle still to run: None while today's is open and not done,
    today's ``after`` time before it, else the first day after today that is not excluded."""
    tz = schedule_zone(pipeline, schedule)
    today = now.astimezone(tz).date()
    if schedule.cron:  # the current cycle while it is open, else the next fire time on a day that runs
        if not today_done and not is_excluded(today) and is_schedule_active(schedule, now, tz):
            return None
        fire = now
        for _ in range(LOOKAHEAD_DAYS * 24):
            fire = next_fire(schedule.cron, tz, fire)
            if not is_excluded(fire.astimezone(tz).date()):
                return fire
        return None
    if not today_done and not is_excluded(today):
        if is_schedule_active(schedule, now, tz):
            return None
        return wall_time(today, schedule.after or "00:00", tz)
    for offset in range(1, LOOKAHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        if not is_excluded(day):
            return wall_time(day, schedule.after or "00:00", tz)
    return None


def schedule_today(pipeline: PipelineConfig, schedule: ScheduleConfig, cycle: CycleState, now: datetime,
                   deadlines: Deadlines, *, ready: bool, is_excluded: Callable[[Date], bool]) -> ScheduleToday:
    tz = schedule_zone(pipeline, schedule)
    excluded = is_excluded(cycle_day(cycle.date))
    entry = cycle.run_log
    gave_up = cycle.state in GAVE_UP
    done = entry is not None and (entry.status.is_done or gave_up)
    sla = cycle_sla(deadlines, entry, now, ready=ready, excluded=excluded, gave_up=gave_up)
    return ScheduleToday(
        cycle=cycle, excluded=excluded, sla=sla.state, deadline=sla.deadline, deadline_label=sla.deadline_label,
        window_open=not excluded and is_schedule_active(schedule, now, tz),
        next_window=next_window(pipeline, schedule, now, today_done=done, is_excluded=is_excluded))


# ---------------------------------------------------------------------------------- lists


ALWAYS_COUNTED = (PipelineState.COMPLETED, PipelineState.RUNNING, PipelineState.READY, PipelineState.NOT_READY,
                  PipelineState.STALE, PipelineState.FAILED)
"""States the summary always counts (in this order); the others only when a pipeline is in them."""


@dataclass(frozen=True)
class Counts:
    total: int
    states: dict[PipelineState, int]
    """Pipelines per state: every state of ``ALWAYS_COUNTED``, then any other state that occurs."""
    at_risk: int
    breached: int

    @classmethod
    def of(cls, rows: Sequence[OverviewRow]) -> Counts:
        states = {state: sum(r.state is state for r in rows) for state in PipelineState}
        shown = {s: states[s] for s in ALWAYS_COUNTED}
        shown.update({s: n for s, n in states.items() if n and s not in shown})
        return cls(total=len(rows), states=shown, at_risk=sum(r.sla is SlaState.AT_RISK for r in rows),
                   breached=sum(r.sla is SlaState.BREACHED for r in rows))

    def __getitem__(self, state: PipelineState) -> int:
        return self.states.get(state, 0)

    @property
    def running(self) -> int:
        return self[PipelineState.RUNNING]


STATE_WORDS = {PipelineState.COMPLETED: "done", PipelineState.NOT_READY: "not ready"}
"""How the summary names a count (other states: their word in lower case)."""


def count_label(state: PipelineState) -> str:
    return STATE_WORDS.get(state, state.value.replace("_", " ").lower())


SORT_KEYS: dict[str, Callable[[OverviewRow], tuple[object, ...]]] = {
    "name": lambda r: (r.name,),
    "state": lambda r: (-SEVERITY[r.state], -SLA_SEVERITY[r.sla], r.name),
    "sla": lambda r: (-SLA_SEVERITY[r.sla], -SEVERITY[r.state], r.name),
    "last-run": lambda r: (-(r.last_run_at.timestamp() if r.last_run_at else float("-inf")), r.name),
    "next-window": lambda r: (r.next_window is not None,
                              r.next_window.timestamp() if r.next_window else 0.0, r.name),
}
"""Each key puts what needs attention first: blocked, breached, most recent, soonest."""
SORT_ALIASES = {"readiness": "state"}
"""Keys of older links, still understood."""


@dataclass(frozen=True)
class Selection:
    """The overview's filter and sort, as read from the query string."""

    text: str = ""
    state: PipelineState | None = None
    sla: SlaState | None = None
    sort: str = "state"
    descending: bool = False

    @classmethod
    def parse(cls, query: dict[str, str]) -> Selection:
        state = (query.get("state") or query.get("readiness") or "").upper()  # readiness=: links of old
        sla = query.get("sla", "")
        sort = SORT_ALIASES.get(query.get("sort", ""), query.get("sort", ""))
        return cls(
            text=query.get("q", "").strip()[:200],
            state=PipelineState(state) if state in PipelineState.__members__ else None,
            sla=SlaState(sla) if sla in {s.value for s in SlaState} else None,
            sort=sort if sort in SORT_KEYS else "state",
            descending=query.get("order") == "desc",
        )

    def query(self, **changes: str) -> str:
        """This selection as a query string, with ``changes`` (an empty value drops a key)."""
        values = {"q": self.text, "state": self.state.value if self.state else "",
                  "sla": self.sla.value if self.sla else "", "sort": self.sort,
                  "order": "desc" if self.descending else "asc"}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})

    def apply(self, rows: Iterable[OverviewRow]) -> list[OverviewRow]:
        needle = self.text.lower()
        kept = [r for r in rows
                if (not needle or needle in r.name.lower() or needle in (r.description or "").lower()
                    or any(needle in b.trait.lower() or needle in (b.reason or "").lower() for b in r.blockers))
                and (self.state is None or r.state is self.state)
                and (self.sla is None or r.sla is self.sla)]
        return sorted(kept, key=SORT_KEYS[self.sort], reverse=self.descending)
