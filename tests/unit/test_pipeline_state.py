"""A pipeline's state for its current cycle: one vocabulary, computed from run logs and readiness."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from interlock_core.model import (
    FailureCategory,
    PipelineConfig,
    ReadinessResult,
    ReadinessStatus,
    RerunRecord,
    RunLogEntry,
    RunState,
    RunStatus,
    TraitEvaluation,
)
from interlock_core.pipeline_state import (
    CycleFacts,
    PipelineState,
    pipeline_state,
    pipeline_state_word,
    readiness_state,
)

DAY = "2026-03-02"
AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
S = PipelineState


def pipeline(**extra: Any) -> PipelineConfig:
    data: dict[str, Any] = {"name": "sales", "archetype": "gate", "trigger": {"type": "command", "argv": ["true"]}}
    return PipelineConfig.model_validate({**data, **extra})


def trait(kind: str, status: str, reason: str | None = None) -> TraitEvaluation:
    return TraitEvaluation(pipeline_id="sales", trait_type=kind, status=status, reason=reason, evaluated_at=AT)


def readiness(*traits: TraitEvaluation) -> ReadinessResult:
    blocking = [t.trait_type + (" (STALE)" if t.status == "STALE" else "") for t in traits if t.status != "PASS"]
    return ReadinessResult(pipeline_id="sales", traits=list(traits), blocking=blocking, evaluated_at=AT,
                           status=ReadinessStatus.NOT_READY if blocking else ReadinessStatus.READY)


EXPIRED = readiness(trait("freshness", "STALE", "no evaluation found or expired"),
                    trait("volume", "STALE", "no evaluation found or expired"))
FAILING = readiness(trait("freshness", "FAIL", "7 h old"), trait("volume", "PASS"))
READY = readiness(trait("freshness", "PASS"), trait("volume", "PASS"))


def entry(status: RunStatus, *, attempt: int = 1, day: str = DAY, schedule: str = "daily",
          category: FailureCategory | None = None, updated: datetime = AT) -> RunLogEntry:
    return RunLogEntry(pipeline_id="sales", date=day, schedule_id=schedule, status=status, attempt_number=attempt,
                       run_id=f"sales-{day}-{attempt}", started_at=updated - timedelta(minutes=10),
                       updated_at=updated, completed_at=updated if status is RunStatus.COMPLETED else None,
                       failure_category=category)


def run(status: RunStatus, *, day: str = DAY, updated: datetime = AT, rerun: str | None = None,
        run_id: str | None = None) -> RunState:
    return RunState(run_id=run_id or f"sales-{day}-1", pipeline_id="sales", status=status, date=day,
                    created_at=updated, updated_at=updated, rerun_id=rerun)


def facts(p: PipelineConfig, log: RunLogEntry | None = None, *, schedule: int = 0, **extra: Any) -> CycleFacts:
    return CycleFacts(schedule=p.resolved_schedules()[schedule], date=DAY, entry=log, **extra)


# ---------------------------------------------------------------------------------- settled cycles


@pytest.mark.parametrize("traits", [EXPIRED, FAILING, READY], ids=["expired", "failing", "ready"])
def test_a_completed_cycle_reads_as_completed_whatever_its_traits_say_now(traits: ReadinessResult) -> None:
    p = pipeline()
    done = entry(RunStatus.COMPLETED)
    state = pipeline_state(p, [facts(p, done, run=run(RunStatus.COMPLETED))], traits, AT + timedelta(hours=6))
    assert state.state is S.COMPLETED
    assert state.blockers == []  # expired results block nothing until the next cycle
    assert state.settled
    assert "2026-03-02 completed at 2026-03-02 08:00 UTC" in state.message
    assert state.readiness is readiness_state(traits)[0]  # what the traits say is still told, apart


def test_monitoring_is_completed_too() -> None:
    p = pipeline()
    state = pipeline_state(p, [facts(p, entry(RunStatus.COMPLETED_MONITORING))], EXPIRED, AT)
    assert state.state is S.COMPLETED and "monitoring continues" in state.message
    assert state.cycles[0].run_status is RunStatus.COMPLETED_MONITORING


def test_a_dry_run_cycle_that_would_have_triggered_is_done() -> None:
    p = pipeline(dryRun=True)
    state = pipeline_state(p, [facts(p, would_trigger_at=AT)], EXPIRED, AT + timedelta(hours=4))
    assert (state.state, state.blockers) == (S.COMPLETED, [])
    assert state.message == "dry run: 2026-03-02 would have triggered at 2026-03-02 08:00 UTC; nothing was launched"
    assert pipeline_state(p, [facts(p)], READY, AT).message == "2026-03-02: ready (dry run: evaluated, never triggered)"


def test_failed_for_good_cancelled_and_retrying() -> None:
    p = pipeline(retry={"maxAttempts": 3, "backoffSeconds": 600})
    exhausted = entry(RunStatus.FAILED, attempt=3, category=FailureCategory.TRANSIENT)
    permanent = entry(RunStatus.FAILED, category=FailureCategory.PERMANENT)
    retrying = entry(RunStatus.FAILED, attempt=1, category=FailureCategory.TRANSIENT)
    assert pipeline_state(p, [facts(p, exhausted)], EXPIRED, AT).state is S.FAILED
    assert pipeline_state(p, [facts(p, permanent)], EXPIRED, AT).state is S.FAILED
    assert pipeline_state(p, [facts(p, entry(RunStatus.CANCELLED))], EXPIRED, AT).state is S.CANCELLED
    waiting = pipeline_state(p, [facts(p, retrying)], READY, AT + timedelta(minutes=5))
    assert (waiting.state, waiting.cycles[0].retry_at) == (S.RETRYING, AT + timedelta(minutes=10))
    assert "may start after 2026-03-02 08:10 UTC" in waiting.message
    due = pipeline_state(p, [facts(p, retrying)], FAILING, AT + timedelta(minutes=15))
    assert due.state is S.RETRYING and [b.trait for b in due.blockers] == ["freshness"]
    assert "the next is due: blocked by freshness" in due.message


def test_an_excluded_day_is_excluded_and_a_closed_window_is_waiting() -> None:
    p = pipeline(schedules=[{"name": "late", "after": "10:00", "timezone": "Europe/Berlin"}])
    assert pipeline_state(p, [facts(p, excluded=True)], EXPIRED, AT).state is S.EXCLUDED
    waiting = pipeline_state(p, [facts(p)], EXPIRED, AT)
    assert waiting.state is S.WAITING and waiting.blockers == []
    assert waiting.cycles[0].window_opens_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_retired() -> None:
    p = pipeline()
    state = pipeline_state(p, [facts(p, entry(RunStatus.COMPLETED))], EXPIRED, AT, retired=True)
    assert state.state is S.RETIRED and state.blockers == []


# ---------------------------------------------------------------------------------- cycles still to run


def test_a_cycle_not_run_yet_follows_readiness() -> None:
    p = pipeline()
    stale = pipeline_state(p, [facts(p)], EXPIRED, AT)
    assert stale.state is S.STALE and [b.trait for b in stale.blockers] == ["freshness", "volume"]
    assert "waiting for fresh results of freshness, volume" in stale.message
    blocked = pipeline_state(p, [facts(p)], FAILING, AT)
    assert blocked.state is S.NOT_READY
    assert [(b.trait, b.status, b.reason) for b in blocked.blockers] == [("freshness", "FAIL", "7 h old")]
    ready = pipeline_state(p, [facts(p)], READY, AT)
    assert (ready.state, ready.blockers) == (S.READY, [])


def test_a_running_cycle_or_a_rerun_of_a_completed_one_is_running() -> None:
    p = pipeline()
    running = pipeline_state(p, [facts(p, entry(RunStatus.RUNNING), active_run=run(RunStatus.RUNNING))],
                             EXPIRED, AT)
    assert running.state is S.RUNNING and running.blockers == []
    rerun = run(RunStatus.TRIGGERING, rerun="rerun-1", run_id="sales-rerun")
    again = pipeline_state(p, [facts(p, entry(RunStatus.COMPLETED), active_run=rerun)], EXPIRED, AT)
    assert (again.state, again.cycles[0].rerun_id, again.last_run) == (S.RUNNING, "rerun-1", rerun)


def test_a_pending_rerun_of_a_completed_cycle_waits_for_readiness() -> None:
    p = pipeline()
    record = RerunRecord(rerun_id="rerun-7", pipeline_id="sales", original_date=DAY, reason="fix",
                         status=RunStatus.PENDING, requested_at=AT)
    state = pipeline_state(p, [facts(p, entry(RunStatus.COMPLETED), pending_rerun=record)], FAILING, AT)
    assert state.state is S.NOT_READY and "rerun rerun-7 of 2026-03-02 waits to start" in state.message


def test_unknown_readiness_is_an_error_only_while_it_matters() -> None:
    p = pipeline()
    broken = pipeline_state(p, [facts(p)], None, AT, problem="archetype 'gate' not found")
    assert broken.state is S.ERROR and "archetype 'gate' not found" in broken.message
    done = pipeline_state(p, [facts(p, entry(RunStatus.COMPLETED))], None, AT, problem="archetype gone")
    assert done.state is S.COMPLETED and done.readiness is None


# ---------------------------------------------------------------------------------- several schedules, last run


def test_several_schedules_show_the_most_urgent_cycle() -> None:
    p = pipeline(schedules=[{"name": "morning"}, {"name": "evening", "after": "18:00"}])
    done = facts(p, entry(RunStatus.COMPLETED, schedule="morning"))
    later = facts(p, schedule=1)
    state = pipeline_state(p, [done, later], EXPIRED, AT)
    assert (state.state, state.schedule_id) == (S.WAITING, "evening")
    assert state.message.startswith("evening: the window of 2026-03-02 opens at")
    assert [c.state for c in state.cycles] == [S.COMPLETED, S.WAITING]
    failed = facts(p, entry(RunStatus.FAILED, schedule="evening", category=FailureCategory.PERMANENT), schedule=1)
    assert pipeline_state(p, [done, failed], EXPIRED, AT).state is S.FAILED


def test_the_last_run_is_the_current_cycles_not_a_backfill_of_another_date() -> None:
    p = pipeline()
    today = run(RunStatus.COMPLETED, updated=AT)
    backfill = run(RunStatus.COMPLETED, day="2026-01-15", updated=AT + timedelta(hours=1))
    state = pipeline_state(p, [facts(p, entry(RunStatus.COMPLETED), run=today)], EXPIRED, AT, latest_run=backfill)
    assert (state.last_run, state.last_run_current) == (today, True)
    nothing_today = pipeline_state(p, [facts(p)], EXPIRED, AT, latest_run=backfill)
    assert (nothing_today.last_run, nothing_today.last_run_current) == (backfill, False)


def test_the_json_speaks_the_api_words_and_keeps_records_out() -> None:
    p = pipeline()
    body = pipeline_state(p, [facts(p, entry(RunStatus.COMPLETED), run=run(RunStatus.COMPLETED))], EXPIRED,
                          AT).to_json_dict()
    assert body["state"] == "COMPLETED" and body["readiness"] == "STALE" and body["blockers"] == []
    assert body["pipelineId"] == "sales" and body["lastRunCurrent"] is True and body["date"] == DAY
    assert body["cycles"][0]["runStatus"] == "COMPLETED" and "runLog" not in body["cycles"][0]
    assert "readinessResult" not in body


# ---------------------------------------------------------------------------------- the state word alone


def _cycle_variants(p: PipelineConfig, schedule: int) -> list[CycleFacts]:
    """One schedule's current cycle in every shape the state is decided on."""
    name = p.resolved_schedules()[schedule].name
    logs: list[RunLogEntry | None] = [None]
    logs += [entry(status, schedule=name, category=FailureCategory.TRANSIENT) for status in RunStatus]
    logs += [entry(RunStatus.FAILED, attempt=3, schedule=name, category=FailureCategory.TRANSIENT),
             entry(RunStatus.FAILED, schedule=name, category=FailureCategory.PERMANENT)]
    pending = RerunRecord(rerun_id="rerun-7", pipeline_id="sales", original_date=DAY, schedule_id=name, reason="fix",
                          status=RunStatus.PENDING, requested_at=AT)
    extras: list[dict[str, Any]] = [{}, {"active_run": run(RunStatus.RUNNING, rerun="rerun-1")},
                                    {"pending_rerun": pending}, {"excluded": True}, {"would_trigger_at": AT}]
    return [facts(p, log, schedule=schedule, **extra) for log in logs for extra in extras]


@pytest.mark.parametrize("dry_run", [False, True], ids=["triggered", "dry-run"])
def test_the_state_word_alone_is_the_views_state(dry_run: bool) -> None:
    """``GET .../readiness`` answers the state word without the view: decided by the same steps, so
    every shape of cycle, readiness, instant and schedule set gives the view's word."""
    p = pipeline(dryRun=dry_run, retry={"maxAttempts": 3, "backoffSeconds": 600},
                 schedules=[{"name": "morning", "deadline": "09:00"},
                            {"name": "late", "after": "10:00", "timezone": "Europe/Berlin"}])
    answers: list[tuple[ReadinessResult | None, str | None]] = [
        (EXPIRED, None), (FAILING, None), (READY, None), (None, "archetype 'gate' not found")]
    instants = [AT, AT + timedelta(minutes=5), AT + timedelta(hours=6)]
    alone = _cycle_variants(p, 0)
    shapes = [[c] for c in alone] + [[c, d] for c, d in itertools.product(alone[::3], _cycle_variants(p, 1)[::4])]
    shapes.append([])
    checked = set()
    for cycles, (result, problem), now, retired in itertools.product(shapes, answers, instants, [False, True]):
        view = pipeline_state(p, cycles, result, now, retired=retired, problem=problem)
        assert pipeline_state_word(p, cycles, result, now, retired=retired, problem=problem) is view.state, \
            (cycles, result, now, retired)
        checked.add(view.state)
    assert checked == set(PipelineState)  # every word is reached
