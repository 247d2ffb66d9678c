"""Launch keys through the engine, against one fake Airflow 3: a second store (a fresh store, a
second deployment) launches its own DAG run instead of adopting another store's; a cycle whose
history lapsed in the same store meets its predecessor's DAG run under the same id and fails
PERMANENT instead of adopting it; a relaunch after a crash still adopts its own DAG run, also when
Airflow could not be read at first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_airflow_api import FakeAirflow

from interlock_core.clock import FakeClock
from interlock_core.engine import Engine, Outcome
from interlock_core.launch_keys import is_store_identity
from interlock_core.model import EventKind, FailureCategory, RunState, RunStatus
from interlock_core.ports import LaunchRequest
from interlock_core.templating import run_variables
from tests.helpers.project import Harness, Sensors, pipeline

Peer = tuple[FakeAirflow, str]
S = RunStatus
DAY = "2026-03-02"


@pytest.fixture
async def harness(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    sensors = tmp_path / "sensors"
    sensors.mkdir()
    monkeypatch.setenv("INTERLOCK_TEST_SENSORS", str(sensors))
    h = Harness(root=tmp_path / "project", sensors=Sensors(sensors), clock=clock)
    h.root.mkdir()
    try:
        yield h
    finally:
        for engine in h.engines:
            await engine.aclose()


def write(harness: Harness, url: str, database: str = "./interlock.db") -> None:
    trigger = {"type": "airflow", "url": url, "dagID": "daily_sales", "username": "admin", "password": "admin"}
    harness.write([pipeline("sales", trigger=trigger)], config={"sqlite": {"path": database}})
    harness.sensors.ready("sales")


async def test_a_fresh_store_launches_its_own_dag_run_instead_of_adopting_another_stores(
    harness: Harness, fake_airflow: Peer
) -> None:
    fake, url = fake_airflow
    write(harness, url, "./first.db")
    first = await harness.engine()
    mine = await first.start_run("sales", date=DAY)
    assert mine.run is not None and mine.run.status is S.RUNNING
    fake.set_state("daily_sales", mine.run.metadata["airflow_dag_run_id"], "success")

    write(harness, url, "./second.db")  # a fresh store (or a second deployment) on the same Airflow
    second = await harness.engine()
    theirs = await second.start_run("sales", date=DAY)

    assert theirs.outcome is Outcome.TRIGGERED and theirs.run is not None
    assert theirs.run.status is S.RUNNING  # its own DAG run, queued: not the first store's finished one
    assert len(fake.runs) == 2 and len(fake.calls("POST", "/dagRuns")) == 2
    ids = {mine.run.metadata["airflow_dag_run_id"], theirs.run.metadata["airflow_dag_run_id"]}
    assert len(ids) == 2
    stores = {await first.store.store_identity(), await second.store.store_identity()}
    assert len(stores) == 2 and all(is_store_identity(s) for s in stores)
    assert {run["conf"]["interlock_run_id"] for run in fake.runs.values()} == {mine.run.run_id, theirs.run.run_id}


async def test_a_cycle_whose_history_lapsed_never_adopts_its_predecessors_dag_run(
    harness: Harness, fake_airflow: Peer
) -> None:
    """The same store, the same cycle, attempt 1 again (the store's history of it lapsed, as it does
    for a pipeline deleted and re-created later): the DAG run id comes back, the DAG run is not ours."""
    fake, url = fake_airflow
    write(harness, url)
    engine = await harness.engine()
    before = await engine.start_run("sales", date=DAY)
    assert before.run is not None
    dag_run_id = before.run.metadata["airflow_dag_run_id"]
    fake.set_state("daily_sales", dag_run_id, "success")
    assert (await engine.poll_run(before.run.run_id)).status is S.COMPLETED
    harness.clock.advance(timedelta(days=8, seconds=1))  # past the SQLite store's 7-day retention
    assert await engine.store.get_run_log("sales", DAY, "daily") is None

    again = await engine.start_run("sales", date=DAY)

    assert again.run is not None and again.run.run_key == before.run.run_key
    assert again.run.status is S.FAILED and again.run.failure_category is FailureCategory.PERMANENT
    assert (f"launch key {dag_run_id} is taken by a job Interlock did not start for run {again.run.run_id}"
            in (again.run.failure_message or ""))
    assert len(fake.runs) == 1 and fake.runs[("daily_sales", dag_run_id)]["state"] == "success"
    _, rerun = await engine.request_rerun("sales", DAY, "the key was taken")  # a new key
    assert rerun is not None and rerun.run is not None and rerun.run.status is S.RUNNING
    assert len(fake.runs) == 2


async def _launched_then_crashed(engine: Engine, fake: FakeAirflow) -> RunState:
    """An engine claims the cycle, Airflow creates the DAG run, and the engine dies before recording."""
    config = await engine.get_pipeline("sales")
    run = await engine.runs._claim(config, "daily", DAY, None, None)
    assert run is not None and run.run_key is not None
    trigger = engine.ctx.triggers.get("airflow")
    options: Any = engine.ctx.triggers.cls("airflow").config_model.model_validate(config.trigger.options())  # type: ignore[union-attr]
    request = LaunchRequest(pipeline_id="sales", run_id=run.run_id, run_key=run.run_key, schedule_id="daily",
                            date=DAY, attempt=1, variables=run_variables("sales", "daily", DAY, run.run_id,
                                                                         run.run_key, 1))
    await trigger.launch(options, request)
    assert len(fake.runs) == 1
    return run


async def test_a_relaunch_after_a_crash_adopts_its_own_dag_run(harness: Harness, fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    write(harness, url)
    engine = await harness.engine()
    run = await _launched_then_crashed(await harness.engine(), fake)
    harness.clock.advance(engine.ctx.config.run_lease.total_seconds() + 1)

    relaunched = await engine.advance_run(run.run_id)

    assert relaunched.status is S.RUNNING and relaunched.metadata["relaunches"] == 1
    assert relaunched.metadata["airflow_relaunch"] is True and len(fake.runs) == 1


async def test_a_dag_run_that_cannot_be_read_after_a_409_leaves_the_run_triggering_until_it_can(
    harness: Harness, fake_airflow: Peer
) -> None:
    """Neither failed (a retry would start a second DAG run under the next key) nor adopted unproven."""
    fake, url = fake_airflow
    write(harness, url)
    engine = await harness.engine()
    run = await _launched_then_crashed(await harness.engine(), fake)
    lease = engine.ctx.config.run_lease.total_seconds() + 1
    harness.clock.advance(lease)
    [(_, dag_run_id)] = fake.runs
    fake.fail_next(503, path_contains=f"/dagRuns/{dag_run_id}")

    unknown = await engine.advance_run(run.run_id)

    assert unknown.status is S.TRIGGERING and unknown.metadata["relaunches"] == 1
    events = [e for e in await engine.store.list_events("sales", 100) if e.kind is EventKind.TRIGGER_FAILED]
    assert events and "could not check whether DAG run" in (events[-1].message or "")
    assert (await engine.start_run("sales", date=DAY)).outcome is Outcome.IN_PROGRESS
    harness.clock.advance(lease)

    adopted = await engine.advance_run(run.run_id)

    assert adopted.status is S.RUNNING and adopted.metadata["relaunches"] == 2 and len(fake.runs) == 1
