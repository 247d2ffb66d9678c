"""The overview's view model: readiness words, SLA states, next windows, counts, filter and sort."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import date as Date
from typing import Any

import pytest

from interlock_core.model import (
    FailureCategory,
    PipelineConfig,
    ReadinessResult,
    ReadinessStatus,
    RunLogEntry,
    RunState,
    RunStatus,
    ScheduleConfig,
    TraitEvaluation,
)
from interlock_core.schedule import Deadlines, deadlines
from interlock_server.dashboard.overview import (
    Blocker,
    Counts,
    OverviewRow,
    Readiness,
    ScheduleToday,
    Selection,
    SlaState,
    next_window,
    readiness_of,
    schedule_today,
    sla_state,
)

DAY = "2026-03-02"  # a Monday
AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def trait(kind: str, status: str, reason: str | None = None,
          category: FailureCategory | None = None) -> TraitEvaluation:
    return TraitEvaluation(pipeline_id="p", trait_type=kind, status=status, reason=reason, failure_category=category,
                           evaluated_at=AT)


def result(blocking: list[str], *traits: TraitEvaluation) -> ReadinessResult:
    status = ReadinessStatus.NOT_READY if blocking else ReadinessStatus.READY
    return ReadinessResult(pipeline_id="p", status=status, traits=list(traits), blocking=blocking, evaluated_at=AT)


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


# ---------------------------------------------------------------------------------- readiness


def test_ready_has_no_blockers() -> None:
    assert readiness_of(result([], trait("a", "PASS"))) == (Readiness.READY, [])


def test_a_failing_trait_is_not_ready_with_its_reason_and_category() -> None:
    state, blockers = readiness_of(result(["a", "b (STALE)"], trait("a", "FAIL", "too old", FailureCategory.TRANSIENT),
                                          trait("b", "STALE", "no evaluation found or expired")))
    assert state is Readiness.NOT_READY
    assert [(b.trait, b.status, b.reason, b.failure_category) for b in blockers] == [
        ("a", "FAIL", "too old", "TRANSIENT"), ("b", "STALE", "no evaluation found or expired", None)]


def test_only_missing_results_is_stale() -> None:
    state, blockers = readiness_of(result(["a (STALE)"], trait("a", "STALE", "no evaluation found or expired")))
    assert state is Readiness.STALE
    assert blockers[0].trait == "a"


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
    today = schedule_today(p, schedule, DAY, failed, AT, deadlines(p, schedule, Date(2026, 3, 2)), ready=True,
                           is_excluded=never)
    assert (today.state, today.gave_up, today.retry_at, today.sla) == ("FAILED", True, None, SlaState.AT_RISK)


def test_a_failed_cycle_with_attempts_left_says_when_it_retries() -> None:
    p = pipeline(retry={"maxAttempts": 3, "backoffSeconds": 600})
    schedule = p.resolved_schedules()[0]
    failed = entry(RunStatus.FAILED, attempt=1, category=FailureCategory.TRANSIENT)
    today = schedule_today(p, schedule, DAY, failed, AT, deadlines(p, schedule, Date(2026, 3, 2)), ready=True,
                           is_excluded=never)
    assert (today.gave_up, today.retry_at, today.next_window) == (False, AT + timedelta(minutes=10), None)


def test_a_permanent_failure_gives_up_at_once() -> None:
    p = pipeline()
    schedule = p.resolved_schedules()[0]
    failed = entry(RunStatus.FAILED, category=FailureCategory.PERMANENT)
    today = schedule_today(p, schedule, DAY, failed, AT, deadlines(p, schedule, Date(2026, 3, 2)), ready=True,
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
    today = schedule_today(p, schedule, DAY, None, AT, deadlines(p, schedule, Date(2026, 3, 2)), ready=True,
                           is_excluded=lambda day: day.weekday() == 0)
    assert (today.state, today.window_open, today.sla) == ("EXCLUDED", False, SlaState.NONE)
    assert today.next_window == datetime(2026, 3, 3, tzinfo=UTC)


# ---------------------------------------------------------------------------------- lists


def today(sla: SlaState, window: datetime | None = None, state: RunStatus | None = None) -> ScheduleToday:
    return ScheduleToday(schedule="daily", date=DAY, run_log=entry(state) if state else None, excluded=False,
                         sla=sla, deadline=None, deadline_label=None, window_open=window is None,
                         next_window=window)


def row(name: str, readiness: Readiness, sla: SlaState = SlaState.ON_TIME, *, last: datetime | None = None,
        running: bool = False, window: datetime | None = None, blockers: tuple[str, ...] = ()) -> OverviewRow:
    run = RunState(run_id=f"{name}-1", pipeline_id=name, status=RunStatus.RUNNING if running else RunStatus.COMPLETED,
                   created_at=last, updated_at=last) if last else None
    return OverviewRow(name=name, archetype="gate", readiness=readiness,
                       blockers=[Blocker(b, "FAIL") for b in blockers], last_run=run,
                       schedules=[today(sla, window)], description=f"the {name} job")


ROWS = [
    row("alpha", Readiness.READY, last=AT, window=AT + timedelta(hours=3)),
    row("bravo", Readiness.NOT_READY, SlaState.BREACHED, blockers=("source-freshness",)),
    row("charlie", Readiness.STALE, SlaState.AT_RISK, last=AT - timedelta(hours=1), running=True),
    row("delta", Readiness.NOT_READY, SlaState.NONE, blockers=("row-count",), window=AT + timedelta(hours=1)),
]


def test_counts() -> None:
    assert Counts.of(ROWS) == Counts(total=4, ready=1, not_ready=2, stale=1, running=1, at_risk=1, breached=1)


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
    assert names(Selection(readiness=Readiness.NOT_READY, sort="name")) == ["bravo", "delta"]
    assert names(Selection(sla=SlaState.AT_RISK)) == ["charlie"]


def test_selection_from_a_query_string_ignores_nonsense() -> None:
    parsed = Selection.parse({"q": "  sales ", "readiness": "stale", "sla": "at risk", "sort": "name", "order": "desc"})
    assert parsed == Selection("sales", Readiness.STALE, SlaState.AT_RISK, "name", True)
    assert Selection.parse({"readiness": "<script>", "sla": "soon", "sort": "__class__"}) == Selection()
    assert parsed.query(sort="sla") == "q=sales&readiness=STALE&sla=at+risk&sort=sla&order=desc"
    assert Selection().query(readiness="READY") == "readiness=READY&sort=readiness&order=asc"
