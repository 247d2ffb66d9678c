"""The overview's view model: SLA states, next windows, counts by state, filter and sort (the states
themselves are core's: tests/unit/test_pipeline_state.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import date as Date
from typing import Any

import pytest

from interlock_core.model import (
    FailureCategory,
    PipelineConfig,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
)
from interlock_core.pipeline_state import Blocker, CycleFacts, CycleState, PipelineState, cycle_state
from interlock_core.schedule import Deadlines, deadlines
from interlock_server.dashboard.overview import (
    Counts,
    OverviewRow,
    ScheduleToday,
    Selection,
    SlaState,
    next_window,
    schedule_today,
    sla_state,
)

DAY = "2026-03-02"  # a Monday
AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def entry(status: RunStatus, *, attempt: int = 1, completed: datetime | None = None,
          category: FailureCategory | None = None, updated: datetime = AT) -> RunLogEntry:
    return RunLogEntry(pipeline_id="p", date=DAY, status=status, attempt_number=attempt, started_at=updated,
                       updated_at=updated, completed_at=completed, failure_category=category)


def pipeline(**extra: Any) -> PipelineConfig:
    return PipelineConfig.model_validate({"name": "sales", "archetype": "gate", **extra})


def due(completion: datetime | None = None, evaluation: datetime | None = None) -> Deadlines:
    return Deadlines(evaluation, completion, None, "eval" if evaluation else None, "done" if completion else None,
                     None)


def never(_: Date) -> bool:
    return False


def cycle(p: PipelineConfig, log: RunLogEntry | None, now: datetime = AT) -> CycleState:
    """The cycle as core states it (readiness READY: it decides nothing here)."""
    facts = CycleFacts(schedule=p.resolved_schedules()[0], date=DAY, entry=log)
    return cycle_state(p, facts, now, PipelineState.READY, [])[0]


# ---------------------------------------------------------------------------------- SLA


def test_no_deadline_or_an_excluded_day_has_no_sla() -> None:
    assert sla_state(due(), None, AT, ready=False)[0] is SlaState.NONE
    assert sla_state(due(AT), None, AT, ready=False, excluded=True)[0] is SlaState.NONE


@pytest.mark.parametrize(("minutes_left", "state"), [(90, SlaState.ON_TIME), (30, SlaState.AT_RISK),
                                                     (1, SlaState.AT_RISK), (-1, SlaState.BREACHED)])
def test_an_unfinished_cycle_against_its_completion_deadline(minutes_left: int, state: SlaState) -> None:
    deadline = AT + timedelta(minutes=minutes_left)
    got, at, label = sla_state(due(deadline), entry(RunStatus.RUNNING), AT, ready=True)
    assert (got, at, label) == (state, deadline, "done")


def test_a_finished_cycle_is_on_time_or_late_for_good() -> None:
    deadline = AT + timedelta(hours=1)
    on_time = entry(RunStatus.COMPLETED, completed=AT)
    late = entry(RunStatus.COMPLETED, completed=deadline + timedelta(minutes=1))
    assert sla_state(due(deadline), on_time, AT + timedelta(hours=5), ready=True)[0] is SlaState.ON_TIME
    assert sla_state(due(deadline), late, AT + timedelta(hours=5), ready=True)[0] is SlaState.BREACHED


def test_the_evaluation_deadline_counts_only_while_nothing_started() -> None:
    passed = due(completion=AT + timedelta(hours=4), evaluation=AT - timedelta(minutes=1))
    assert sla_state(passed, None, AT, ready=False)[0] is SlaState.BREACHED
    assert sla_state(passed, entry(RunStatus.RUNNING), AT, ready=False)[0] is SlaState.ON_TIME
    assert sla_state(passed, None, AT, ready=True)[0] is SlaState.ON_TIME


def test_a_cycle_that_gave_up_before_its_deadline_is_at_risk() -> None:
    p = pipeline(schedules=[{"name": "daily", "deadline": "12:00"}], retry={"maxAttempts": 2})
    schedule = p.resolved_schedules()[0]
    failed = entry(RunStatus.FAILED, attempt=2, category=FailureCategory.TRANSIENT)
    today = schedule_today(p, schedule, cycle(p, failed), AT, deadlines(p, schedule, Date(2026, 3, 2)), ready=True,
                           is_excluded=never)
    assert (today.state, today.gave_up, today.retry_at, today.sla) == (PipelineState.FAILED, True, None,
                                                                       SlaState.AT_RISK)


def test_a_failed_cycle_with_attempts_left_says_when_it_retries() -> None:
    p = pipeline(retry={"maxAttempts": 3, "backoffSeconds": 600})
    schedule = p.resolved_schedules()[0]
    failed = entry(RunStatus.FAILED, attempt=1, category=FailureCategory.TRANSIENT)
    today = schedule_today(p, schedule, cycle(p, failed), AT, deadlines(p, schedule, Date(2026, 3, 2)), ready=True,
                           is_excluded=never)
    assert (today.gave_up, today.retry_at, today.next_window) == (False, AT + timedelta(minutes=10), None)


def test_a_permanent_failure_gives_up_at_once() -> None:
    p = pipeline()
    schedule = p.resolved_schedules()[0]
    failed = entry(RunStatus.FAILED, category=FailureCategory.PERMANENT)
    today = schedule_today(p, schedule, cycle(p, failed), AT, deadlines(p, schedule, Date(2026, 3, 2)), ready=True,
                           is_excluded=never)
    assert today.gave_up and today.next_window == datetime(2026, 3, 3, tzinfo=UTC)


# ---------------------------------------------------------------------------------- windows


def test_next_window() -> None:
    later = ScheduleConfig(name="late", after="10:00", timezone="Europe/Berlin")
    p = pipeline(schedules=[later.model_dump(by_alias=True)])
    assert next_window(p, later, AT, today_done=False, is_excluded=never) == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert next_window(p, later, AT + timedelta(hours=2), today_done=False, is_excluded=never) is None
    assert next_window(p, later, AT, today_done=True, is_excluded=never) == datetime(2026, 3, 3, 9, tzinfo=UTC)


def test_next_window_skips_excluded_days() -> None:
    p = pipeline()
    schedule = p.resolved_schedules()[0]

    def weekend(day: Date) -> bool:
        return day.weekday() >= 5

    friday = datetime(2026, 3, 6, 12, tzinfo=UTC)
    assert next_window(p, schedule, friday, today_done=True, is_excluded=weekend) == datetime(2026, 3, 9, tzinfo=UTC)
    saturday = friday + timedelta(days=1)
    assert next_window(p, schedule, saturday, today_done=False, is_excluded=weekend) == datetime(2026, 3, 9,
                                                                                                 tzinfo=UTC)


def test_an_excluded_day_says_so() -> None:
    p = pipeline(exclusions={"days": ["Monday"]})
    schedule = p.resolved_schedules()[0]
    excluded = CycleFacts(schedule=schedule, date=DAY, entry=None, excluded=True)
    today = schedule_today(p, schedule, cycle_state(p, excluded, AT, PipelineState.READY, [])[0], AT,
                           deadlines(p, schedule, Date(2026, 3, 2)), ready=True,
                           is_excluded=lambda day: day.weekday() == 0)
    assert (today.state, today.window_open, today.sla) == (PipelineState.EXCLUDED, False, SlaState.NONE)
    assert today.next_window == datetime(2026, 3, 3, tzinfo=UTC)


# ---------------------------------------------------------------------------------- lists


def today(sla: SlaState, window: datetime | None = None, state: PipelineState = PipelineState.READY) -> ScheduleToday:
    return ScheduleToday(cycle=CycleState(schedule_id="daily", date=DAY, state=state, message=state.value),
                         excluded=False, sla=sla, deadline=None, deadline_label=None, window_open=window is None,
                         next_window=window)


def row(name: str, state: PipelineState, sla: SlaState = SlaState.ON_TIME, *, last: datetime | None = None,
        running: bool = False, window: datetime | None = None, blockers: tuple[str, ...] = ()) -> OverviewRow:
    run = RunState(run_id=f"{name}-1", pipeline_id=name, status=RunStatus.RUNNING if running else RunStatus.COMPLETED,
                   created_at=last, updated_at=last) if last else None
    return OverviewRow(name=name, archetype="gate", state=state,
                       blockers=[Blocker(trait=b, status="FAIL") for b in blockers], last_run=run,
                       schedules=[today(sla, window, state)], description=f"the {name} job")


ROWS = [
    row("alpha", PipelineState.COMPLETED, last=AT, window=AT + timedelta(hours=3)),
    row("bravo", PipelineState.NOT_READY, SlaState.BREACHED, blockers=("source-freshness",)),
    row("charlie", PipelineState.RUNNING, SlaState.AT_RISK, last=AT - timedelta(hours=1), running=True),
    row("delta", PipelineState.NOT_READY, SlaState.NONE, blockers=("row-count",), window=AT + timedelta(hours=1)),
]


def test_counts_are_by_state() -> None:
    S = PipelineState
    counts = Counts.of([*ROWS, row("echo", S.RETRYING)])
    assert (counts.total, counts.at_risk, counts.breached) == (5, 1, 1)
    assert counts.states == {S.COMPLETED: 1, S.RUNNING: 1, S.READY: 0, S.NOT_READY: 2, S.STALE: 0, S.FAILED: 0,
                             S.RETRYING: 1}  # the usual states always, others when they occur
    assert counts.running == 1 and counts[S.WAITING] == 0


def test_settled_pipelines_count_as_done_not_stale() -> None:
    """Once today's runs completed and their trait results expired, the summary says done."""
    done = [row(f"p{i}", PipelineState.COMPLETED, last=AT) for i in range(9)]
    counts = Counts.of(done)
    assert counts[PipelineState.COMPLETED] == 9
    assert counts[PipelineState.STALE] == 0 and counts[PipelineState.READY] == 0


def names(selection: Selection) -> list[str]:
    return [r.name for r in selection.apply(ROWS)]


def test_default_sort_puts_what_needs_attention_first() -> None:
    assert names(Selection()) == ["bravo", "delta", "charlie", "alpha"]
    assert names(Selection(sort="sla")) == ["bravo", "charlie", "alpha", "delta"]
    assert names(Selection(sort="last-run")) == ["alpha", "charlie", "bravo", "delta"]
    assert names(Selection(sort="next-window")) == ["bravo", "charlie", "delta", "alpha"]  # open now first
    assert names(Selection(sort="name", descending=True)) == ["delta", "charlie", "bravo", "alpha"]


def test_filters() -> None:
    assert names(Selection(text="ROW-count")) == ["delta"]  # a blocking trait
    assert names(Selection(text="the alpha")) == ["alpha"]  # the description
    assert names(Selection(state=PipelineState.NOT_READY, sort="name")) == ["bravo", "delta"]
    assert names(Selection(state=PipelineState.COMPLETED)) == ["alpha"]
    assert names(Selection(sla=SlaState.AT_RISK)) == ["charlie"]


def test_selection_from_a_query_string_ignores_nonsense() -> None:
    parsed = Selection.parse({"q": "  sales ", "state": "stale", "sla": "at risk", "sort": "name", "order": "desc"})
    assert parsed == Selection("sales", PipelineState.STALE, SlaState.AT_RISK, "name", True)
    assert Selection.parse({"state": "<script>", "sla": "soon", "sort": "__class__"}) == Selection()
    assert parsed.query(sort="sla") == "q=sales&state=STALE&sla=at+risk&sort=sla&order=desc"
    assert Selection().query(state="COMPLETED") == "state=COMPLETED&sort=state&order=asc"
    # links of old (readiness=, sort=readiness) still work
    assert Selection.parse({"readiness": "NOT_READY", "sort": "readiness"}) == Selection(state=PipelineState.NOT_READY)
