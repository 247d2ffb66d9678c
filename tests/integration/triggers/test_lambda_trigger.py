"""The ``lambda`` trigger: the request side against moto in server mode (moto runs no function
without Docker: its simple backend answers an invocation with its payload, which shows what was
sent), the answer's classification against a local fake of the Invoke API, and the run's
lifecycle through the engine (sync: the outcome at launch; async: RUNNING until the callback)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
import yaml
from fake_lambda_api import Answer, FakeLambda, api_error, function_error
from launch_requests import launch_request
from serve_asgi import serving

from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory, RunStatus
from interlock_core.outbound import HostPolicy, untrusted_target
from interlock_core.plugins import PluginContext, load_plugins
from interlock_plugins.triggers.aws_lambda import LambdaTrigger, function_error_category
from tests.helpers.project import MemoryAlerts
from tests.moto_server import FAKE_ACCOUNT, MotoServer, fake_aws_environment

ROLE = f"arn:aws:iam::{FAKE_ACCOUNT}:role/interlock-lambda"
CALLBACK = "http://127.0.0.1:8080/api/runs/run-1-0001/complete"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    fake_aws_environment(monkeypatch, moto_server)
    moto_server.reset()
    moto_server.configure({"lambda": {"use_docker": False}})  # the simple backend: no function runs
    return moto_server


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeLambda, str]]:
    fake_aws_environment(monkeypatch)
    api = FakeLambda()
    async with serving(api.app()) as url:
        yield api, url


@pytest.fixture
async def trigger() -> AsyncIterator[LambdaTrigger]:
    made = LambdaTrigger(PluginContext(project_dir=Path.cwd()))
    yield made
    await made.close()


def create_function(moto: MotoServer, name: str = "nightly-export") -> None:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    session.client("iam", endpoint_url=moto.url).create_role(RoleName="interlock-lambda",
                                                             AssumeRolePolicyDocument=json.dumps(trust))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    session.client("lambda", endpoint_url=moto.url).create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": code.getvalue()})


def config(url: str, **options: Any) -> Any:
    return LambdaTrigger.config_model.model_validate({"endpointURL": url, "functionName": "nightly-export",
                                                      **options})


# ------------------------------------------------------------------------------ moto


async def test_sync_invocation_sends_the_templated_payload_and_succeeds(moto: MotoServer,
                                                                        trigger: LambdaTrigger) -> None:
    create_function(moto)
    cfg = config(moto.url, payload={"date": "${date}", "table": "orders", "attempt": "${attempt}",
                                    "callback": "${callbackURL}"}, storeResponse=True)
    request = launch_request(callback_url=CALLBACK)
    result = await trigger.launch(cfg, request)
    assert result.state == "succeeded" and result.message == "function returned"
    assert result.metadata["lambda_status_code"] == 200
    assert result.metadata["lambda_invocation_type"] == "RequestResponse"
    echoed = json.loads(result.metadata["responseExcerpt"])  # the simple backend answers with the payload
    assert echoed == {"date": "2026-03-02", "table": "orders", "attempt": "1", "callback": CALLBACK,
                      "interlock_run_id": request.run_id, "interlock_run_key": request.run_key,
                      "interlock_callback_url": CALLBACK}


async def test_async_invocation_is_accepted_and_waits_for_the_callback(moto: MotoServer,
                                                                      trigger: LambdaTrigger) -> None:
    create_function(moto)
    result = await trigger.launch(config(moto.url, invocationType="async"), launch_request())
    assert result.state == "running"
    assert (result.metadata["lambda_status_code"], result.metadata["lambda_invocation_type"]) == (202, "Event")
    assert "reports through the callback URL" in (result.message or "")
    assert not trigger.pollable
    assert (await trigger.poll(config(moto.url), result.metadata)).state == "running"


async def test_a_function_that_does_not_exist_is_permanent(moto: MotoServer, trigger: LambdaTrigger) -> None:
    moto.configure({"lambda": {"use_docker": True}})  # the full backend looks the function up first
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(moto.url, functionName="no-such-function"), launch_request())
    assert caught.value.category is FailureCategory.PERMANENT
    assert "lambda trigger: Invoke RequestResponse failed: ResourceNotFoundException" in caught.value.message


# ------------------------------------------------------------------------------ the Invoke API's answers


@pytest.mark.parametrize(("answer", "category", "said"), [
    (function_error("Unhandled", "Sandbox.Timedout", "Task timed out after 3.00 seconds"), FailureCategory.TIMEOUT,
     "function error (Unhandled): Sandbox.Timedout: Task timed out after 3.00 seconds"),
    (function_error("Unhandled", "", "2026-03-02 Task timed out after 900.00 seconds"), FailureCategory.TIMEOUT,
     "function error (Unhandled): 2026-03-02 Task timed out"),
    (function_error("Unhandled", "Runtime.ImportModuleError", "No module named 'pandas'"),
     FailureCategory.PERMANENT, "Runtime.ImportModuleError: No module named 'pandas'"),
    (function_error("Unhandled", "ValueError", "bad row 17"), FailureCategory.TRANSIENT,
     "function error (Unhandled): ValueError: bad row 17"),
    (function_error("Unhandled", "Runtime.OutOfMemory", "out of memory"), FailureCategory.TRANSIENT, "OutOfMemory"),
    (function_error("Handled", "Error", "upstream table empty"), FailureCategory.TRANSIENT,
     "function error (Handled): Error: upstream table empty"),
    (function_error("Handled", "PERMANENT", "the export bucket is gone"), FailureCategory.PERMANENT,
     "PERMANENT: the export bucket is gone"),
    (Answer(200, "not an error document", {"X-Amz-Function-Error": "Unhandled"}), FailureCategory.TRANSIENT,
     "function error (Unhandled)"),
])
async def test_a_function_error_fails_the_run_in_its_category(fake: tuple[FakeLambda, str], trigger: LambdaTrigger,
                                                              answer: Answer, category: FailureCategory,
                                                              said: str) -> None:
    api, url = fake
    api.answers.append(answer)
    result = await trigger.launch(config(url), launch_request())
    assert (result.state, result.failure_category) == ("failed", category)
    assert said in (result.message or ""), result.message
    assert result.metadata["lambda_function_error"] == answer.headers["X-Amz-Function-Error"]


@pytest.mark.parametrize(("answer", "category"), [
    (api_error(429, "TooManyRequestsException", "Rate exceeded"), FailureCategory.TRANSIENT),
    (api_error(500, "ServiceException", "internal"), FailureCategory.TRANSIENT),
    (api_error(502, "EC2ThrottledException", "ENI"), FailureCategory.TRANSIENT),
    (api_error(409, "ResourceConflictException", "The operation cannot be performed at this time"),
     FailureCategory.TRANSIENT),
    (api_error(413, "RequestTooLargeException", "too large"), FailureCategory.PERMANENT),
    (api_error(403, "AccessDeniedException", "no lambda:InvokeFunction"), FailureCategory.PERMANENT),
])
async def test_an_invoke_api_error_is_classified_and_not_retried_by_botocore(
        fake: tuple[FakeLambda, str], trigger: LambdaTrigger, answer: Answer, category: FailureCategory) -> None:
    api, url = fake
    api.answers.append(answer)
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url), launch_request())
    assert caught.value.category is category, caught.value.message
    assert answer.headers["X-Amzn-ErrorType"] in caught.value.message
    assert len(api.invocations) == 1  # maxAttempts 1: a second Invoke could run the function twice


async def test_the_request_names_the_function_qualifier_and_invocation_type(
        fake: tuple[FakeLambda, str], trigger: LambdaTrigger) -> None:
    api, url = fake
    request = launch_request(callback_url=CALLBACK)
    await trigger.launch(config(url, qualifier="live", invocationType="Event", payload=["${date}", 1]), request)
    await trigger.launch(config(url, payload="${runKey}"), request)
    await trigger.launch(config(url), request)
    event, text, default = api.invocations
    assert (event.function, event.qualifier, event.invocation_type) == ("nightly-export", "live", "Event")
    assert event.payload == ["2026-03-02", 1]  # not an object: sent as written
    assert (text.qualifier, text.invocation_type, text.payload) == (None, "RequestResponse", request.run_key)
    assert default.payload == {"pipelineId": "daily-sales", "scheduleId": "h07", "date": "2026-03-02",
                               "interlock_run_id": request.run_id, "interlock_run_key": request.run_key,
                               "interlock_callback_url": CALLBACK}


async def test_an_api_pipeline_reads_no_function_error_text(fake: tuple[FakeLambda, str]) -> None:
    api, url = fake
    api.answers.append(function_error("Unhandled", "ValueError", "internal-host-10.0.0.7 said no"))
    trigger = LambdaTrigger(PluginContext(project_dir=Path.cwd(), outbound=HostPolicy(allow=["127.0.0.1"])))
    with untrusted_target(True):  # an API pipeline, its endpoint allow-listed
        result = await trigger.launch(config(url), launch_request())
    await trigger.close()
    assert result.message == "lambda trigger: function error (Unhandled)"
    assert "internal-host" not in json.dumps(result.metadata)


async def test_a_payload_over_lambdas_limit_is_refused_before_the_call(fake: tuple[FakeLambda, str],
                                                                      trigger: LambdaTrigger) -> None:
    api, url = fake
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config(url, invocationType="Event", payload={"blob": "x" * (1024 * 1024)}),
                             launch_request())
    assert caught.value.category is FailureCategory.PERMANENT and "takes at most 1048576" in caught.value.message
    assert api.invocations == []


def test_config_is_validated_and_the_category_rule_is_pure() -> None:
    model = LambdaTrigger.config_model
    assert model.model_validate({"functionName": "f", "invocationType": "SYNC"}).invocation_type == "RequestResponse"
    assert model.model_validate({"functionName": "f"}).max_attempts == 1
    for bad in ({}, {"functionName": "f", "invocationType": "DryRun"}, {"functionName": "f", "colour": 1}):
        with pytest.raises(ValueError):
            model.model_validate(bad)
    assert function_error_category("timeout", "") is FailureCategory.TIMEOUT
    assert "lambda" in load_plugins().trigger_types.names()


# ------------------------------------------------------------------------------ through the engine


async def test_sync_and_async_runs_through_the_engine(fake: tuple[FakeLambda, str], tmp_path: Path) -> None:
    api, url = fake
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "interlock.yaml").write_text(yaml.safe_dump({"provider": "sqlite", "sqlite": {"path": "./i.db"},
                                                             "alerts": []}))
    for name, kind in (("export-sync", "RequestResponse"), ("export-async", "Event")):
        (tmp_path / "pipelines" / f"{name}.yaml").write_text(yaml.safe_dump({
            "name": name, "archetype": "batch-ingestion",
            "traits": {t: {"evaluator": "builtin:always-pass"}
                       for t in ("source-freshness", "upstream-dependency", "resource-availability")},
            "trigger": {"type": "lambda", "functionName": name, "invocationType": kind, "endpointURL": url,
                        "payload": {"date": "${date}", "callback": "${callbackURL}"}}}))
    project = load_project(tmp_path, env={})
    engine = build_engine(project, clock=FakeClock(), alerts=MemoryAlerts(), callback_base_url="http://gate:8080")
    await start_engine(engine, project)
    try:
        api.answers.append(function_error("Unhandled", "Sandbox.Timedout", "Task timed out after 60.00 seconds"))
        failed = (await engine.start_run("export-sync", date="2026-03-02")).run
        assert failed is not None and failed.status is RunStatus.FAILED
        assert failed.failure_category is FailureCategory.TIMEOUT
        ok = (await engine.start_run("export-async", date="2026-03-02")).run
        assert ok is not None and ok.status is RunStatus.RUNNING
        sent = api.invocations[-1].payload
        assert sent["callback"] == sent["interlock_callback_url"] == \
            f"http://gate:8080/api/runs/{ok.run_id}/complete"
        done = await engine.complete_run(ok.run_id, "success")
        assert done.status is RunStatus.COMPLETED
    finally:
        await engine.aclose()
