"""Exactly-once across crashes: a run whose launcher died between launching and recording is
relaunched under the same run key (the orchestrator's idempotency key), on SQLite and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from interlock_core.engine import Outcome
from interlock_core.engine.runs import MAX_RELAUNCHES
from interlock_core.model import EventKind, RunLogEntry, RunStatus
from interlock_core.ports import LaunchRequest
from interlock_core.watcher import Watcher
from tests.helpers.backends import REDIS_ADDR
from tests.helpers.project import Harness, pipeline, store_key

S = RunStatus


@pytest.fixture(params=["sqlite", "redis"])
def store_config(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "sqlite":
        yield {}
        return
    prefix = f"relaunch-{uuid.uuid4().hex[:8]}:"
    yield {"provider": "redis", "redis": {"addr": REDIS_ADDR, "keyPrefix": prefix}}
    client = redis.Redis.from_url(f"redis://{REDIS_ADDR}")
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def recording(name: str, marker: Path) -> dict[str, Any]:
    """A pipeline whose command notes the run key it was launched with."""
    return pipeline(name, trigger={"type": "command", "argv": ["sh", "-c", f"echo $INTERLOCK_RUN_KEY >> {marker}"]})


async def _crash_after_launch(harness: Harness, name: str) -> Any:
    """Another engine claims the cycle, launches the job and dies before recording the outcome."""
    crashed = await harness.engine()
    config = await crashed.get_pipeline(name)
    run = await crashed.runs._claim(config, "daily", "2026-03-02", None, None)
    assert run is not None and run.run_key is not None and run.date is not None
    trigger = crashed.ctx.triggers.get("command")
    options = crashed.ctx.triggers.cls("command").config_model.model_validate(config.trigger.options())  # type: ignore[union-attr]
    await trigger.launch(options, LaunchRequest(pipeline_id=name, run_id=run.run_id, run_key=run.run_key,
                                                schedule_id="daily", date=run.date, attempt=1, variables={}))
    return run


async def test_a_crash_between_launch_and_record_relaunches_under_the_same_run_key(
        harness: Harness, store_config: dict[str, Any], tmp_path: Path) -> None:
    marker = tmp_path / "keys"
    harness.write([recording("p1", marker)], config=store_config)
    harness.sensors.ready("p1")
    engine = await harness.engine()
    run = await _crash_after_launch(harness, "p1")
    assert (await engine.advance_run(run.run_id)).status is S.TRIGGERING  # its lease is still live
    harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)

    relaunched = await engine.advance_run(run.run_id)

    assert relaunched.run_id == run.run_id and relaunched.status is S.COMPLETED
    assert relaunched.run_key == run.run_key == await store_key(engine, "p1:daily:2026-03-02:1")
    assert relaunched.attempt == 1
    assert relaunched.metadata["relaunches"] == 1
    assert marker.read_text().split() == [run.run_key, run.run_key]  # one key: the orchestrator dedupes on it
    entry = await engine.store.get_run_log("p1", "2026-03-02", "daily")
    assert entry is not None and entry.status is S.COMPLETED and entry.attempt_number == 1
    assert entry.retry_history == []
    events = await engine.store.list_events("p1", 100)
    kinds = [e.kind for e in events]
    assert EventKind.RETRY_SCHEDULED not in kinds and EventKind.TRIGGER_FIRED in kinds
    [reconciled] = [e for e in events if e.kind is EventKind.RUN_RECONCILED]
    assert f"relaunched under the same run key {run.run_key}" in (reconciled.message or "")
    assert (await engine.start_run("p1")).outcome is Outcome.DUPLICATE


async def test_the_watcher_relaunches_an_orphan_days_later(harness: Harness, store_config: dict[str, Any],
                                                           tmp_path: Path) -> None:
    marker = tmp_path / "keys"
    harness.write([recording("p1", marker)], config=store_config)
    harness.sensors.ready("p1")
    engine = await harness.engine()
    run = await _crash_after_launch(harness, "p1")
    harness.clock.advance(2 * 86400 + 3600)
    await Watcher(engine).run_once()
    current = await engine.store.get_run(run.run_id)
    assert current is not None and current.status is S.COMPLETED and current.attempt == 1
    keys = marker.read_text().split()  # today's cycle (03-04) ran too, under its own key
    first = await store_key(engine, "p1:daily:2026-03-02:1")
    assert keys.count(first) == 2 and not [k for k in keys if k.endswith("p1:daily:2026-03-02:2")]
    assert [r.run_key for r in await engine.store.list_runs("p1") if r.date == "2026-03-02"] == [first]


async def test_a_claim_abandoned_before_its_run_was_recorded_is_claimed_again_at_the_same_attempt(
        harness: Harness, store_config: dict[str, Any], tmp_path: Path) -> None:
    marker = tmp_path / "keys"
    harness.write([recording("p1", marker)], config=store_config)
    harness.sensors.ready("p1")
    engine = await harness.engine()
    now = harness.clock.now()
    claim = RunLogEntry(pipeline_id="p1", date="2026-03-02", schedule_id="daily", status=S.TRIGGERING,
                        attempt_number=1, run_id="p1-never-created", started_at=now, updated_at=now, version=1)
    assert await engine.store.cas_run_log(claim, None)
    assert (await engine.start_run("p1")).outcome is Outcome.IN_PROGRESS
    harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)

    outcome = await engine.start_run("p1")

    assert outcome.outcome is Outcome.TRIGGERED and outcome.run is not None
    assert outcome.run.attempt == 1 and outcome.run.run_key == await store_key(engine, "p1:daily:2026-03-02:1")
    assert marker.read_text().split() == [outcome.run.run_key]
    entry = await engine.store.get_run_log("p1", "2026-03-02", "daily")
    assert entry is not None and entry.status is S.COMPLETED and entry.attempt_number == 1


async def test_a_run_that_never_records_is_failed_after_the_relaunch_limit(
        harness: Harness, store_config: dict[str, Any], tmp_path: Path) -> None:
    harness.write([recording("p1", tmp_path / "keys")], config=store_config)
    harness.sensors.ready("p1")
    engine = await harness.engine()
    run = await _crash_after_launch(harness, "p1")

    def orphaned(current: Any) -> Any:
        current.metadata["relaunches"] = MAX_RELAUNCHES
        return current

    from interlock_core.engine.records import update_run
    await update_run(engine.store, run.run_id, orphaned)
    harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)
    failed = await engine.advance_run(run.run_id)
    assert failed.status is S.FAILED and failed.failure_message is not None
    assert f"relaunched {MAX_RELAUNCHES} times" in failed.failure_message
    harness.clock.advance(31)
    retry = await engine.start_run("p1")  # a retry, recorded as one: the next attempt, a new key
    assert retry.run is not None and retry.run.run_key == await store_key(engine, "p1:daily:2026-03-02:2")


async def test_a_run_whose_pipeline_lost_its_trigger_is_failed_not_relaunched(
        harness: Harness, store_config: dict[str, Any], tmp_path: Path) -> None:
    marker = tmp_path / "keys"
    harness.write([recording("p1", marker)], config=store_config)
    harness.sensors.ready("p1")
    engine = await harness.engine()
    run = await _crash_after_launch(harness, "p1")
    config = await engine.get_pipeline("p1")
    await engine.store.put_pipeline(config.model_copy(update={"trigger": None}))
    harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)
    failed = await engine.advance_run(run.run_id)
    assert failed.status is S.FAILED and "not relaunched" in (failed.failure_message or "")
    assert marker.read_text().split() == [run.run_key]
