"""The one retry rule (interlock_core.retry.decide_retry): each failure class, the attempts budget,
the code-retries budget, backoff growth and its cap, judged against a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from interlock_core.clock import FakeClock
from interlock_core.model import FailureCategory, PipelineConfig, RetryAttempt, RetryPolicy, RunLogEntry, RunStatus
from interlock_core.pipeline_state import CycleFacts, PipelineState, cycle_state
from interlock_core.retry import RetryReason, decide_retry, decide_run_log

F = FailureCategory
POLICY = RetryPolicy(max_attempts=4, backoff_seconds=10, backoff_multiplier=3, max_backoff_seconds=60)


@pytest.mark.parametrize(("category", "retried"), [
    (F.TRANSIENT, True), (F.TIMEOUT, True), (None, True),  # uncategorised counts as TRANSIENT
    (F.PERMANENT, False), (F.EVALUATOR_CRASH, False),
])
def test_each_failure_class_under_the_default_retryable_failures(category: F | None, retried: bool) -> None:
    clock = FakeClock()
    decision = decide_retry(POLICY, 1, category, clock.now())
    assert decision.retry is retried
    assert decision.reason is (RetryReason.RETRY if retried else RetryReason.NON_RETRYABLE)
    assert decision.category is category
    assert (decision.at is not None) is retried


def test_permanent_is_never_retried_even_when_listed() -> None:
    policy = RetryPolicy(retryable_failures=[F.PERMANENT, F.TRANSIENT])
    assert decide_retry(policy, 1, F.PERMANENT, FakeClock().now()).reason is RetryReason.NON_RETRYABLE


def test_an_uncategorised_failure_follows_transient() -> None:
    policy = RetryPolicy(retryable_failures=[F.TIMEOUT])
    assert decide_retry(policy, 1, None, FakeClock().now()).reason is RetryReason.NON_RETRYABLE


def test_a_reruns_run_is_not_retried_by_the_cycles_policy() -> None:
    decision = decide_retry(POLICY, 1, F.TRANSIENT, FakeClock().now(), rerun=True)
    assert (decision.retry, decision.reason, decision.at, decision.attempts_left) == (
        False, RetryReason.RERUN, None, 0)


def test_attempts_left_count_down_until_the_budget_is_spent() -> None:
    now = FakeClock().now()
    left = [decide_retry(POLICY, attempt, F.TRANSIENT, now).attempts_left for attempt in (1, 2, 3, 4)]
    assert left == [3, 2, 1, 0]
    spent = decide_retry(POLICY, 4, F.TRANSIENT, now)
    assert (spent.retry, spent.reason, spent.at) == (False, RetryReason.EXHAUSTED, None)
    assert decide_retry(POLICY, 9, F.TRANSIENT, now).reason is RetryReason.EXHAUSTED


def test_a_non_retryable_failure_is_named_before_a_spent_budget() -> None:
    assert decide_retry(POLICY, 4, F.PERMANENT, FakeClock().now()).reason is RetryReason.NON_RETRYABLE


def test_backoff_grows_by_the_multiplier_and_stops_at_its_cap() -> None:
    clock = FakeClock()
    failed_at = clock.now()
    policy = POLICY.model_copy(update={"max_attempts": 10})
    waits = [decide_retry(policy, attempt, F.TRANSIENT, failed_at).backoff for attempt in (1, 2, 3, 4, 5)]
    assert waits == [timedelta(seconds=s) for s in (10, 30, 60, 60, 60)]
    assert decide_retry(policy, 2, F.TRANSIENT, failed_at).at == failed_at + timedelta(seconds=30)


def test_the_next_attempt_waits_for_its_backoff_on_the_clock() -> None:
    clock = FakeClock()
    decision = decide_retry(POLICY, 1, F.TIMEOUT, clock.now())
    assert decision.retry and decision.next_attempt == 2
    assert decision.waiting(clock.now())
    clock.advance(timedelta(seconds=9))
    assert decision.waiting(clock.now())
    clock.advance(timedelta(seconds=1))
    assert not decision.waiting(clock.now())


def test_a_decision_that_is_not_a_retry_never_waits() -> None:
    clock = FakeClock()
    assert not decide_retry(POLICY, 1, F.PERMANENT, clock.now()).waiting(clock.now())


def _run_log(clock: FakeClock, *job_failures: bool | None) -> RunLogEntry:
    now = clock.now()
    history = [RetryAttempt(attempt=n, status=RunStatus.FAILED, run_id=f"r{n}", failure_category=F.TRANSIENT,
                            started_at=now, completed_at=now, job_failure=job)
               for n, job in enumerate(job_failures, start=1)]
    return RunLogEntry(pipeline_id="p", date="2026-03-02", status=RunStatus.FAILED, attempt_number=len(history),
                       run_id=f"r{len(history)}", failure_category=F.TRANSIENT, retry_history=history,
                       started_at=now, updated_at=now)


def test_the_code_budget_bounds_retries_after_the_jobs_own_failures() -> None:
    clock = FakeClock()
    policy = POLICY.model_copy(update={"max_code_retries": 1})
    within = decide_run_log(policy, _run_log(clock, True))
    assert (within.retry, within.code_budget) == (True, (1, 1))
    spent = decide_run_log(policy, _run_log(clock, True, True))
    assert (spent.retry, spent.reason, spent.code_budget, spent.attempts_left) == (
        False, RetryReason.CODE_BUDGET, (2, 1), 0)


def test_launch_failures_are_not_counted_by_the_code_budget() -> None:
    clock = FakeClock()
    policy = POLICY.model_copy(update={"max_code_retries": 0})
    decision = decide_run_log(policy, _run_log(clock, True, False))
    assert (decision.retry, decision.code_budget) == (True, None)
    assert decide_run_log(POLICY, _run_log(clock, True, True, True)).code_budget is None  # no cap set


def test_a_spent_attempts_budget_is_named_before_the_code_budget() -> None:
    clock = FakeClock()
    policy = POLICY.model_copy(update={"max_attempts": 2, "max_code_retries": 0})
    assert decide_run_log(policy, _run_log(clock, True, True)).reason is RetryReason.EXHAUSTED


def test_a_run_log_is_judged_from_when_its_failure_was_recorded() -> None:
    clock = FakeClock()
    entry = _run_log(clock, False)
    clock.advance(timedelta(hours=1))
    decision = decide_run_log(POLICY, entry)
    assert decision.at == entry.updated_at + timedelta(seconds=10)
    assert decision.retry and not decision.waiting(clock.now())


def test_pipeline_state_and_the_gate_agree_a_spent_code_budget_gives_up() -> None:
    clock = FakeClock()
    p = PipelineConfig.model_validate({"name": "sales", "archetype": "gate",
                                       "retry": {"maxAttempts": 5, "maxCodeRetries": 1, "backoffSeconds": 0}})
    facts = CycleFacts(schedule=p.resolved_schedules()[0], date="2026-03-02", entry=_run_log(clock, True, True))
    state, _ = cycle_state(p, facts, clock.now(), PipelineState.READY, [])
    assert (state.state, state.retry_at) == (PipelineState.FAILED, None)
    retrying = CycleFacts(schedule=p.resolved_schedules()[0], date="2026-03-02", entry=_run_log(clock, True))
    assert cycle_state(p, retrying, clock.now(), PipelineState.READY, [])[0].state is PipelineState.RETRYING
