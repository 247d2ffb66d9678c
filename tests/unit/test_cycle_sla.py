"""A cycle's SLA state is worked out once, in core (interlock_core.sla_state.cycle_sla): pipeline
state carries it (the API's /state and `interlock status`), and the dashboard shows the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from interlock_core.model import FailureCategory, PipelineConfig, RunLogEntry, RunStatus
from interlock_core.pipeline_state import CycleFacts, PipelineState, cycle_state
from interlock_core.schedule import deadlines
from interlock_core.sla_state import CycleSla, SlaState, cycle_sla, worst
from interlock_server.dashboard.overview import schedule_today

DAY = "2026-03-02"
AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def pipeline(**extra: Any) -> PipelineConfig:
    return PipelineConfig.model_validate({"name": "sales", "archetype": "gate", **extra})


def entry(status: RunStatus, *, attempt: int = 1, category: FailureCategory | None = None,
          completed: datetime | None = None) -> RunLogEntry:
    return RunLogEntry(pipeline_id="sales", date=DAY, status=status, attempt_number=attempt, started_at=AT,
                       updated_at=AT, completed_at=completed, failure_category=category)


def sla_of(p: PipelineConfig, log: RunLogEntry | None, now: datetime = AT, *,
           readiness: PipelineState = PipelineState.NOT_READY, excluded: bool = False) -> CycleSla | None:
    facts = CycleFacts(schedule=p.resolved_schedules()[0], date=DAY, entry=log, excluded=excluded)
    return cycle_state(p, facts, now, readiness, [])[0].sla


DEADLINED = {"schedules": [{"name": "daily", "deadline": "09:00"}]}


def test_a_cycle_without_an_sla_deadline_carries_none() -> None:
    assert sla_of(pipeline(), None) is None
    assert sla_of(pipeline(**DEADLINED), None, excluded=True) is None


def test_pipeline_state_carries_the_cycles_sla_and_its_deadline() -> None:
    p = pipeline(**DEADLINED)
    on_time = sla_of(p, None, AT - timedelta(hours=2))
    assert on_time is not None and on_time.state is SlaState.ON_TIME
    assert (on_time.deadline, on_time.deadline_label) == (datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "09:00")
    at_risk = sla_of(p, entry(RunStatus.RUNNING), AT + timedelta(minutes=45))
    assert at_risk is not None and at_risk.state is SlaState.AT_RISK
    breached = sla_of(p, None, AT + timedelta(hours=2))
    assert breached is not None and breached.state is SlaState.BREACHED
    late = entry(RunStatus.COMPLETED, completed=AT + timedelta(hours=2))
    assert (sla_of(p, late, AT + timedelta(hours=3)) or on_time).state is SlaState.BREACHED


def test_a_cycle_that_gave_up_is_at_risk_before_its_deadline() -> None:
    p = pipeline(**DEADLINED, retry={"maxAttempts": 1})
    failed = sla_of(p, entry(RunStatus.FAILED, category=FailureCategory.TRANSIENT), readiness=PipelineState.READY)
    assert failed is not None and failed.state is SlaState.AT_RISK


def test_the_api_shape_of_a_cycles_sla() -> None:
    p = pipeline(**DEADLINED)
    facts = CycleFacts(schedule=p.resolved_schedules()[0], date=DAY, entry=None)
    body = cycle_state(p, facts, AT, PipelineState.NOT_READY, [])[0].to_json_dict()
    assert body["sla"] == {"state": "on time", "deadline": "2026-03-02T09:00:00Z", "deadlineLabel": "09:00"}


def test_the_dashboard_shows_what_core_says() -> None:
    p = pipeline(**DEADLINED, retry={"maxAttempts": 1})
    schedule = p.resolved_schedules()[0]
    for log, now in [(None, AT - timedelta(hours=1)), (entry(RunStatus.RUNNING), AT + timedelta(minutes=40)),
                     (entry(RunStatus.FAILED, category=FailureCategory.TRANSIENT), AT),
                     (None, AT + timedelta(hours=3))]:
        facts = CycleFacts(schedule=schedule, date=DAY, entry=log)
        cycle = cycle_state(p, facts, now, PipelineState.READY, [])[0]
        today = schedule_today(p, schedule, cycle, now, deadlines(p, schedule, DAY), ready=True,
                               is_excluded=lambda _: False)
        assert cycle.sla is not None
        assert (today.sla, today.deadline, today.deadline_label) == (
            cycle.sla.state, cycle.sla.deadline, cycle.sla.deadline_label)


def test_the_worst_cycle_decides_a_pipelines_sla() -> None:
    assert worst([SlaState.ON_TIME, SlaState.BREACHED, SlaState.AT_RISK]) is SlaState.BREACHED
    assert worst([]) is SlaState.NONE
    got = cycle_sla(deadlines(pipeline(), pipeline().resolved_schedules()[0], DAY), None, AT, ready=True,
                    excluded=False, gave_up=True)
    assert got.state is SlaState.NONE  # no deadline: nothing to be at risk of
