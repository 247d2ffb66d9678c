"""Which run statuses are active, done, terminal and settled: said once, on RunStatus."""

from __future__ import annotations

from interlock_core.fsm import TRANSITIONS
from interlock_core.model import RunStatus

S = RunStatus


def test_each_status_is_in_the_sets_its_meaning_puts_it_in() -> None:
    assert {s for s in S if s.is_active} == {S.PENDING, S.TRIGGERING, S.RUNNING}
    assert {s for s in S if s.is_done} == {S.COMPLETED, S.COMPLETED_MONITORING}
    assert {s for s in S if s.is_terminal} == {S.COMPLETED, S.FAILED, S.CANCELLED, S.SKIPPED}
    assert {s for s in S if s.is_settled} == {S.COMPLETED, S.CANCELLED}


def test_failed_is_terminal_but_not_settled_because_it_may_be_retried() -> None:
    assert S.FAILED.is_terminal and not S.FAILED.is_settled
    assert S.SKIPPED.is_terminal and not S.SKIPPED.is_settled


def test_every_settled_status_is_terminal_and_no_active_one_is() -> None:
    assert all(s.is_terminal for s in S if s.is_settled)
    assert not any(s.is_terminal or s.is_done for s in S if s.is_active)


def test_terminal_statuses_are_exactly_those_no_transition_leaves() -> None:
    assert {s for s, targets in TRANSITIONS.items() if not targets} == {s for s in S if s.is_terminal}
