"""The ``databricks`` trigger against a fake Databricks Jobs API 2.1 served on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pydantic
import pytest
from fake_databricks_api import FakeDatabricks
from launch_requests import TRACE_CONTEXT, TRACEPARENT, MakeRequest
from serve_asgi import closed_port

from interlock_core.errors import LaunchOutcomeUnknown, TriggerError
from interlock_core.model import FailureCategory
from interlock_core.plugins import PluginContext
from interlock_plugins.triggers.databricks import DatabricksConfig, DatabricksTrigger, idempotency_token

Peer = tuple[FakeDatabricks, str]
RUN_KEY = "daily-sales:h07:2026-03-02:1"


@pytest.fixture
async def trigger(plugin_context: PluginContext) -> AsyncIterator[DatabricksTrigger]:
    instance = DatabricksTrigger(plugin_context)
    yield instance
    await instance.close()


@pytest.fixture(autouse=True)
def token_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", FakeDatabricks.token)


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {"workspaceURL": url, "headers": {"Authorization": "Bearer ${DATABRICKS_TOKEN}"}, **extra}


async def test_run_now_by_job_id(trigger: DatabricksTrigger, fake_databricks: Peer,
                                 make_request: MakeRequest) -> None:
    fake, url = fake_databricks
    cfg = config(url, jobID=101, notebookParams={"date": "${date}", "hour": "${hour}"})
    result = await trigger.launch(cfg, make_request())

    assert result.state == "running"
    assert result.metadata == {"databricks_workspace_url": url, "databricks_run_id": "5001",
                               "databricks_job_id": "101"}
    assert FakeDatabricks.token not in json.dumps(result.metadata)
    posted = fake.calls("POST", "/run-now")[0]
    assert posted["body"] == {"job_id": 101, "idempotency_token": RUN_KEY,
                              "notebook_params": {"date": "2026-03-02", "hour": "07", "interlock_run_id": "run-1-0001"}}
    assert fake.calls("GET", "/runs/get")[0]["query"] == {"run_id": "5001"}  # read back: is it ours?


async def test_job_name_is_resolved_and_job_parameters_sent(trigger: DatabricksTrigger, fake_databricks: Peer,
                                                            make_request: MakeRequest) -> None:
    fake, url = fake_databricks
    cfg = {"workspaceUrl": url + "/", "jobName": "hourly-clicks", "token": "${DATABRICKS_TOKEN}",
           "parameters": {"run_date": "${date}"}}
    result = await trigger.launch(cfg, make_request())
    assert result.metadata["databricks_job_id"] == "102"
    assert fake.calls("GET", "/jobs/list")[0]["query"] == {"name": "hourly-clicks"}
    assert fake.calls("POST", "/run-now")[0]["body"]["job_parameters"] == {"run_date": "2026-03-02",
                                                                           "interlock_run_id": "run-1-0001"}
    assert "notebook_params" not in fake.calls("POST", "/run-now")[0]["body"]


async def test_the_launch_trace_context_goes_with_notebook_params_and_only_defined_job_parameters(
        trigger: DatabricksTrigger, fake_databricks: Peer, make_request: MakeRequest) -> None:
    fake, url = fake_databricks
    await trigger.launch(config(url, jobID=101, notebookParams={"date": "${date}"}),
                         make_request(trace_context=TRACE_CONTEXT))
    await trigger.launch(config(url, jobID=101, parameters={"date": "${date}"}),
                         make_request(attempt=2, trace_context=TRACE_CONTEXT))
    await trigger.launch(config(url, jobID=101, parameters={"date": "${date}", "traceparent": ""}),
                         make_request(attempt=3, trace_context=TRACE_CONTEXT))
    notebook, undefined, defined = (call["body"] for call in fake.calls("POST", "/run-now"))
    assert notebook["notebook_params"] == {"date": "2026-03-02", "traceparent": TRACEPARENT,
                                           "tracestate": "vendor=1", "interlock_run_id": "run-1-0001"}
    # Databricks refuses a job parameter the job does not define: only those it defines are filled
    assert undefined["job_parameters"] == {"date": "2026-03-02", "interlock_run_id": "run-2-0001"}
    assert defined["job_parameters"] == {"date": "2026-03-02", "traceparent": TRACEPARENT,
                                         "interlock_run_id": "run-3-0001"}


async def test_unknown_or_ambiguous_job_name_is_permanent(trigger: DatabricksTrigger, fake_databricks: Peer,
                                                          make_request: MakeRequest) -> None:
    fake, url = fake_databricks
    with pytest.raises(TriggerError) as unknown:
        await trigger.launch(config(url, jobName="no-such-job"), make_request())
    assert unknown.value.category is FailureCategory.PERMANENT
    fake.jobs[103] = "hourly-clicks"
    with pytest.raises(TriggerError) as ambiguous:
        await trigger.launch(config(url, jobName="hourly-clicks"), make_request())
    assert ambiguous.value.category is FailureCategory.PERMANENT
    assert fake.calls("POST", "/run-now") == []


async def test_relaunch_returns_the_run_already_started(trigger: DatabricksTrigger, fake_databricks: Peer,
                                                        make_request: MakeRequest) -> None:
    fake, url = fake_databricks
    first = await trigger.launch(config(url, jobID=101), make_request())
    again = await trigger.launch(config(url, jobID=101), make_request())
    assert again.metadata["databricks_run_id"] == first.metadata["databricks_run_id"]
    assert len(fake.runs) == 1
    retry = await trigger.launch(config(url, jobID=101), make_request(attempt=2))
    assert retry.metadata["databricks_run_id"] != first.metadata["databricks_run_id"]


@pytest.mark.parametrize("family", [{}, {"parameters": {}}, {"parameters": {"run_date": "${date}"}}])
async def test_a_run_another_run_started_under_the_token_is_never_adopted(
    trigger: DatabricksTrigger, fake_databricks: Peer, make_request: MakeRequest, family: dict[str, Any]
) -> None:
    """run-now answers a token it knows with that run, exactly as a new one: only a run carrying
    this run's id in its parameters is kept, whichever parameter family the job uses."""
    fake, url = fake_databricks
    first = await trigger.launch(config(url, jobID=101, **family), make_request(run_id="run-a"))
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url, jobID=101, **family), make_request(run_id="run-b"))
    error = caught.value
    assert error.category is FailureCategory.PERMANENT
    assert (f"launch key {RUN_KEY} is taken by a job Interlock did not start for run run-b "
            f"(run {first.metadata['databricks_run_id']} of job 101 carries interlock_run_id 'run-a')") in error.message
    again = await trigger.launch(config(url, jobID=101, **family), make_request(run_id="run-a", relaunch=1))
    assert again.metadata["databricks_run_id"] == first.metadata["databricks_run_id"] and len(fake.runs) == 1


async def test_a_run_without_an_interlock_run_id_is_not_ours(trigger: DatabricksTrigger, fake_databricks: Peer,
                                                           make_request: MakeRequest) -> None:
    fake, url = fake_databricks
    fake.tokens[RUN_KEY] = 4999  # someone else's run-now with this token, without our parameter
    fake.runs[4999] = {"job_id": 101, "run_id": 4999, "state": {"life_cycle_state": "RUNNING"},
                       "overriding_parameters": {"notebook_params": {"date": "2026-03-02"}}}
    with pytest.raises(TriggerError, match=r"taken by a job Interlock did not start .* carries no interlock_run_id"):
        await trigger.launch(config(url, jobID=101), make_request())
    assert len(fake.runs) == 1


async def test_a_run_that_cannot_be_read_back_leaves_the_launch_outcome_unknown(
    trigger: DatabricksTrigger, fake_databricks: Peer, make_request: MakeRequest
) -> None:
    fake, url = fake_databricks
    fake.fail_next(503, "TEMPORARILY_UNAVAILABLE", path_contains="/runs/get")
    with pytest.raises(LaunchOutcomeUnknown, match="could not check whether run 5001 of job 101"):
        await trigger.launch(config(url, jobID=101), make_request())
    adopted = await trigger.launch(config(url, jobID=101), make_request(relaunch=1))  # once its lease lapsed
    assert adopted.metadata["databricks_run_id"] == "5001" and len(fake.runs) == 1


async def test_long_run_keys_are_hashed_to_a_valid_token(trigger: DatabricksTrigger, fake_databricks: Peer,
                                                         make_request: MakeRequest) -> None:
    fake, url = fake_databricks
    long_key = "a-very-long-pipeline-name-" * 4 + ":h07:2026-03-02:1"
    token = idempotency_token(long_key)
    assert len(token) <= 64 and token == idempotency_token(long_key) != idempotency_token(long_key + "x")
    await trigger.launch(config(url, jobID=101), make_request(run_key=long_key))
    await trigger.launch(config(url, jobID=101), make_request(run_key=long_key))
    assert fake.calls("POST", "/run-now")[0]["body"]["idempotency_token"] == token
    assert len(fake.runs) == 1


@pytest.mark.parametrize(
    ("life_cycle", "result_state", "state", "category"),
    [
        ("PENDING", None, "running", None),
        ("RUNNING", None, "running", None),
        ("TERMINATING", None, "running", None),
        ("TERMINATED", "SUCCESS", "succeeded", None),
        ("TERMINATED", "FAILED", "failed", FailureCategory.TRANSIENT),
        ("TERMINATED", "TIMEDOUT", "failed", FailureCategory.TIMEOUT),
        ("TERMINATED", "CANCELED", "failed", FailureCategory.PERMANENT),
        ("INTERNAL_ERROR", "FAILED", "failed", FailureCategory.TRANSIENT),
        ("SKIPPED", None, "failed", FailureCategory.TRANSIENT),
    ],
)
async def test_poll_maps_run_states(trigger: DatabricksTrigger, fake_databricks: Peer,
                                    make_request: MakeRequest, life_cycle: str, result_state: str | None,
                                    state: str, category: FailureCategory | None) -> None:
    fake, url = fake_databricks
    cfg = config(url, jobName="nightly-${pipelineID}", notebookParams={"date": "${date}"})
    fake.jobs[104] = "nightly-daily-sales"
    launched = await trigger.launch(cfg, make_request())
    fake.set_state(launched.metadata["databricks_run_id"], life_cycle, result_state)
    polled = await trigger.poll(cfg, launched.metadata)  # run variables are unknown here
    assert polled.state == state
    assert polled.message == (f"{life_cycle}/{result_state}" if result_state else life_cycle)
    assert polled.failure_category == category
    assert fake.calls("GET", "/runs/get")[0]["query"] == {"run_id": launched.metadata["databricks_run_id"]}


async def test_poll_without_metadata_or_of_a_lost_run(trigger: DatabricksTrigger,
                                                      fake_databricks: Peer) -> None:
    _, url = fake_databricks
    missing = await trigger.poll(config(url, jobID=101), {})
    assert (missing.state, missing.message) == ("running", "missing databricks metadata")
    with pytest.raises(TriggerError) as caught:
        await trigger.poll(config(url, jobID=101), {"databricks_run_id": "999999"})
    assert caught.value.category is FailureCategory.PERMANENT


@pytest.mark.parametrize(
    ("status", "code", "category"),
    [
        (400, "INVALID_PARAMETER_VALUE", FailureCategory.PERMANENT),
        (404, "RESOURCE_DOES_NOT_EXIST", FailureCategory.PERMANENT),
        (429, "REQUEST_LIMIT_EXCEEDED", FailureCategory.TRANSIENT),
        (500, "INTERNAL_ERROR", FailureCategory.TRANSIENT),
        (503, "TEMPORARILY_UNAVAILABLE", FailureCategory.TRANSIENT),
        (400, "TEMPORARILY_UNAVAILABLE", FailureCategory.TRANSIENT),  # the error code, not the status
        (502, "SOMETHING_NEW", FailureCategory.TRANSIENT),
        (409, "SOMETHING_NEW", FailureCategory.PERMANENT),
    ],
)
async def test_errors_are_classified_from_the_error_code(
    trigger: DatabricksTrigger, fake_databricks: Peer, make_request: MakeRequest, status: int, code: str,
    category: FailureCategory,
) -> None:
    fake, url = fake_databricks
    fake.fail_next(status, code)
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url, jobID=101), make_request())
    assert (caught.value.category, caught.value.upstream_status) == (category, status)
    assert code in caught.value.message


async def test_rejected_token_and_unknown_job_are_permanent(trigger: DatabricksTrigger, fake_databricks: Peer,
                                                            make_request: MakeRequest,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, url = fake_databricks
    with pytest.raises(TriggerError) as unknown:
        await trigger.launch(config(url, jobID=999), make_request())
    assert unknown.value.category is FailureCategory.PERMANENT
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong")
    with pytest.raises(TriggerError) as denied:
        await trigger.launch(config(url, jobID=101), make_request())
    assert (denied.value.category, denied.value.upstream_status) == (FailureCategory.PERMANENT, 403)


async def test_network_failure_and_timeout(trigger: DatabricksTrigger, fake_databricks: Peer,
                                           make_request: MakeRequest) -> None:
    fake, url = fake_databricks
    with pytest.raises(TriggerError) as refused:
        await trigger.launch(config(f"http://127.0.0.1:{closed_port()}", jobID=101), make_request())
    assert refused.value.category is FailureCategory.TRANSIENT
    fake.hang_next()
    with pytest.raises(TriggerError) as slow:
        await trigger.launch(config(url, jobID=101, timeout=0.3), make_request())
    assert slow.value.category is FailureCategory.TIMEOUT


def test_config_model() -> None:
    ws = "https://ws"
    by_id = DatabricksConfig.model_validate({"workspaceURL": ws, "jobId": "42", "pollInterval": "30s"})
    assert (by_id.workspace_url, by_id.job_id) == (ws, "42")
    assert DatabricksConfig.model_validate({"workspaceUrl": ws, "jobID": 7}).job_id == 7
    assert DatabricksConfig.model_validate({"workspaceURL": ws, "jobID": "${JOB}"}).job_id == "${JOB}"
    for bad in ({"jobName": "j"}, {"workspaceURL": ws},
                {"workspaceURL": ws, "jobName": "j", "jobID": 1},
                {"workspaceURL": ws, "jobID": "abc"},
                {"workspaceURL": ws, "jobName": "j", "parameters": {"a": "1"}, "notebookParams": {"b": "2"}},
                {"workspaceURL": ws, "jobName": "j", "parameters": {}, "notebookParams": {"b": "2"}},
                {"workspaceURL": ws, "jobName": "j", "cluster": "c"}):
        with pytest.raises(pydantic.ValidationError):
            DatabricksConfig.model_validate(bad)
    assert DatabricksTrigger.pollable and DatabricksTrigger.api_registrable
