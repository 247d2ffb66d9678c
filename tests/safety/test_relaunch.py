"""The campaign's exactly-once invariants on one scripted crash: a launch cancelled mid-flight is
relaunched under its run key (one orchestrator job), and the old behaviour — failing the orphan
and retrying it under the next key — is caught by the oracle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from interlock_core.engine.runs import Runs
from interlock_core.engine.transitions import Change
from interlock_core.model import FailureCategory, RunState, RunStatus

from .machine import SafetyMachine

S = RunStatus


class Scripted(SafetyMachine):
    backend = "sqlite"


def crash_then_watch(machine: SafetyMachine) -> None:
    machine.pipelines(names=["p1"], choices=[0, 0, 1, 0, 0, 0])  # retries: 3 attempts, 60 s backoff
    machine.crash_mid_launch(engine=0, name="p1", via_watcher=False, drop=True)
    machine.safe()
    for _ in range(3):  # past the run lease, then past any backoff: a watcher pass each time
        machine.advance_clock(timedelta(minutes=7))
        machine.watcher_pass(engine=1, all_cycles=False)


def test_a_crash_mid_launch_is_relaunched_under_its_key_as_one_job() -> None:
    machine = Scripted()
    try:
        crash_then_watch(machine)
        machine.safe()
        ledger = machine.world.behaviour.ledger
        [job] = ledger.jobs.values()
        assert job.run_key.endswith(":1") and job.launches == 2 and job.answered
        assert [launch.relaunch for launch in ledger.launches] == [0, 1]
    finally:
        machine.teardown()


async def _fail_the_orphan(self: Runs, run_id: str) -> RunState:
    """What reconciliation did before: fail the orphan, so the retry policy launches a new key."""
    run = await self.ctx.store.get_run(run_id)
    assert run is not None
    if run.status is not S.TRIGGERING or (run.lease_expires_at and run.lease_expires_at > self.ctx.clock.now()):
        return run
    updated, _ = await self.transitions.move(run_id, S.FAILED, Change("reconcile", "owner lost its lease",
                                                                      FailureCategory.TRANSIENT))
    return updated or run


def test_the_oracle_catches_a_new_key_for_a_job_it_lost_track_of(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Runs, "reconcile", _fail_the_orphan)
    machine = Scripted()
    try:
        crash_then_watch(machine)
        violations = machine.run(machine.checker.check())
        assert any("never answered and was not relaunched" in v for v in violations), violations
        machine.world.behaviour.ledger.violations.clear()
    finally:
        machine.teardown()


def test_a_job_whose_callback_reported_its_failure_may_be_retried_under_the_next_key() -> None:
    """The launch hung (its launcher crashed), then the job itself called back that it failed: the
    engine heard what became of it, so attempt 2 under the next key is a retry, not a lost job.
    The oracle used to count only a launch's own answer and flagged this retry — which of the
    recent launches a callback hits depended on timing, so it showed only under load."""
    machine = Scripted()
    try:
        machine.pipelines(names=["p1"], choices=[0, 0, 1, 0, 0, 0])  # retries: 3 attempts, 60 s backoff
        machine.crash_mid_launch(engine=0, name="p1", via_watcher=False, drop=False)
        machine.callback(engine=1, which=0, action="fail")
        machine.safe()
        for _ in range(2):
            machine.advance_clock(timedelta(minutes=7))
            machine.watcher_pass(engine=1, all_cycles=False)
            machine.safe()
        ledger = machine.world.behaviour.ledger
        assert [(launch.attempt, launch.relaunch) for launch in ledger.launches] == [(1, 0), (2, 0)]
        assert not ledger.jobs[ledger.launches[0].run_key].answered
    finally:
        machine.teardown()
