"""An Airflow-triggered run through the engine against the fake Airflow 3: token renewal while a run is
RUNNING, a rejected static token's alert and its one warning, and the failed task in the run's failure
message."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fake_airflow_api import FakeAirflow

from interlock_core.clock import FakeClock
from interlock_core.model import RunStatus
from tests.helpers.project import Harness, MemoryAlerts, Sensors, pipeline
from tests.helpers.tracing import recording

Peer = tuple[FakeAirflow, str]


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


def airflow_pipeline(url: str, **auth: object) -> dict[str, object]:
    auth = auth or {"username": "admin", "password": "admin"}
    return pipeline("sales", trigger={"type": "airflow", "url": url, "dagID": "daily_sales", **auth})


async def test_a_running_run_whose_token_airflow_stopped_accepting_renews_it_and_completes(
    harness: Harness, fake_airflow: Peer
) -> None:
    fake, url = fake_airflow
    harness.write([airflow_pipeline(url)])
    harness.sensors.ready("sales")
    alerts = MemoryAlerts()
    engine = await harness.engine(alerts=alerts)
    outcome = await engine.start_run("sales")
    assert outcome.run is not None and outcome.run.status is RunStatus.RUNNING
    fake.revoke_tokens()  # Airflow restarted with a new jwt_secret
    (dag_run,) = fake.runs
    fake.set_state(*dag_run, "success")
    run = await engine.poll_run(outcome.run.run_id)
    assert run.status is RunStatus.COMPLETED
    assert len(fake.calls("POST", "/auth/token")) == 2
    assert alerts.messages() == []


async def test_a_rejected_static_token_alerts_once_and_the_run_stays_running(
    harness: Harness, fake_airflow: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = fake_airflow
    monkeypatch.setenv("AIRFLOW_TOKEN", fake.issue_token())
    harness.write([airflow_pipeline(url, headers={"Authorization": "Bearer ${AIRFLOW_TOKEN}"})])
    harness.sensors.ready("sales")
    alerts = MemoryAlerts()
    engine = await harness.engine(alerts=alerts)
    outcome = await engine.start_run("sales")
    assert outcome.run is not None and outcome.run.status is RunStatus.RUNNING
    fake.revoke_tokens()
    for _ in range(3):
        run = await engine.poll_run(outcome.run.run_id)
        assert run.status is RunStatus.RUNNING
    (message,) = alerts.messages()
    assert "rejected the configured Authorization header" in message
    assert "'username' and 'password'" in message
    assert outcome.run.run_id in message


async def test_a_rejected_static_token_is_logged_once_until_it_changes_or_polls_recover(
    harness: Harness, fake_airflow: Peer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = fake_airflow
    monkeypatch.setenv("AIRFLOW_TOKEN", fake.issue_token())
    harness.write([airflow_pipeline(url, headers={"Authorization": "Bearer ${AIRFLOW_TOKEN}"})])
    harness.sensors.ready("sales")
    engine = await harness.engine()
    outcome = await engine.start_run("sales")
    assert outcome.run is not None and outcome.run.status is RunStatus.RUNNING
    run_id = outcome.run.run_id

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records
                if r.name == "interlock.lifecycle" and r.levelno >= logging.WARNING]

    caplog.set_level(logging.DEBUG, logger="interlock.lifecycle")
    fake.revoke_tokens()  # the static token expired mid-run
    for _ in range(44):  # 90 s of polls every 2 s
        clock.advance(timedelta(seconds=2))
        assert (await engine.poll_run(run_id)).status is RunStatus.RUNNING
    (warning,) = warnings()
    assert run_id in warning and "rejected the configured Authorization header" in warning

    monkeypatch.setenv("AIRFLOW_TOKEN", fake.issue_token())  # a new token: polls work again
    assert (await engine.poll_run(run_id)).status is RunStatus.RUNNING
    assert any(r.levelno == logging.INFO and "works again" in r.getMessage() for r in caplog.records)
    fake.revoke_tokens()  # and fail again: that is news, said once more
    for _ in range(5):
        await engine.poll_run(run_id)
    assert len(warnings()) == 2


async def test_a_failed_dag_run_fails_the_run_naming_the_task(harness: Harness, fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    harness.write([airflow_pipeline(url)])
    harness.sensors.ready("sales")
    engine = await harness.engine()
    outcome = await engine.start_run("sales")
    assert outcome.run is not None
    (dag_run,) = fake.runs
    fake.set_task_state(*dag_run, "load_orders", "failed")
    fake.set_state(*dag_run, "failed")
    run = await engine.poll_run(outcome.run.run_id)
    assert run.status is RunStatus.FAILED
    assert "task load_orders failed" in (run.failure_message or "")


async def test_a_traced_run_hands_airflow_its_trace_and_each_poll_is_a_span(harness: Harness,
                                                                           fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    harness.write([airflow_pipeline(url)])
    harness.sensors.ready("sales")
    engine = await harness.engine()
    with recording() as tracer:
        outcome = await engine.start_run("sales")
        assert outcome.run is not None
        launch = tracer.one("interlock.launch")
        conf = fake.calls("POST", "/dagRuns")[0]["body"]["conf"]
        assert conf["traceparent"] == f"00-{launch.trace_id:032x}-{launch.span_id:016x}-01"
        await engine.poll_run(outcome.run.run_id)
        (dag_run,) = fake.runs
        fake.set_state(*dag_run, "success")
        await engine.poll_run(outcome.run.run_id)
    running, done = tracer.named("interlock.poll")
    assert running.kind == "client" and running.attributes == {
        "interlock.run_id": outcome.run.run_id, "interlock.pipeline": "sales", "interlock.trigger_type": "airflow",
        "interlock.status": "RUNNING"}
    assert done.attributes["interlock.status"] == "COMPLETED" and done.error is None
    assert tracer.one("interlock.cascade").parent is done  # what the completion it found sets off
