"""The ``airflow`` trigger against a fake Airflow 3 (REST API v2) served on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pydantic
import pytest
from fake_airflow_api import FakeAirflow
from launch_requests import TRACE_CONTEXT, TRACEPARENT, MakeRequest
from serve_asgi import closed_port

from interlock_core.clock import FakeClock
from interlock_core.errors import LaunchOutcomeUnknown, TriggerError
from interlock_core.model import FailureCategory
from interlock_core.plugins import PluginContext
from interlock_plugins.triggers._airflow_auth import renewal_margin
from interlock_plugins.triggers.airflow import AirflowConfig, AirflowTrigger, dag_run_id

Peer = tuple[FakeAirflow, str]
RUN_ID = "interlock__daily-sales:h07:2026-03-02:1"


@pytest.fixture
async def trigger(plugin_context: PluginContext) -> AsyncIterator[AirflowTrigger]:
    instance = AirflowTrigger(plugin_context)
    yield instance
    await instance.close()


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {"url": url, "dagID": "daily_sales", "username": "admin", "password": "admin", **extra}


async def test_launch_creates_a_dag_run_with_a_deterministic_id(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest
) -> None:
    fake, url = fake_airflow
    cfg = config(url + "/", conf={"date": "${date}", "hour": "${hour}"})
    result = await trigger.launch(cfg, make_request())

    assert result.state == "running"
    assert result.metadata == {"airflow_dag_run_id": RUN_ID, "airflow_dag_id": "daily_sales",
                               "airflow_url": url, "airflow_api_version": "v2"}
    posted = fake.calls("POST", "/dagRuns")[0]
    assert posted["path"] == "/api/v2/dags/daily_sales/dagRuns"
    assert posted["body"] == {"dag_run_id": RUN_ID, "logical_date": None,
                              "conf": {"date": "2026-03-02", "hour": "07", "interlock_run_id": "run-1-0001"}}
    assert fake.runs[("daily_sales", RUN_ID)]["state"] == "queued"
    assert "admin" not in json.dumps(result.metadata)


async def test_the_dag_run_conf_carries_the_launch_trace_context(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest
) -> None:
    fake, url = fake_airflow
    await trigger.launch(config(url, conf={"date": "${date}"}), make_request(trace_context=TRACE_CONTEXT))
    assert fake.calls("POST", "/dagRuns")[0]["body"]["conf"] == {
        "date": "2026-03-02", "traceparent": TRACEPARENT, "tracestate": "vendor=1",
        "interlock_run_id": "run-1-0001"}


async def test_poll_follows_the_dag_run_state(trigger: AirflowTrigger, fake_airflow: Peer,
                                              make_request: MakeRequest) -> None:
    fake, url = fake_airflow
    cfg = config(url, conf={"date": "${date}", "run": "${runId}"})  # run variables: known at launch only
    launched = await trigger.launch(cfg, make_request())

    polled = await trigger.poll(cfg, launched.metadata)
    assert (polled.state, polled.message) == ("running", "queued")
    fake.set_state("daily_sales", RUN_ID, "running")
    assert (await trigger.poll(cfg, launched.metadata)).message == "running"
    fake.set_state("daily_sales", RUN_ID, "success")
    assert (await trigger.poll(cfg, launched.metadata)).state == "succeeded"
    fake.set_state("daily_sales", RUN_ID, "failed")
    failed = await trigger.poll(cfg, launched.metadata)
    assert (failed.state, failed.message, failed.failure_category) == ("failed", "failed",
                                                                        FailureCategory.TRANSIENT)
    get = fake.calls("GET", "/dagRuns/")[0]
    assert get["path"] == f"/api/v2/dags/daily_sales/dagRuns/{RUN_ID}"


async def test_relaunch_after_a_crash_finds_the_existing_dag_run(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest
) -> None:
    fake, url = fake_airflow
    first = await trigger.launch(config(url), make_request())
    again = await trigger.launch(config(url), make_request())  # 409 from Airflow

    assert again.state == "running" and again.metadata["airflow_relaunch"] is True
    assert again.metadata["airflow_dag_run_id"] == first.metadata["airflow_dag_run_id"] == RUN_ID
    assert len(fake.runs) == 1
    assert [c["path"] for c in fake.calls("GET", "/dagRuns/")] == [f"/api/v2/dags/daily_sales/dagRuns/{RUN_ID}"]
    retry = await trigger.launch(config(url), make_request(attempt=2))
    assert retry.metadata["airflow_dag_run_id"] == "interlock__daily-sales:h07:2026-03-02:2"
    assert len(fake.runs) == 2


@pytest.mark.parametrize(("airflow_state", "state"), [("success", "succeeded"), ("failed", "failed"),
                                                      ("running", "running")])
async def test_a_relaunch_adopts_the_dag_run_in_the_state_it_is_in(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest, airflow_state: str, state: str
) -> None:
    fake, url = fake_airflow
    await trigger.launch(config(url), make_request())
    fake.set_state("daily_sales", RUN_ID, airflow_state)
    adopted = await trigger.launch(config(url), make_request())  # the same run key: 409, then read back
    assert (adopted.state, adopted.metadata["airflow_dag_run_id"]) == (state, RUN_ID)
    assert "already exists and carries this run's id; adopted" in (adopted.message or "") and len(fake.runs) == 1


@pytest.mark.parametrize("conf", [{"interlock_run_id": "run-of-another-store"}, {}, None])
async def test_a_dag_run_under_the_id_that_this_run_did_not_start_is_never_adopted(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest, conf: dict[str, str] | None
) -> None:
    """A fresh store, a second deployment or a re-created pipeline sends an id Airflow already has:
    the 409 is no proof, the DAG run's conf must carry this run's id."""
    fake, url = fake_airflow
    fake.runs[("daily_sales", RUN_ID)] = {"dag_run_id": RUN_ID, "dag_id": "daily_sales", "state": "success",
                                          "conf": conf}
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url), make_request())
    error = caught.value
    assert error.category is FailureCategory.PERMANENT
    assert f"launch key {RUN_ID} is taken by a job Interlock did not start for run run-1-0001" in error.message
    assert "not adopted" in error.message
    assert len(fake.runs) == 1 and fake.runs[("daily_sales", RUN_ID)]["conf"] == conf


async def test_a_relaunch_of_another_run_under_the_same_key_is_refused_and_its_own_is_adopted(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest
) -> None:
    fake, url = fake_airflow
    await trigger.launch(config(url), make_request(run_id="run-a"))
    with pytest.raises(TriggerError, match="taken by a job Interlock did not start for run run-b"):
        await trigger.launch(config(url), make_request(run_id="run-b", relaunch=1))
    adopted = await trigger.launch(config(url), make_request(run_id="run-a", relaunch=1))
    assert adopted.state == "running" and adopted.metadata["airflow_dag_run_id"] == RUN_ID
    assert len(fake.runs) == 1


async def test_a_dag_run_that_cannot_be_read_after_a_409_leaves_the_launch_outcome_unknown(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest
) -> None:
    fake, url = fake_airflow
    await trigger.launch(config(url), make_request())
    fake.fail_next(503, path_contains=f"/dagRuns/{RUN_ID}")
    with pytest.raises(LaunchOutcomeUnknown) as caught:
        await trigger.launch(config(url), make_request(relaunch=1))
    assert f"could not check whether DAG run {RUN_ID} of DAG daily_sales" in caught.value.message
    assert len(fake.runs) == 1


def test_dag_run_ids_use_only_what_airflow_accepts() -> None:
    assert dag_run_id("p:daily:2026-03-02:1") == "interlock__p:daily:2026-03-02:1"
    odd = dag_run_id("p/with spaces:daily:2026-03-02:1")
    assert re.fullmatch(r"[A-Za-z0-9_.~:+-]+", odd)
    assert odd == dag_run_id("p/with spaces:daily:2026-03-02:1")
    assert odd != dag_run_id("p_with_spaces:daily:2026-03-02:1")  # sanitising never merges two keys
    long = dag_run_id("x" * 400)
    assert len(long) <= 250 and long != dag_run_id("x" * 401)


async def test_jwt_is_reused_until_it_expires(trigger: AirflowTrigger, fake_airflow: Peer, clock: FakeClock,
                                              make_request: MakeRequest) -> None:
    fake, url = fake_airflow
    launched = await trigger.launch(config(url), make_request())
    await trigger.poll(config(url), launched.metadata)
    assert len(fake.calls("POST", "/auth/token")) == 1
    assert fake.calls("GET", "/dagRuns/")[0]["headers"]["authorization"].startswith("Bearer ey")

    clock.advance(fake.token_ttl)  # the token the trigger holds has expired
    await trigger.poll(config(url), launched.metadata)
    assert len(fake.calls("POST", "/auth/token")) == 2


async def test_a_token_that_lives_30_s_or_less_is_reused_for_half_its_life(
    trigger: AirflowTrigger, fake_airflow: Peer, clock: FakeClock, make_request: MakeRequest
) -> None:
    fake, url = fake_airflow
    fake.token_ttl = 20.0  # shorter than the 30 s renewal margin: it must not be replaced before every call
    launched = await trigger.launch(config(url), make_request())
    for _ in range(9):
        clock.advance(1)
        await trigger.poll(config(url), launched.metadata)
    assert len(fake.calls("POST", "/auth/token")) == 1  # ten calls in 9 s, one token
    clock.advance(1)  # 10 s after it arrived: min(30 s, 20 s / 2) before its expiry
    await trigger.poll(config(url), launched.metadata)
    assert len(fake.calls("POST", "/auth/token")) == 2
    for _ in range(9):
        clock.advance(1)
        await trigger.poll(config(url), launched.metadata)
    assert len(fake.calls("POST", "/auth/token")) == 2


@pytest.mark.parametrize(("lifetime", "margin"), [(3600, 30), (60, 30), (30, 15), (20, 10), (1, 0.5), (0, 0)])
def test_the_renewal_margin_is_30_s_or_half_the_lifetime(lifetime: float, margin: float) -> None:
    assert renewal_margin(lifetime) == margin


async def test_a_refused_token_is_replaced_once(trigger: AirflowTrigger, fake_airflow: Peer,
                                               make_request: MakeRequest) -> None:
    fake, url = fake_airflow
    launched = await trigger.launch(config(url), make_request())
    fake.revoke_tokens()
    polled = await trigger.poll(config(url), launched.metadata)
    assert polled.message == "queued"
    assert len(fake.calls("POST", "/auth/token")) == 2


async def test_the_fake_answers_like_airflow_3_for_missing_and_bad_tokens(fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    endpoint = f"{url}/api/v2/dags/daily_sales/dagRuns"
    body = {"logical_date": None}
    async with httpx.AsyncClient() as client:
        missing = await client.post(endpoint, json=body)
        bad = await client.post(endpoint, json=body, headers={"Authorization": "Bearer not-a-jwt"})
        token = fake.issue_token()
        fake.revoke_tokens()
        stale = await client.post(endpoint, json=body, headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 401
    assert (bad.status_code, bad.json()) == (403, {"detail": "Invalid JWT token"})
    assert (stale.status_code, stale.json()) == (403, {"detail": "Invalid JWT token"})


async def test_a_launch_after_airflow_stopped_accepting_the_cached_token_renews_it(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest
) -> None:
    fake, url = fake_airflow
    await trigger.launch(config(url), make_request())
    fake.revoke_tokens()  # Airflow restarted with a new jwt_secret: 403 "Invalid JWT token"
    launched = await trigger.launch(config(url), make_request(attempt=2))
    assert launched.state == "running"
    assert len(fake.calls("POST", "/auth/token")) == 2
    assert len(fake.runs) == 2


async def test_a_fresh_token_that_is_still_refused_is_renewed_only_once(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest
) -> None:
    fake, url = fake_airflow
    await trigger.launch(config(url), make_request())  # a token is cached
    fake.fail_next(403, {"detail": "Forbidden"}, times=2)
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url), make_request(attempt=2))
    assert (caught.value.category, caught.value.upstream_status) == (FailureCategory.PERMANENT, 403)
    assert len(fake.calls("POST", "/auth/token")) == 2
    assert len(fake.calls("POST", "/dagRuns")) == 3


async def test_a_rejected_static_token_says_so_and_recommends_username_and_password(
    trigger: AirflowTrigger, fake_airflow: Peer, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = fake_airflow
    monkeypatch.setenv("AIRFLOW_TOKEN", fake.issue_token())
    cfg = {"url": url, "dagID": "daily_sales", "headers": {"Authorization": "Bearer ${AIRFLOW_TOKEN}"}}
    launched = await trigger.launch(cfg, make_request())
    fake.revoke_tokens()
    for attempt in (trigger.launch(cfg, make_request(attempt=2)), trigger.poll(cfg, launched.metadata)):
        with pytest.raises(TriggerError) as caught:
            await attempt
        assert caught.value.category is FailureCategory.PERMANENT
        assert caught.value.upstream_status == 403
        assert "rejected the configured Authorization header" in caught.value.message
        assert "Invalid JWT token" in caught.value.message
        assert "'username' and 'password'" in caught.value.message
    assert fake.calls("POST", "/auth/token") == []


async def test_a_failed_dag_run_names_its_failed_task(trigger: AirflowTrigger, fake_airflow: Peer,
                                                      make_request: MakeRequest) -> None:
    fake, url = fake_airflow
    launched = await trigger.launch(config(url), make_request())
    fake.set_task_state("daily_sales", RUN_ID, "extract", "success")
    fake.set_task_state("daily_sales", RUN_ID, "transform", "failed")
    fake.set_task_state("daily_sales", RUN_ID, "load", "upstream_failed")
    fake.set_state("daily_sales", RUN_ID, "failed")
    failed = await trigger.poll(config(url), launched.metadata)
    assert (failed.state, failed.message) == ("failed", "failed: task transform failed")
    assert fake.calls("GET", "/taskInstances")[0]["path"] == \
        f"/api/v2/dags/daily_sales/dagRuns/{RUN_ID}/taskInstances"
    fake.fail_next(500, path_contains="/taskInstances")  # the run failed either way
    assert (await trigger.poll(config(url), launched.metadata)).message == "failed"


async def test_wrong_credentials_are_permanent(trigger: AirflowTrigger, fake_airflow: Peer,
                                               make_request: MakeRequest) -> None:
    _, url = fake_airflow
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url, password="wrong"), make_request())
    assert caught.value.category is FailureCategory.PERMANENT
    assert caught.value.upstream_status == 401


async def test_bearer_header_from_the_environment(trigger: AirflowTrigger, fake_airflow: Peer,
                                                  make_request: MakeRequest,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = fake_airflow
    token = fake.issue_token()
    monkeypatch.setenv("AIRFLOW_TOKEN", token)
    cfg = {"url": url, "dagID": "daily_sales", "headers": {"Authorization": "Bearer ${AIRFLOW_TOKEN}"},
           "body": '{"source": "${pipelineID}"}'}
    result = await trigger.launch(cfg, make_request())
    assert fake.runs[("daily_sales", RUN_ID)]["conf"] == {"source": "daily-sales", "interlock_run_id": "run-1-0001"}
    assert token not in json.dumps(result.metadata)
    assert fake.calls("POST", "/auth/token") == []
    monkeypatch.setenv("AIRFLOW_TOKEN", "not-a-token")
    with pytest.raises(TriggerError) as caught:
        await trigger.poll(cfg, result.metadata)
    assert caught.value.category is FailureCategory.PERMANENT


async def test_api_v1_uses_basic_auth_and_no_logical_date(trigger: AirflowTrigger, fake_airflow: Peer,
                                                          make_request: MakeRequest) -> None:
    fake, url = fake_airflow
    cfg = config(url, apiVersion="v1")
    launched = await trigger.launch(cfg, make_request())
    posted = fake.calls("POST", "/dagRuns")[0]
    assert posted["path"] == "/api/v1/dags/daily_sales/dagRuns"
    assert posted["body"] == {"dag_run_id": RUN_ID, "conf": {"interlock_run_id": "run-1-0001"}}
    assert posted["headers"]["authorization"].startswith("Basic ")
    fake.set_state("daily_sales", RUN_ID, "success")
    assert (await trigger.poll(cfg, launched.metadata)).state == "succeeded"


async def test_the_fake_insists_on_logical_date_in_v2(fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    headers = {"Authorization": f"Bearer {fake.issue_token()}"}
    endpoint = f"{url}/api/v2/dags/daily_sales/dagRuns"
    async with httpx.AsyncClient() as client:
        missing = await client.post(endpoint, json={"conf": {}}, headers=headers)
        extra = await client.post(endpoint, json={"logical_date": None, "execution_date": None},
                                  headers=headers)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "logical_date"]
    assert extra.status_code == 422


@pytest.mark.parametrize(
    ("status", "category"),
    [(400, FailureCategory.PERMANENT), (403, FailureCategory.PERMANENT), (422, FailureCategory.PERMANENT),
     (429, FailureCategory.TRANSIENT), (500, FailureCategory.TRANSIENT), (503, FailureCategory.TRANSIENT)],
)
async def test_error_statuses_are_classified(trigger: AirflowTrigger, fake_airflow: Peer,
                                             make_request: MakeRequest, status: int,
                                             category: FailureCategory) -> None:
    fake, url = fake_airflow
    fake.fail_next(status)
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url), make_request())
    assert (caught.value.category, caught.value.upstream_status) == (category, status)


async def test_unknown_dag_is_permanent(trigger: AirflowTrigger, fake_airflow: Peer,
                                        make_request: MakeRequest) -> None:
    _, url = fake_airflow
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url, dagID="no_such_dag"), make_request())
    assert (caught.value.category, caught.value.upstream_status) == (FailureCategory.PERMANENT, 404)


async def test_network_failure_and_timeout(trigger: AirflowTrigger, fake_airflow: Peer,
                                           make_request: MakeRequest) -> None:
    fake, url = fake_airflow
    with pytest.raises(TriggerError) as refused:
        await trigger.launch(config(f"http://127.0.0.1:{closed_port()}"), make_request())
    assert refused.value.category is FailureCategory.TRANSIENT
    fake.hang_next()
    with pytest.raises(TriggerError) as slow:
        await trigger.launch(config(url, timeout=0.3), make_request())
    assert slow.value.category is FailureCategory.TIMEOUT


async def test_invalid_body_is_permanent(trigger: AirflowTrigger, fake_airflow: Peer,
                                         make_request: MakeRequest) -> None:
    _, url = fake_airflow
    for body in ("{not json", "[1, 2]"):
        with pytest.raises(TriggerError) as caught:
            await trigger.launch(config(url, body=body), make_request())
        assert caught.value.category is FailureCategory.PERMANENT


async def test_poll_without_metadata_or_of_a_lost_run(trigger: AirflowTrigger, fake_airflow: Peer) -> None:
    _, url = fake_airflow
    missing = await trigger.poll(config(url), {})
    assert (missing.state, missing.message) == ("running", "missing airflow metadata")
    with pytest.raises(TriggerError) as caught:
        await trigger.poll(config(url), {"airflow_dag_run_id": "gone", "airflow_dag_id": "daily_sales"})
    assert (caught.value.category, caught.value.upstream_status) == (FailureCategory.PERMANENT, 404)


def test_config_model() -> None:
    cfg = AirflowConfig.model_validate({"url": "http://af:8080", "dagID": "d", "timeout": 30,
                                        "pollInterval": "10s", "headers": {"Authorization": "Basic x"}})
    assert (cfg.dag_id, cfg.api_version) == ("d", "v2")
    for bad in ({"url": "http://af"}, {"dagID": "d"}, {"url": "u", "dagID": "d", "dagId": "d"},
                {"url": "u", "dagID": "d", "apiVersion": "v3"}, {"url": "u", "dagID": "d", "username": "a"},
                {"url": "u", "dagID": "d", "body": "{}", "conf": {}}):
        with pytest.raises(pydantic.ValidationError):
            AirflowConfig.model_validate(bad)
    assert AirflowTrigger.pollable and AirflowTrigger.api_registrable
