"""Rerun budgets per source (retry.maxManualReruns, maxDriftReruns, maxCodeRetries) and the
no-new-data breaker, on the engine with a fake clock."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from interlock_core.engine import CycleBusy, Engine, Outcome, RerunExists, RerunRejected
from interlock_core.model import EventKind, RerunSource, RunState, RunStatus
from tests.helpers.project import Harness, MemoryAlerts, pipeline
from tests.helpers.webhook import webhook_server

S = RunStatus
DAY = "2026-03-02"  # the harness clock's today
EARLIER = "2026-02-27"


async def events(engine: Engine, kind: EventKind, name: str = "p1") -> list[dict[str, Any]]:
    return [e.to_json_dict() for e in await engine.store.list_events(name, 500) if e.kind is kind]


async def completed(harness: Harness, **extra: Any) -> tuple[Engine, RunState]:
    """p1 with pushed traits and a command trigger that succeeds, its cycle of DAY completed."""
    harness.write([pipeline("p1", traits={}, **extra)])
    engine = await harness.engine()
    await engine.push_trait("p1", "freshness", "PASS", value={"lagSeconds": 30})
    await engine.push_trait("p1", "volume", "PASS", value={"rows": 10})
    first = await engine.start_run("p1", date=DAY)
    assert first.run is not None and first.run.status is S.COMPLETED, first
    return engine, first.run


async def test_a_rerun_without_new_data_is_rejected_unless_forced(harness: Harness) -> None:
    engine, first = await completed(harness)
    assert first.inputs is not None and set(first.inputs.traits) == {"freshness", "volume"}

    with pytest.raises(RerunRejected) as refused:
        await engine.request_rerun("p1", DAY, "again")
    verdict = refused.value.verdict
    assert (verdict.reason, verdict.source, verdict.replaced_run_id) == ("no new data", RerunSource.MANUAL,
                                                                         first.run_id)
    assert verdict.fingerprint == first.inputs.fingerprint == verdict.replaced_fingerprint
    assert refused.value.status_code == 409 and refused.value.details["rejected"] is True
    assert await engine.store.list_reruns("p1") == []  # nothing recorded
    [rejected] = await events(engine, EventKind.RERUN_REJECTED)
    assert rejected["details"]["reason"] == "no new data" and rejected["details"]["replacedRunId"] == first.run_id

    forced, outcome = await engine.request_rerun("p1", DAY, "after a fix to the job", force=True)
    assert outcome is not None and outcome.outcome is Outcome.TRIGGERED
    assert forced.forced is True and forced.source is RerunSource.MANUAL
    [accepted] = await events(engine, EventKind.RERUN_ACCEPTED)
    assert accepted["details"]["forced"] is True and accepted["details"]["rerunId"] == forced.rerun_id

    with pytest.raises(RerunRejected):  # the forced rerun's run is now the one a rerun replaces: same inputs
        await engine.request_rerun("p1", DAY, "again")
    await engine.push_trait("p1", "volume", "PASS", value={"rows": 11})  # new data
    record, outcome = await engine.request_rerun("p1", DAY, "new rows")
    assert outcome is not None and outcome.outcome is Outcome.TRIGGERED and outcome.run is not None
    assert record.forced is None
    last = (await events(engine, EventKind.RERUN_ACCEPTED))[-1]["details"]
    assert [c["traitType"] for c in last["changes"]] == ["volume"]
    assert outcome.run.inputs is not None and outcome.run.inputs.traits["volume"] != first.inputs.traits["volume"]
    assert outcome.run.inputs.traits["freshness"] == first.inputs.traits["freshness"]


async def test_the_breaker_never_stops_a_cycle_whose_last_run_failed_or_that_never_ran(harness: Harness) -> None:
    harness.write([pipeline("p1", traits={}, trigger={"type": "command", "argv": ["false"]},
                            retry={"maxAttempts": 1})])
    engine = await harness.engine()
    for trait in ("freshness", "volume"):
        await engine.push_trait("p1", trait, "PASS", value={"n": 1})
    failed = await engine.start_run("p1", date=DAY)
    assert failed.run is not None and failed.run.status is S.FAILED
    record, outcome = await engine.request_rerun("p1", DAY, "the job failed: nothing to reproduce")
    assert outcome is not None and outcome.outcome is Outcome.TRIGGERED and record.source is RerunSource.MANUAL
    never, _ = await engine.request_rerun("p1", EARLIER, "a backfill")
    assert never.warning is not None


async def test_a_manual_rerun_evaluates_the_traits_to_see_new_data(harness: Harness) -> None:
    """Nothing re-evaluates a completed cycle's evaluated traits by itself: the request evaluates
    them to judge, and its launch reuses that evaluation (one evaluator call per trait)."""
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    harness.sensors.value("p1.volume", rows=10)
    engine = await harness.engine()
    first = await engine.start_run("p1", date=DAY)
    assert first.run is not None and first.run.status is S.COMPLETED
    calls = harness.sensors.calls("p1.volume")
    with pytest.raises(RerunRejected, match="no new data"):
        await engine.request_rerun("p1", DAY, "again")
    assert harness.sensors.calls("p1.volume") == calls + 1
    harness.sensors.value("p1.volume", rows=12)  # the source changed; nothing evaluated it since
    record, outcome = await engine.request_rerun("p1", DAY, "the source was reloaded")
    assert outcome is not None and outcome.outcome is Outcome.TRIGGERED, outcome
    assert harness.sensors.calls("p1.volume") == calls + 2  # judged and launched on one evaluation
    assert record.status is S.COMPLETED


async def test_a_spent_budget_refuses_before_anything_is_evaluated(harness: Harness) -> None:
    harness.write([pipeline("p1", retry={"maxManualReruns": 0})])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    assert (await engine.start_run("p1", date=DAY)).outcome is Outcome.TRIGGERED
    calls = harness.sensors.calls("p1.volume")
    with pytest.raises(RerunRejected, match=r"retry\.maxManualReruns"):
        await engine.request_rerun("p1", DAY, "again")
    assert harness.sensors.calls("p1.volume") == calls


async def test_the_manual_budget_is_counted_per_cycle_and_named_when_spent(harness: Harness) -> None:
    engine, _ = await completed(harness, retry={"maxManualReruns": 1})
    record, outcome = await engine.request_rerun("p1", DAY, "once", force=True)
    assert outcome is not None and outcome.outcome is Outcome.TRIGGERED
    before = len(await engine.store.list_events("p1", 500))
    judged = await engine.reruns.judge("p1", DAY, force=True)  # what a dry run asks: nothing recorded
    assert (judged.accepted, judged.reason, judged.budget, judged.used, judged.limit) == (
        False, "budget exhausted", "maxManualReruns", 1, 1)
    assert len(await engine.store.list_events("p1", 500)) == before

    with pytest.raises(RerunRejected) as refused:
        await engine.request_rerun("p1", DAY, "twice", force=True)  # force passes the breaker, not the budget
    assert "retry.maxManualReruns" in refused.value.message and "1 of 1" in refused.value.message
    assert (refused.value.details["budget"], refused.value.details["used"], refused.value.details["limit"]) == (
        "maxManualReruns", 1, 1)
    assert [r.rerun_id for r in await engine.store.list_reruns("p1")] == [record.rerun_id]
    [rejected] = await events(engine, EventKind.RERUN_REJECTED)
    assert rejected["details"]["budget"] == "maxManualReruns" and rejected["details"]["source"] == "manual"
    other, _ = await engine.request_rerun("p1", EARLIER, "another cycle has its own budget")
    assert other.original_date == EARLIER


async def test_simultaneous_requests_never_overspend_the_budget(harness: Harness) -> None:
    engine, _ = await completed(harness, retry={"maxManualReruns": 1})
    accepted: list[Any] = []
    refused: list[Exception] = []

    async def ask(n: int) -> None:
        try:
            accepted.append(await engine.request_rerun("p1", DAY, f"at once {n}", force=True))
        except (CycleBusy, RerunExists, RerunRejected) as exc:
            refused.append(exc)

    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(ask, n)
    assert len(accepted) == 1 and len(refused) == 5
    assert len(await engine.store.list_reruns("p1")) == 1
    with pytest.raises(RerunRejected, match="maxManualReruns"):
        await engine.request_rerun("p1", DAY, "after them", force=True)


async def test_max_code_retries_caps_retries_after_job_failures_not_launch_failures(harness: Harness) -> None:
    with webhook_server() as hook:
        retry = {"maxAttempts": 5, "maxCodeRetries": 1, "backoffSeconds": 0}
        harness.write([pipeline("p1", traits={}, trigger={"type": "http", "url": hook.url}, retry=retry),
                       pipeline("p2", traits={}, trigger={"type": "http", "url": hook.url},
                                retry={"maxAttempts": 5, "backoffSeconds": 0})])
        alerts = MemoryAlerts()
        engine = await harness.engine(alerts=alerts)
        for name in ("p1", "p2"):
            for trait in ("freshness", "volume"):
                await engine.push_trait(name, trait, "PASS")

        first = await engine.start_run("p1", date=DAY)
        assert first.run is not None and first.run.status is S.RUNNING
        await engine.complete_run(first.run.run_id, "failed")  # the job ran and failed: 1 of 1 allowed
        [accepted] = await events(engine, EventKind.RERUN_ACCEPTED)
        assert (accepted["details"]["source"], accepted["details"]["used"], accepted["details"]["limit"]) == (
            "code", 1, 1)
        assert len(await events(engine, EventKind.RETRY_SCHEDULED)) == 1
        second = await engine.start_run("p1", date=DAY)
        assert second.run is not None and second.run.attempt == 2
        await engine.complete_run(second.run.run_id, "failed")  # 2 job failures: more than 1 retry allows
        [rejected] = await events(engine, EventKind.RERUN_REJECTED)
        assert (rejected["details"]["budget"], rejected["details"]["used"]) == ("maxCodeRetries", 2)
        [exhausted] = await events(engine, EventKind.RETRY_EXHAUSTED)
        assert "retry.maxCodeRetries" in exhausted["message"]
        assert [m for m in alerts.messages() if "maxCodeRetries" in m], alerts.messages()
        third = await engine.start_run("p1", date=DAY)
        assert third.outcome is Outcome.EXHAUSTED and "retry.maxCodeRetries (1)" in third.message

        hook.status = 503  # launches that fail are not the job's failures: maxAttempts alone bounds them
        for attempt in (1, 2, 3):
            out = await engine.start_run("p1", date=EARLIER)
            assert out.run is not None and out.run.status is S.FAILED and out.run.attempt == attempt
        hook.status = 200
        fourth = await engine.start_run("p1", date=EARLIER)
        assert fourth.run is not None and fourth.run.status is S.RUNNING and fourth.run.attempt == 4
        entry = await engine.store.get_run_log("p1", EARLIER, "daily")
        assert entry is not None and [a.job_failure for a in entry.retry_history] == [False, False, False]

        # unset: job failures are retried within maxAttempts as before, without budget events
        p2 = await engine.start_run("p2", date=DAY)
        assert p2.run is not None
        await engine.complete_run(p2.run.run_id, "failed")
        again = await engine.start_run("p2", date=DAY)
        assert again.run is not None and again.run.attempt == 2
        await engine.complete_run(again.run.run_id, "failed")
        assert (await engine.start_run("p2", date=DAY)).outcome is Outcome.TRIGGERED
        assert await events(engine, EventKind.RERUN_ACCEPTED, "p2") == []
