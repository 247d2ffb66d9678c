"""The AWS trigger types against moto in server mode: launch, metadata, polling, error categories.

In moto, Glue and EMR Serverless runs finish at once, EMR steps stay RUNNING and Step Functions
executions stay RUNNING unless its interpreter is switched on.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pydantic
import pytest

from interlock_core.engine.shadow import cycle_window
from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory, PipelineConfig
from interlock_core.plugins import PluginContext, load_plugins
from interlock_core.ports import LaunchRequest
from interlock_core.templating import run_variables
from interlock_plugins.triggers.aws import (
    EMRServerlessTrigger,
    EMRTrigger,
    GlueTrigger,
    StepFunctionTrigger,
)
from interlock_plugins.triggers.aws_base import AWSTrigger, idempotency_name
from interlock_plugins.triggers.aws_emr_serverless import CLIENT_TOKEN_LIMIT

try:
    from tests.moto_server import FAKE_ACCOUNT, MotoServer, fake_aws_environment
except ImportError:  # the project root is not on sys.path unless pytest's `pythonpath` says so
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from tests.moto_server import FAKE_ACCOUNT, MotoServer, fake_aws_environment

REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{FAKE_ACCOUNT}:role/interlock-test"
DATE = "2026-03-14"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    fake_aws_environment(monkeypatch, moto_server)
    moto_server.reset()
    # moto's configuration is process-wide: another suite may have left the ASL interpreter on
    moto_server.configure({"stepfunctions": {"execute_state_machine": False}})
    return moto_server


@functools.cache
def _boto3_client(url: str, service: str) -> Any:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return session.client(service, endpoint_url=url)


def aws(moto: MotoServer, service: str) -> Any:
    """A plain boto3 client for arranging and checking moto's state."""
    return _boto3_client(moto.url, service)


def make_request(pipeline: str = "daily-sales", schedule: str = "h07", attempt: int = 1,
                 relaunch: int = 0, run_id: str | None = None,
                 trace_context: dict[str, str] | None = None) -> LaunchRequest:
    """A launch of a new run (a fresh run id) unless ``run_id`` names the run being relaunched."""
    run_key = f"{pipeline}:{schedule}:{DATE}:{attempt}"
    run_id = run_id or uuid.uuid4().hex
    return LaunchRequest(
        pipeline_id=pipeline,
        run_id=run_id,
        run_key=run_key,
        schedule_id=schedule,
        date=DATE,
        attempt=attempt,
        variables=run_variables(pipeline, schedule, DATE, run_id=run_id, run_key=run_key, attempt=attempt),
        relaunch=relaunch,
        trace_context=trace_context or {},
    )


def make_trigger(cls: type[AWSTrigger[Any]]) -> Iterator[Any]:
    trigger = cls(PluginContext(project_dir=Path.cwd()))
    yield trigger
    asyncio.run(trigger.close())


# One instance per type for the module, as the engine keeps one: its session (slow to build) is reused.
@pytest.fixture(scope="module")
def glue() -> Iterator[GlueTrigger]:
    yield from make_trigger(GlueTrigger)


@pytest.fixture(scope="module")
def emr() -> Iterator[EMRTrigger]:
    yield from make_trigger(EMRTrigger)


@pytest.fixture(scope="module")
def emr_serverless() -> Iterator[EMRServerlessTrigger]:
    yield from make_trigger(EMRServerlessTrigger)


@pytest.fixture(scope="module")
def sfn() -> Iterator[StepFunctionTrigger]:
    yield from make_trigger(StepFunctionTrigger)


def config(trigger: AWSTrigger[Any], moto: MotoServer, **options: Any) -> Any:
    """The trigger's config as the project loader builds it (camelCase keys, validated)."""
    return trigger.config_model.model_validate({"endpointURL": moto.url, **options})


def state_machine(moto: MotoServer, definition: dict[str, Any] | None = None) -> str:
    definition = definition or {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    created = aws(moto, "stepfunctions").create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE_ARN
    )
    return str(created["stateMachineArn"])


# ---------------------------------------------------------------------------------------- glue


async def test_glue_launches_job_with_expanded_arguments_and_polls_succeeded(
    moto: MotoServer, glue: GlueTrigger
) -> None:
    aws(moto, "glue").create_job(
        Name="sales-h07", Role=ROLE_ARN, Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/etl.py"}
    )
    cfg = config(
        glue, moto, jobName="sales-${scheduleID}",
        arguments={"--date": "${date}", "--hour": "${hour}", "--n": 5},
        workerType="G.1X", numberOfWorkers=2,
    )
    request = make_request()

    result = await glue.launch(cfg, request)

    assert result.state == "running"
    assert set(result.metadata) == {"glue_job_name", "glue_job_run_id"}
    assert result.metadata["glue_job_name"] == "sales-h07"
    run_id = result.metadata["glue_job_run_id"]
    run = aws(moto, "glue").get_job_run(JobName="sales-h07", RunId=run_id)["JobRun"]
    assert run["Arguments"] == {"--date": DATE, "--hour": "07", "--n": "5", "--interlock_run_id": request.run_id}
    assert (run["WorkerType"], run["NumberOfWorkers"]) == ("G.1X", 2)

    polled = await glue.poll(cfg, result.metadata)
    assert (polled.state, polled.message) == ("succeeded", "SUCCEEDED")


async def test_glue_relaunch_adopts_the_job_run_that_carries_its_run_id_and_no_other(
    moto: MotoServer, glue: GlueTrigger
) -> None:
    aws(moto, "glue").create_job(Name="j", Role=ROLE_ARN, Command={"Name": "glueetl"})
    cfg = config(glue, moto, jobName="j")
    first = await glue.launch(cfg, make_request(run_id="run-a"))
    # another run relaunched (say, of a store whose history of this cycle lapsed): not run-a's job
    other = await glue.launch(cfg, make_request(run_id="run-b", relaunch=1))
    assert other.metadata["glue_job_run_id"] != first.metadata["glue_job_run_id"]
    # run-a's launcher crashed before recording: its relaunch finds its own job run
    again = await glue.launch(cfg, make_request(run_id="run-a", relaunch=1))
    assert again.metadata["glue_job_run_id"] == first.metadata["glue_job_run_id"] and again.metadata["glue_relaunch"]
    assert "adopted" in (again.message or "")
    assert len(aws(moto, "glue").get_job_runs(JobName="j")["JobRuns"]) == 2


async def test_glue_unknown_job_is_a_permanent_launch_failure(moto: MotoServer, glue: GlueTrigger) -> None:
    with pytest.raises(TriggerError) as caught:
        await glue.launch(config(glue, moto, jobName="no-such-job"), make_request())

    assert caught.value.category is FailureCategory.PERMANENT
    assert caught.value.upstream_status == 400
    assert caught.value.message.startswith("glue trigger: StartJobRun failed: EntityNotFoundException")


async def test_glue_poll_of_unknown_run_raises_permanent(moto: MotoServer, glue: GlueTrigger) -> None:
    aws(moto, "glue").create_job(Name="j", Role=ROLE_ARN, Command={"Name": "glueetl"})
    with pytest.raises(TriggerError) as caught:
        metadata = {"glue_job_name": "j", "glue_job_run_id": "jr_missing"}
        await glue.poll(config(glue, moto, jobName="j"), metadata)

    assert caught.value.category is FailureCategory.PERMANENT
    assert caught.value.message.startswith("glue status: GetJobRun failed: EntityNotFoundException")


# ----------------------------------------------------------------------------------------- emr


def emr_cluster(moto: MotoServer) -> str:
    created = aws(moto, "emr").run_job_flow(
        Name="interlock-test",
        ReleaseLabel="emr-6.15.0",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )
    return str(created["JobFlowId"])


async def test_emr_adds_command_runner_step_from_the_spec_example_and_polls_running(
    moto: MotoServer, emr: EMRTrigger
) -> None:
    cluster_id = emr_cluster(moto)
    cfg = config(emr, moto, clusterID=cluster_id,
                 arguments=["spark-submit", "s3://bucket/job.py", "--date", "${date}"])
    request = make_request()

    result = await emr.launch(cfg, request)

    assert result.state == "running"
    assert result.metadata["emr_cluster_id"] == cluster_id
    step = aws(moto, "emr").describe_step(ClusterId=cluster_id, StepId=result.metadata["emr_step_id"])["Step"]
    assert step["Name"] == request.run_key
    assert step["ActionOnFailure"] == "CONTINUE"
    assert step["Config"]["Jar"] == "command-runner.jar"
    assert step["Config"]["Args"] == ["spark-submit", "s3://bucket/job.py", "--date", DATE]

    polled = await emr.poll(cfg, result.metadata)
    assert (polled.state, polled.message) == ("running", "RUNNING")


async def test_emr_accepts_cluster_id_spelling_jar_and_mapping_arguments(
    moto: MotoServer, emr: EMRTrigger
) -> None:
    cluster_id = emr_cluster(moto)
    cfg = config(emr, moto, clusterId=cluster_id, jobName="load ${pipelineID}", command="s3://bucket/load.jar",
                 arguments={"date": "${date}", "full": True})

    result = await emr.launch(cfg, make_request())

    step = aws(moto, "emr").describe_step(ClusterId=cluster_id, StepId=result.metadata["emr_step_id"])["Step"]
    assert step["Name"] == "load daily-sales"
    assert step["Config"]["Jar"] == "s3://bucket/load.jar"
    assert step["Config"]["Args"] == [f"date={DATE}", "full=true"]


async def test_emr_relaunch_of_the_same_run_key_adopts_the_step_already_added(
    moto: MotoServer, emr: EMRTrigger
) -> None:
    cluster_id = emr_cluster(moto)
    cfg = config(emr, moto, clusterID=cluster_id, arguments=["spark-submit", "s3://bucket/job.py"])
    first = await emr.launch(cfg, make_request(run_id="run-a"))
    # the launcher crashed before recording: the run is relaunched under its key (AddJobFlowSteps
    # has no idempotency token, so the trigger looks for the step named after the run key)
    again = await emr.launch(cfg, make_request(run_id="run-a", relaunch=1))

    assert again.metadata["emr_step_id"] == first.metadata["emr_step_id"] and again.metadata["emr_relaunch"]
    steps = aws(moto, "emr").list_steps(ClusterId=cluster_id)["Steps"]
    assert [s["Name"] for s in steps] == [f"daily-sales:h07:{DATE}:1"]
    retry = await emr.launch(cfg, make_request(attempt=2, relaunch=1))  # never launched: added
    assert retry.metadata["emr_step_id"] != first.metadata["emr_step_id"]
    assert len(aws(moto, "emr").list_steps(ClusterId=cluster_id)["Steps"]) == 2


async def test_emr_a_step_of_the_same_name_that_another_run_added_is_never_adopted(
    moto: MotoServer, emr: EMRTrigger
) -> None:
    cluster_id = emr_cluster(moto)
    cfg = config(emr, moto, clusterID=cluster_id, arguments=["true"])
    first = await emr.launch(cfg, make_request(run_id="run-a"))
    step = aws(moto, "emr").describe_step(ClusterId=cluster_id, StepId=first.metadata["emr_step_id"])["Step"]
    assert step["Config"]["Properties"] == {"interlock_run_id": "run-a"}
    other = await emr.launch(cfg, make_request(run_id="run-b", relaunch=1))
    assert other.metadata["emr_step_id"] != first.metadata["emr_step_id"] and "emr_relaunch" not in other.metadata
    again = await emr.launch(cfg, make_request(run_id="run-b", relaunch=2))
    assert again.metadata["emr_step_id"] == other.metadata["emr_step_id"]
    assert len(aws(moto, "emr").list_steps(ClusterId=cluster_id)["Steps"]) == 2


async def test_emr_relaunch_with_a_fixed_step_name_adds_the_step_again(moto: MotoServer, emr: EMRTrigger) -> None:
    cluster_id = emr_cluster(moto)
    cfg = config(emr, moto, clusterID=cluster_id, jobName="load", arguments=["true"])
    await emr.launch(cfg, make_request())
    await emr.launch(cfg, make_request(relaunch=1))  # documented: at-least-once with jobName set
    assert len(aws(moto, "emr").list_steps(ClusterId=cluster_id)["Steps"]) == 2


# ------------------------------------------------------------------------------ emr-serverless


def emr_application(moto: MotoServer) -> str:
    client = aws(moto, "emr-serverless")
    created = client.create_application(name="app", releaseLabel="emr-6.6.0", type="SPARK")
    return str(created["applicationId"])


async def test_emr_serverless_starts_spark_job_and_polls_success(
    moto: MotoServer, emr_serverless: EMRServerlessTrigger
) -> None:
    application_id = emr_application(moto)
    cfg = config(
        emr_serverless, moto, applicationId=application_id, executionRoleArn=ROLE_ARN,
        jobName="sales-${date}",
        entryPoint="s3://bucket/sales.py", entryPointArguments=["--date", "${date}"],
        sparkSubmitParameters="--conf spark.executor.cores=2",
    )

    result = await emr_serverless.launch(cfg, make_request())

    assert result.state == "running"
    assert result.metadata["emr_sl_application_id"] == application_id
    run = aws(moto, "emr-serverless").get_job_run(
        applicationId=application_id, jobRunId=result.metadata["emr_sl_job_run_id"]
    )["jobRun"]
    assert run["name"] == f"sales-{DATE}"
    assert run["executionRole"] == ROLE_ARN
    assert run["jobDriver"]["sparkSubmit"] == {
        "entryPoint": "s3://bucket/sales.py",
        "entryPointArguments": ["--date", DATE],
        "sparkSubmitParameters": "--conf spark.executor.cores=2",
    }

    polled = await emr_serverless.poll(cfg, result.metadata)
    assert (polled.state, polled.message) == ("succeeded", "SUCCESS")


async def test_emr_serverless_unknown_application_is_permanent(
    moto: MotoServer, emr_serverless: EMRServerlessTrigger
) -> None:
    cfg = config(emr_serverless, moto, applicationId="nosuchapp", executionRoleArn=ROLE_ARN, entryPoint="s3://b/j.py")
    with pytest.raises(TriggerError) as caught:
        await emr_serverless.launch(cfg, make_request())

    assert caught.value.category is FailureCategory.PERMANENT
    assert "emr-serverless trigger: StartJobRun failed: ResourceNotFoundException" in caught.value.message


async def test_emr_serverless_sends_the_run_key_as_client_token(
    moto: MotoServer, emr_serverless: EMRServerlessTrigger
) -> None:
    """The run key is the ``clientToken`` of every StartJobRun, so the service returns the job run
    it already has on a relaunch (moto does not implement that deduplication: the test checks
    what is sent)."""
    application_id = emr_application(moto)
    cfg = config(emr_serverless, moto, applicationId=application_id, executionRoleArn=ROLE_ARN,
                 entryPoint="s3://bucket/sales.py")
    sent: list[dict[str, Any]] = []
    real_call = emr_serverless.call

    async def recording(cfg: Any, what: str, operation: Any) -> Any:
        async def spy(client: Any) -> Any:
            start = client.start_job_run

            async def start_job_run(**params: Any) -> Any:
                sent.append(params)
                return await start(**params)

            client.start_job_run = start_job_run
            return await operation(client)

        return await real_call(cfg, what, spy)

    emr_serverless.call = recording  # type: ignore[method-assign]
    await emr_serverless.launch(cfg, make_request())
    await emr_serverless.launch(cfg, make_request(relaunch=1))
    await emr_serverless.launch(cfg, make_request(attempt=2))
    first, second = (idempotency_name(f"daily-sales:h07:{DATE}:{n}", CLIENT_TOKEN_LIMIT, r"A-Za-z0-9._-")
                     for n in (1, 2))
    assert [p["clientToken"] for p in sent] == [first, first, second] and first != second


@pytest.fixture
def client_tokens_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto starts a new job run for every StartJobRun; EMR Serverless answers a clientToken it
    already knows with that job run. Make moto (in this process) do what the service does."""
    from moto.emrserverless.models import EMRServerlessBackend

    start = EMRServerlessBackend.start_job_run

    def start_job_run(self: Any, application_id: str, client_token: str, *args: Any, **kwargs: Any) -> Any:
        for run in self.job_runs.get(application_id, []):
            if run.client_token == client_token:
                return run
        return start(self, application_id, client_token, *args, **kwargs)

    monkeypatch.setattr(EMRServerlessBackend, "start_job_run", start_job_run)


async def test_emr_serverless_keeps_only_a_job_run_tagged_with_its_run_id(
    moto: MotoServer, emr_serverless: EMRServerlessTrigger, client_tokens_honoured: None
) -> None:
    application_id = emr_application(moto)
    cfg = config(emr_serverless, moto, applicationId=application_id, executionRoleArn=ROLE_ARN,
                 entryPoint="s3://bucket/sales.py")
    first = await emr_serverless.launch(cfg, make_request(run_id="run-a"))
    job_run_id = first.metadata["emr_sl_job_run_id"]
    run = aws(moto, "emr-serverless").get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]
    assert run["tags"] == {"interlock_run_id": "run-a"}

    with pytest.raises(TriggerError) as caught:  # the same token for another run: the service answers run-a's
        await emr_serverless.launch(cfg, make_request(run_id="run-b"))
    token = idempotency_name(f"daily-sales:h07:{DATE}:1", CLIENT_TOKEN_LIMIT, r"A-Za-z0-9._-")
    assert caught.value.category is FailureCategory.PERMANENT
    assert (f"launch key {token} is taken by a job Interlock did not start for run run-b (job run {job_run_id} "
            f"of application {application_id} carries interlock_run_id 'run-a')") in caught.value.message

    again = await emr_serverless.launch(cfg, make_request(run_id="run-a", relaunch=1))
    assert again.metadata["emr_sl_job_run_id"] == job_run_id
    assert len(aws(moto, "emr-serverless").list_job_runs(applicationId=application_id)["jobRuns"]) == 1


# ------------------------------------------------------------------------------- step-function


async def test_step_function_starts_named_execution_with_input_and_polls_running(
    moto: MotoServer, sfn: StepFunctionTrigger
) -> None:
    arn = state_machine(moto)
    cfg = config(sfn, moto, stateMachineArn=arn, input={"date": "${date}", "pipeline": "${pipelineID}"})
    request = make_request()

    result = await sfn.launch(cfg, request)

    assert result.state == "running"
    assert result.message is None
    arn = result.metadata["sfn_execution_arn"]
    execution = aws(moto, "stepfunctions").describe_execution(executionArn=arn)
    assert execution["name"] == idempotency_name(request.run_key, 80)
    assert json.loads(execution["input"]) == {"date": DATE, "pipeline": "daily-sales",
                                              "interlock_run_id": request.run_id}

    polled = await sfn.poll(cfg, result.metadata)
    assert (polled.state, polled.message) == ("running", "RUNNING")


async def test_step_function_input_carries_the_launch_trace_context(moto: MotoServer,
                                                                    sfn: StepFunctionTrigger) -> None:
    arn = state_machine(moto)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    request = make_request(trace_context={"traceparent": traceparent})
    result = await sfn.launch(config(sfn, moto, stateMachineArn=arn, input={"date": "${date}"}), request)
    execution = aws(moto, "stepfunctions").describe_execution(executionArn=result.metadata["sfn_execution_arn"])
    assert json.loads(execution["input"]) == {"date": DATE, "traceparent": traceparent,
                                              "interlock_run_id": request.run_id}
    # a relaunch after a crash has another launch span: the execution it started is still adopted
    again = await sfn.launch(config(sfn, moto, stateMachineArn=arn, input={"date": "${date}"}),
                             make_request(run_id=request.run_id, relaunch=1,
                                          trace_context={"traceparent": traceparent[:-2] + "00"}))
    assert again.metadata == result.metadata


async def test_step_function_relaunch_of_the_same_run_key_starts_one_execution(
    moto: MotoServer, sfn: StepFunctionTrigger
) -> None:
    arn = state_machine(moto)
    request = make_request()

    first = await sfn.launch(config(sfn, moto, stateMachineArn=arn, arguments={"attempt": "1"}), request)
    again = await sfn.launch(config(sfn, moto, stateMachineArn=arn, arguments={"attempt": "1"}), request)
    # different input: the service answers ExecutionAlreadyExists, the trigger follows the existing one
    changed = await sfn.launch(config(sfn, moto, stateMachineArn=arn, arguments={"attempt": "2"}), request)

    assert first.metadata == again.metadata == changed.metadata
    assert changed.message is not None and "already started" in changed.message
    executions = aws(moto, "stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    assert [e["executionArn"] for e in executions] == [first.metadata["sfn_execution_arn"]]

    other = await sfn.launch(config(sfn, moto, stateMachineArn=arn), make_request(attempt=2))
    assert other.metadata != first.metadata


@pytest.mark.parametrize("started_with", [{"interlock_run_id": "run-a"}, {"date": DATE}])
async def test_step_function_an_execution_of_the_name_this_run_did_not_start_is_never_followed(
    moto: MotoServer, sfn: StepFunctionTrigger, started_with: dict[str, str]
) -> None:
    arn = state_machine(moto)
    name = idempotency_name(f"daily-sales:h07:{DATE}:1", 80)
    aws(moto, "stepfunctions").start_execution(stateMachineArn=arn, name=name, input=json.dumps(started_with))

    with pytest.raises(TriggerError) as caught:
        await sfn.launch(config(sfn, moto, stateMachineArn=arn, input={"date": "${date}"}),
                         make_request(run_id="run-b"))
    assert caught.value.category is FailureCategory.PERMANENT
    assert f"launch key {name} is taken by a job Interlock did not start for run run-b" in caught.value.message
    assert len(aws(moto, "stepfunctions").list_executions(stateMachineArn=arn)["executions"]) == 1


async def test_step_function_input_that_is_not_an_object_is_sent_as_written(
    moto: MotoServer, sfn: StepFunctionTrigger
) -> None:
    arn = state_machine(moto)
    result = await sfn.launch(config(sfn, moto, stateMachineArn=arn, input='["${date}"]'), make_request())
    execution = aws(moto, "stepfunctions").describe_execution(executionArn=result.metadata["sfn_execution_arn"])
    assert json.loads(execution["input"]) == [DATE]


@pytest.fixture
def sfn_interpreter(moto: MotoServer) -> Iterator[None]:
    moto.configure({"stepfunctions": {"execute_state_machine": True}})
    try:
        yield
    finally:
        moto.configure({"stepfunctions": {"execute_state_machine": False}})


async def poll_until_done(trigger: AWSTrigger[Any], cfg: Any, metadata: dict[str, Any]) -> Any:
    """moto's interpreter runs the execution on its own thread: wait (briefly) for it to end."""
    for _ in range(100):
        polled = await trigger.poll(cfg, metadata)
        if polled.state != "running":
            return polled
        await asyncio.sleep(0.02)
    raise AssertionError("execution did not finish")


@pytest.mark.usefixtures("sfn_interpreter")
async def test_step_function_executions_map_succeeded_and_failed(
    moto: MotoServer, sfn: StepFunctionTrigger
) -> None:
    ok = config(sfn, moto, stateMachineArn=state_machine(moto))
    failing = config(sfn, moto, stateMachineArn=state_machine(moto, {
        "StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "NoData", "Cause": "input missing"}},
    }))

    succeeded = await poll_until_done(sfn, ok, (await sfn.launch(ok, make_request())).metadata)
    failed = await poll_until_done(sfn, failing, (await sfn.launch(failing, make_request())).metadata)

    assert (succeeded.state, succeeded.message) == ("succeeded", "SUCCEEDED")
    assert (failed.state, failed.message) == ("failed", "FAILED: NoData: input missing")
    assert failed.failure_category is FailureCategory.TRANSIENT


async def test_step_function_finds_the_executions_its_schedule_started_on_the_cycle_day(
    moto: MotoServer, sfn: StepFunctionTrigger
) -> None:
    """A dry-run cycle's scheduler runs: the executions started on the day (moto stamps them now), not
    the one Interlock started (its input carries the run id)."""
    arn = state_machine(moto)
    client = aws(moto, "stepfunctions")
    scheduled = [client.start_execution(stateMachineArn=arn, name=f"scheduled-{n}", input="{}")["executionArn"]
                 for n in (1, 2)]
    await sfn.launch(config(sfn, moto, stateMachineArn=arn), make_request())
    now = datetime.now(UTC)
    today = PipelineConfig.model_validate({"name": "daily-sales", "archetype": "batch-ingestion"})
    cycle = cycle_window(today, today.resolved_schedules()[0], now.date().isoformat())

    runs = await sfn.find_runs(config(sfn, moto, stateMachineArn=arn), cycle)
    assert sorted(r.run_id for r in runs) == ["scheduled-1", "scheduled-2"]
    assert all(r.state == "running" and r.started_at is not None and cycle.start <= r.started_at < cycle.end
               for r in runs)
    assert {e["executionArn"] for e in client.list_executions(stateMachineArn=arn)["executions"]} > set(scheduled)
    yesterday = cycle_window(today, today.resolved_schedules()[0], (now.date() - timedelta(days=1)).isoformat())
    assert await sfn.find_runs(config(sfn, moto, stateMachineArn=arn), yesterday) == []


async def test_step_function_unknown_state_machine_is_permanent(
    moto: MotoServer, sfn: StepFunctionTrigger
) -> None:
    missing = f"arn:aws:states:{REGION}:{FAKE_ACCOUNT}:stateMachine:absent"
    with pytest.raises(TriggerError) as caught:
        await sfn.launch(config(sfn, moto, stateMachineArn=missing), make_request())

    assert caught.value.category is FailureCategory.PERMANENT
    assert caught.value.message.startswith(
        "step-function trigger: StartExecution failed: StateMachineDoesNotExist"
    )


# ------------------------------------------------------------------------------ shared behaviour


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (GlueTrigger, "glue"),
        (EMRTrigger, "emr"),
        (EMRServerlessTrigger, "emr-serverless"),
        (StepFunctionTrigger, "sfn"),
    ],
)
async def test_poll_without_metadata_is_running(cls: type[AWSTrigger[Any]], kind: str) -> None:
    trigger = cls(PluginContext(project_dir=Path.cwd()))
    polled = await trigger.poll({}, {})
    assert (polled.state, polled.message) == ("running", f"missing {kind} metadata")


@pytest.mark.parametrize(
    ("cls", "options", "missing"),
    [
        (GlueTrigger, {}, "jobName"),
        (GlueTrigger, {"jobName": ""}, "jobName"),
        (EMRTrigger, {"arguments": ["spark-submit"]}, "clusterID"),
        (EMRServerlessTrigger, {"applicationId": "a", "entryPoint": "s3://b/j.py"}, "executionRoleArn"),
        (EMRServerlessTrigger, {"applicationId": "a", "executionRoleArn": ROLE_ARN}, "entryPoint"),
        (StepFunctionTrigger, {"input": {"a": 1}}, "stateMachineArn"),
    ],
)
def test_required_fields_are_named(cls: type[AWSTrigger[Any]], options: dict[str, Any], missing: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        cls.config_model.model_validate(options)
    assert missing in {str(loc) for err in caught.value.errors() for loc in err["loc"]}


@pytest.mark.parametrize(
    ("cls", "options", "text"),
    [
        (GlueTrigger, {"jobName": "j", "workerType": "G.1X"}, "together"),
        (GlueTrigger, {"jobName": "j", "jobname": "typo"}, "Extra inputs"),
        (EMRTrigger, {"clusterID": "j-1"}, "arguments is required"),
        (EMRTrigger, {"clusterID": "j-1", "arguments": ["a"], "actionOnFailure": "EXPLODE"}, "CONTINUE"),
        (StepFunctionTrigger, {"stateMachineArn": "arn", "input": {}, "arguments": {}}, "not both"),
        (StepFunctionTrigger, {"stateMachineArn": "arn", "timeout": 0}, "greater than 0"),
    ],
)
def test_invalid_configs_are_rejected(cls: type[AWSTrigger[Any]], options: dict[str, Any], text: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=text):
        cls.config_model.model_validate(options)


async def test_launch_accepts_a_raw_mapping_and_rejects_undefined_variables(
    moto: MotoServer, glue: GlueTrigger
) -> None:
    aws(moto, "glue").create_job(Name="j", Role=ROLE_ARN, Command={"Name": "glueetl"})
    result = await glue.launch({"type": "glue", "jobName": "j", "endpointURL": moto.url}, make_request())
    assert result.metadata["glue_job_name"] == "j"

    with pytest.raises(TriggerError, match="INTERLOCK_UNDEFINED_FOR_TEST") as caught:
        undefined = {"jobName": "${INTERLOCK_UNDEFINED_FOR_TEST}", "endpointURL": moto.url}
        await glue.launch(undefined, make_request())
    assert caught.value.category is FailureCategory.PERMANENT


async def test_unreachable_endpoint_is_transient(moto: MotoServer, sfn: StepFunctionTrigger) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = sfn.config_model.model_validate(
        {"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:x", "endpointURL": f"http://127.0.0.1:{port}",
         "maxAttempts": 1}
    )
    with pytest.raises(TriggerError) as caught:
        await sfn.launch(cfg, make_request())
    assert caught.value.category is FailureCategory.TRANSIENT
    assert caught.value.retryable


async def test_endpoint_that_never_answers_is_a_timeout(moto: MotoServer, glue: GlueTrigger) -> None:
    release = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # read the request, never answer
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        cfg = glue.config_model.model_validate(
            {"jobName": "j", "endpointURL": f"http://127.0.0.1:{port}", "timeout": 0.3, "maxAttempts": 1}
        )
        with pytest.raises(TriggerError) as caught:
            await glue.poll(cfg, {"glue_job_name": "j", "glue_job_run_id": "jr_1"})
    finally:
        release.set()
        server.close()
        await server.wait_closed()
    assert caught.value.category is FailureCategory.TIMEOUT
    assert caught.value.message.startswith("glue status: GetJobRun failed")


def test_trigger_types_are_registered_under_their_names() -> None:
    registry = load_plugins().trigger_types
    for cls in (GlueTrigger, EMRTrigger, EMRServerlessTrigger, StepFunctionTrigger):
        assert registry.get(cls.name) is cls
        assert cls.pollable and cls.api_registrable
