"""Triggers look up the runs the orchestrator's own scheduler made of a dry-run cycle: ``airflow``
against a fake Airflow 3 (REST API v2, and v1), ``GET .../dagRuns`` filtered by logical date;
``databricks`` against a fake Jobs API 2.1, ``runs/list`` of the job by start time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fake_airflow_api import FakeAirflow
from fake_databricks_api import FakeDatabricks
from launch_requests import MakeRequest

from interlock_core.engine.shadow import cycle_window
from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory, PipelineConfig
from interlock_core.plugins import PluginContext
from interlock_core.ports import SchedulerRunLookup
from interlock_plugins.triggers.airflow import AirflowTrigger
from interlock_plugins.triggers.databricks import DatabricksTrigger

Peer = tuple[FakeAirflow, str]


@pytest.fixture
async def trigger(plugin_context: PluginContext) -> AsyncIterator[AirflowTrigger]:
    instance = AirflowTrigger(plugin_context)
    yield instance
    await instance.close()


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {"url": url, "dagID": "daily_sales", "username": "admin", "password": "admin", **extra}


def window(date: str, timezone: str | None = None) -> Any:
    pipeline = PipelineConfig.model_validate({
        "name": "daily-sales", "archetype": "batch-ingestion", "dryRun": True,
        "schedules": [{"name": "daily", **({"timezone": timezone} if timezone else {})}]})
    return cycle_window(pipeline, pipeline.resolved_schedules()[0], date)


async def test_the_scheduler_runs_of_a_cycle_are_found_by_logical_date(
        trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest) -> None:
    fake, url = fake_airflow
    assert isinstance(trigger, SchedulerRunLookup)
    fake.scheduled("daily_sales", "2026-03-01T00:00:00+00:00", start="2026-03-01T00:05:00+00:00",
                   end="2026-03-01T00:20:00+00:00")  # the day before
    first = fake.scheduled("daily_sales", "2026-03-02T00:00:00+00:00", "failed", start="2026-03-02T06:00:00+00:00",
                           end="2026-03-02T06:10:00+00:00")
    second = fake.scheduled("daily_sales", "2026-03-02T00:00:00+00:00", run_id="manual__2026-03-02T07:00:00",
                            start="2026-03-02T07:00:00+00:00", end="2026-03-02T07:30:00+00:00")
    fake.scheduled("daily_sales", "2026-03-02T12:00:00+00:00", "running", start="2026-03-02T12:00:05+00:00",
                   run_id="scheduled__noon")
    await trigger.launch(config(url), make_request(date="2026-03-02"))  # Interlock's own DAG run: left out

    runs = await trigger.find_runs(config(url), window("2026-03-02"))
    assert [(r.run_id, r.state) for r in runs] == [
        (first, "failed"), (second, "succeeded"), ("scheduled__noon", "running")]
    assert runs[0].started_at == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert runs[0].finished_at == datetime(2026, 3, 2, 6, 10, tzinfo=UTC)
    assert runs[0].failure_category is FailureCategory.TRANSIENT and runs[1].failure_category is None
    assert runs[2].finished_at is None
    listed = fake.calls("GET", "/dagRuns")[-1]
    assert listed["path"] == "/api/v2/dags/daily_sales/dagRuns"
    assert listed["query"] == {"logical_date_gte": "2026-03-02T00:00:00Z",
                               "logical_date_lte": "2026-03-02T23:59:59.999999Z", "limit": "100"}


async def test_the_cycle_is_the_day_in_the_schedule_time_zone(trigger: AirflowTrigger, fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    late = fake.scheduled("daily_sales", "2026-03-03T03:00:00+00:00", start="2026-03-03T03:01:00+00:00",
                          end="2026-03-03T03:30:00+00:00")  # 22:00 on 03-02 in New York
    fake.scheduled("daily_sales", "2026-03-02T03:00:00+00:00")  # 22:00 on 03-01 in New York
    runs = await trigger.find_runs(config(url), window("2026-03-02", "America/New_York"))
    assert [r.run_id for r in runs] == [late]


async def test_api_v1_filters_by_execution_date(trigger: AirflowTrigger, fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    run_id = fake.scheduled("daily_sales", "2026-03-02T00:00:00+00:00", start="2026-03-02T00:01:00+00:00",
                            end="2026-03-02T00:02:00+00:00")
    runs = await trigger.find_runs(config(url, apiVersion="v1"), window("2026-03-02"))
    assert [r.run_id for r in runs] == [run_id]
    listed = fake.calls("GET", "/dagRuns")[-1]
    assert listed["path"] == "/api/v1/dags/daily_sales/dagRuns"
    assert set(listed["query"]) == {"execution_date_gte", "execution_date_lte", "limit"}


async def test_a_lookup_airflow_refuses_is_a_trigger_error(trigger: AirflowTrigger, fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    fake.fail_next(500, path_contains="/dagRuns")
    with pytest.raises(TriggerError) as caught:
        await trigger.find_runs(config(url), window("2026-03-02"))
    assert "airflow lookup: HTTP 500" in caught.value.message


def ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


async def test_databricks_finds_the_job_runs_started_on_the_cycle_day(
        plugin_context: PluginContext, fake_databricks: tuple[FakeDatabricks, str], make_request: MakeRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = fake_databricks
    monkeypatch.setenv("DATABRICKS_TOKEN", FakeDatabricks.token)
    cfg = {"workspaceURL": url, "jobName": "nightly-sales", "headers": {"Authorization": "Bearer ${DATABRICKS_TOKEN}"}}
    trigger = DatabricksTrigger(plugin_context)
    try:
        assert isinstance(trigger, SchedulerRunLookup)
        fake.scheduled(101, ms("2026-03-01T23:50:00+00:00"), ms("2026-03-02T00:20:00+00:00"))  # the day before
        failed = fake.scheduled(101, ms("2026-03-02T06:00:00+00:00"), ms("2026-03-02T06:05:00+00:00"), "FAILED")
        for minute in range(26):  # more than one page of runs that day
            start = ms(f"2026-03-02T07:{minute:02d}:00+00:00")
            fake.scheduled(101, start, start + 30_000)
        running = fake.scheduled(101, ms("2026-03-02T22:00:00+00:00"))
        fake.scheduled(102, ms("2026-03-02T08:00:00+00:00"), ms("2026-03-02T08:01:00+00:00"))  # another job
        await trigger.launch(cfg, make_request(date="2026-03-02"))  # Interlock's own run: left out
        fake.runs[max(fake.runs)]["start_time"] = ms("2026-03-02T09:00:00+00:00")

        runs = await trigger.find_runs(cfg, window("2026-03-02"))
        assert len(runs) == 28 and runs[0].run_id == str(failed) and runs[-1].run_id == str(running)
        assert (runs[0].state, runs[0].failure_category) == ("failed", FailureCategory.TRANSIENT)
        assert runs[0].started_at == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
        assert runs[0].finished_at == datetime(2026, 3, 2, 6, 5, tzinfo=UTC)
        assert (runs[1].state, runs[-1].state, runs[-1].finished_at) == ("succeeded", "running", None)
        listed = fake.calls("GET", "/runs/list")
        assert len(listed) == 2 and listed[0]["query"]["job_id"] == "101"
        assert listed[0]["query"]["start_time_from"] == str(ms("2026-03-02T00:00:00+00:00"))
    finally:
        await trigger.close()
