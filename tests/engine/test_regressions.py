"""Regression tests for the bugs the safety campaign (tests/safety) found in the control path.
Each names the invariant it broke; docs/safety.md lists them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from interlock_core.engine import Outcome
from interlock_core.errors import StoreUnavailable
from interlock_core.model import AlertClaim, EventKind, RunStatus
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline, store_key
from tests.helpers.webhook import webhook_server

S = RunStatus


class FailingStore:
    """Wraps a real store; the calls named in ``failing`` raise StoreUnavailable (``after`` = once applied)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failing: dict[str, int] = {}
        self.after: set[str] = set()
        self.only: Any = None  # (name, args) -> bool: which calls may fail

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.failing.get(name, 0) > 0 and (self.only is None or self.only(name, (*args, *kwargs.values()))):
                self.failing[name] -= 1
                if name in self.after:
                    await attr(*args, **kwargs)
                raise StoreUnavailable(f"injected outage on {name}")
            return await attr(*args, **kwargs)

        return call


async def failing_engine(harness: Harness) -> tuple[Any, FailingStore]:
    from interlock_core.config import load_project
    from interlock_core.engine.factory import create_store
    from interlock_core.plugins import load_plugins

    store = FailingStore(create_store(load_project(harness.root), harness.clock, load_plugins()))
    return await harness.engine(store=store), store


async def test_a_cycle_missed_while_no_watcher_ran_is_reported(harness: Harness) -> None:
    """Silently missing run: a pipeline that ran on Monday is not ready on Tuesday and no watcher
    runs until Thursday; Tuesday's and Wednesday's cycles get their completion SLA breach."""
    harness.write([pipeline("p1", sla={"completionDeadline": "18:00", "timezone": "UTC"})])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()  # Monday 2026-03-02 12:00: runs
    harness.sensors.set("p1.volume", "FAIL empty")
    harness.clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))  # Thursday
    await watcher.run_once()
    messages = engine.ctx.alerts.messages()  # type: ignore[attr-defined]
    for day in ("2026-03-03", "2026-03-04"):
        assert [e for e in await engine.store.list_events("p1", 200)
                if e.kind is EventKind.SLA_BREACHED and e.date == day]
    assert sum("cycle NOT_STARTED past 18:00" in m for m in messages) == 2


async def test_a_pipeline_that_never_ran_is_not_judged_backwards(harness: Harness) -> None:
    harness.write([pipeline("p1", sla={"completionDeadline": "18:00", "timezone": "UTC"})])
    harness.sensors.set("p1.volume", "FAIL empty")
    harness.clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    engine = await harness.engine()
    await Watcher(engine).run_once()
    assert not [m for m in engine.ctx.alerts.messages() if "SLA" in m]  # type: ignore[attr-defined]


async def test_an_orphaned_run_days_old_is_reconciled(harness: Harness) -> None:
    """Never stuck: a run left TRIGGERING by a crashed engine, then no watcher for two days."""
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    crashed = await harness.engine()
    run = await crashed.runs._claim(await crashed.get_pipeline("p1"), "daily", "2026-03-02", None, None)
    assert run is not None
    harness.clock.advance(timedelta(days=2, hours=1))
    await Watcher(engine).run_once()
    reconciled = await engine.store.get_run(run.run_id)
    assert reconciled is not None and reconciled.status is S.COMPLETED  # relaunched under its own run key
    assert reconciled.run_key == run.run_key


async def test_a_rerun_in_monitoring_finishes_its_window(harness: Harness) -> None:
    """Never stuck: the rerun record mirrored COMPLETED while its run was still COMPLETED_MONITORING,
    so the watcher skipped it and the run never left monitoring."""
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                watch={"monitoring": {"enabled": True, "duration": "1h"}})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        record, outcome = await engine.request_rerun("p1", "2026-03-01", "late data")
        assert outcome is not None and outcome.run is not None
        await engine.complete_run(outcome.run.run_id, "success")
        record = await engine.store.get_rerun(record.rerun_id)
        assert record is not None and record.status is S.COMPLETED_MONITORING
        harness.clock.advance(3601)
        await Watcher(engine).run_once()
        run = await engine.store.get_run(outcome.run.run_id)
        assert run is not None and run.status is S.COMPLETED
        record = await engine.store.get_rerun(record.rerun_id)
        assert record is not None and record.status is S.COMPLETED
        assert EventKind.RERUN_COMPLETED in [e.kind for e in await engine.store.list_events("p1", 200)]


async def test_a_store_outage_during_evaluation_is_store_unavailable(harness: Harness) -> None:
    """Errors from the core tree: evaluate and start_run raised an ExceptionGroup (a 500 and no
    watcher back-off) instead of StoreUnavailable when the store failed inside the trait fan-out."""
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    engine, store = await failing_engine(harness)
    store.failing["commit"] = 1  # the one write of an evaluation (trait rows, events, readiness)
    with pytest.raises(StoreUnavailable):
        await engine.start_run("p1")
    store.failing["commit"] = 1
    with pytest.raises(StoreUnavailable):
        await Watcher(engine).run_once()
    assert (await engine.start_run("p1")).outcome is Outcome.TRIGGERED


async def test_a_rerun_claimed_without_a_run_is_not_stuck(harness: Harness) -> None:
    """Never stuck: the rerun record was claimed (TRIGGERING) but the run was never created (store
    outage between the two); the watcher skipped it for ever. It goes back to PENDING and runs."""
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    engine, store = await failing_engine(harness)
    store.failing["create_run"] = 1
    with pytest.raises(StoreUnavailable):
        await engine.request_rerun("p1", "2026-03-01", "late data")
    [record] = await engine.store.list_reruns("p1")
    assert record.status is S.TRIGGERING and await engine.store.get_run(record.rerun_run_id or "") is None
    watcher = Watcher(engine)
    await watcher.run_once()  # the claim may still be in flight: left alone within the run lease
    assert (await engine.store.get_rerun(record.rerun_id)).status is S.TRIGGERING  # type: ignore[union-attr]
    harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)
    await watcher.run_once()
    done = await engine.store.get_rerun(record.rerun_id)
    assert done is not None and done.status is S.COMPLETED and done.rerun_run_id != record.rerun_run_id
    run = await engine.store.get_run(done.rerun_run_id or "")
    # nothing was launched for the lost claim, so its attempt (and run key) is taken again
    assert run is not None and run.attempt == 1
    assert run.run_key == await store_key(engine, f"p1:daily:2026-03-01:{record.rerun_id}:1")


async def test_a_rerun_whose_run_ended_unrecorded_is_closed(harness: Harness) -> None:
    """Never stuck: the run of a rerun failed but the store lost the rerun record's update."""
    harness.write([pipeline("p1", trigger={"type": "command", "argv": ["false"]})])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    record, _ = await engine.request_rerun("p1", "2026-03-01", "late data", execute=False)
    original = engine.transitions._sync_rerun

    async def lost(run: Any) -> None:
        raise StoreUnavailable("injected outage while recording the rerun")

    engine.transitions._sync_rerun = lost  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await engine.reruns.start_pending(record)
    engine.transitions._sync_rerun = original  # type: ignore[method-assign]
    stuck = await engine.store.get_rerun(record.rerun_id)
    assert stuck is not None and stuck.status is S.TRIGGERING
    run = await engine.store.get_run(stuck.rerun_run_id or "")
    assert run is not None and run.status is S.FAILED
    await Watcher(engine).run_once()
    closed = await engine.store.get_rerun(record.rerun_id)
    assert closed is not None and closed.status is S.FAILED


async def test_a_held_drift_rerun_is_never_started_by_the_watcher(harness: Harness) -> None:
    """Provided when not wanted: with ``autoRerun: false`` the drift rerun was created PENDING and
    held in a later write; when the store failed before it the watcher started the rerun."""
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                watch={"monitoring": {"enabled": True, "duration": "1h", "autoRerun": False}})])
        harness.sensors.ready("p1")
        engine, store = await failing_engine(harness)
        run = (await engine.start_run("p1")).run
        assert run is not None
        await engine.complete_run(run.run_id, "success")
        harness.sensors.set("p1.volume", "FAIL rows deleted")
        harness.clock.advance(60)
        store.failing["cas_run"] = 1  # moving the drifted run to COMPLETED, after the rerun was recorded
        with pytest.raises(StoreUnavailable):
            await engine.advance_run(run.run_id)
        harness.sensors.set("p1.volume", "PASS")
        harness.clock.advance(60)
        await Watcher(engine).run_once()
        assert hook.count == 1
        [record] = await engine.store.list_reruns("p1")
        assert record.status is S.PENDING and record.metadata.get("autoRerun") is False


async def test_an_sla_breach_whose_claim_reply_was_lost_is_still_alerted(harness: Harness) -> None:
    """Silently missing run: the alert's dedup claim was written but its reply lost; the claim
    then suppressed the alert for ever, and nothing reported the missed cycle. (The claim is now
    written with the alert and its event, in one store write: that write's reply is lost.)"""
    harness.write([pipeline("p1", sla={"completionDeadline": "10:00", "timezone": "UTC"})])
    harness.sensors.set("p1.volume", "FAIL empty")
    engine, store = await failing_engine(harness)
    other = await harness.engine()
    store.failing["record_alerts"] = 1  # the claim, the alert and the event are written, the reply lost
    store.after.add("record_alerts")
    store.only = lambda name, args: any(isinstance(a, AlertClaim) and a.key.startswith("sla:") for a in args)
    p1 = await engine.get_pipeline("p1")
    with pytest.raises(StoreUnavailable):
        await engine.cycles.tick(p1, p1.resolved_schedules()[0])
    await Watcher(other).run_once()
    messages = [*engine.ctx.alerts.messages(), *other.ctx.alerts.messages()]  # type: ignore[attr-defined]
    events = [e for e in await other.store.list_events("p1", 200) if e.kind is EventKind.SLA_BREACHED]
    assert events or any("completion SLA breached" in m for m in messages)


async def test_a_failed_lease_renewal_does_not_cancel_the_launch(harness: Harness, tmp_path: Any) -> None:
    """Launched twice under two keys: a store error while renewing the run's lease cancelled the
    launch in flight (the job may already run) and failed the attempt, so the retry launched again."""
    marker = tmp_path / "launches"
    harness.write([pipeline("p1", trigger={"type": "command", "argv": ["sh", "-c", f"sleep 0.4; echo x >> {marker}"]})],
                  config={"engine": {"runLease": "150ms"}})
    harness.sensors.ready("p1")
    engine, store = await failing_engine(harness)
    store.failing["get_run"] = 1  # the first renewal's read
    outcome = await engine.start_run("p1")
    assert outcome.run is not None and outcome.run.status is S.COMPLETED
    assert marker.read_text().count("x") == 1


async def test_a_claim_made_while_the_gate_judged_is_never_claimed_over(harness: Harness) -> None:
    """Launched twice (two attempts of one cycle at once): the gate judged the run-log entry, then
    handed the caller a fresh read of it; when another engine had just claimed the next attempt,
    the caller claimed the attempt after that on top of it while the first was being launched."""
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url},
                                retry={"maxAttempts": 3, "backoffSeconds": 10})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        other = await harness.engine()
        first = (await engine.start_run("p1")).run
        assert first is not None
        await engine.fail_run(first.run_id, "job failed")
        harness.clock.advance(11)
        judge = engine.runs._gate
        claimed: list[Any] = []

        async def judged_then_claimed_elsewhere(*args: Any) -> Any:
            verdict = await judge(*args)
            if verdict is None and not claimed:  # another engine claims attempt 2 right after the gate said go
                p1 = await other.get_pipeline("p1")
                entry = await other.store.get_run_log("p1", "2026-03-02", "daily")
                claimed.append(await other.runs._claim(p1, "daily", "2026-03-02", entry, None))
            return verdict

        engine.runs._gate = judged_then_claimed_elsewhere  # type: ignore[method-assign]
        outcome = await engine.start_run("p1")
        assert claimed and claimed[0] is not None
        assert outcome.outcome is Outcome.IN_PROGRESS
        assert hook.count == 1 and [r.attempt for r in await engine.store.list_runs("p1")] == [2, 1]


class PushingMidway:
    """An evaluator runner that, while it judges, sees a result pushed to the trait it judges (say a
    dbt run's result reaching a rule), then answers PASS about what it read before."""

    name = "pushing-midway"

    def __init__(self, engine: Any, clock: Any, push: bool = True) -> None:
        self.engine, self.clock, self.push = engine, clock, push

    def handles(self, evaluator: str) -> bool:
        return True

    async def run(self, evaluator: str, request: Any) -> Any:
        from interlock_core.ports import EvaluatorOutput
        if self.push and request.trait_type == "volume":
            self.push = False
            self.clock.advance(timedelta(seconds=1))  # the evaluation takes a while
            await self.engine.push_trait(request.pipeline_id, "volume", "PASS", value={"rows": 10})
        return EvaluatorOutput(status="PASS")

    async def close(self) -> None:
        return None


async def test_a_result_pushed_while_the_trait_is_evaluated_never_passes_it_unjudged(harness: Harness) -> None:
    """A push that lands mid-evaluation stays stored for the next evaluation; this one does not
    count the trait as passing — neither the verdict about older data nor the push's own status."""
    harness.write([pipeline("p1")])
    engine = await harness.engine()
    engine.evaluation.ctx.runners.insert(0, PushingMidway(engine, harness.clock))  # type: ignore[arg-type]

    first = await engine.evaluate("p1")

    assert first.status == "NOT_READY" and first.blocking == ["volume"]
    [volume] = [t for t in first.traits if t.trait_type == "volume"]
    assert volume.reason == "a result was pushed to volume while it was evaluated: the next evaluation judges it"
    stored = await engine.store.get_trait("p1", "volume")
    assert stored is not None and stored.source == "pushed" and stored.value == {"rows": 10}
    second = await engine.evaluate("p1")  # the push is judged
    assert second.status == "READY"
