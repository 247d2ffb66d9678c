"""The AWS triggers' ``endpointURL`` keeps to the outbound policy: a pipeline registered over the API
names only an allow-listed endpoint (the server signs every call with its own AWS credentials), a
denied or metadata address is never connected (as written or once resolved), and no AWS error
text of the answering endpoint comes back to an API pipeline's run.

The "endpoint" is a local HTTP listener that records every request (and its headers)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory, PipelineConfig, PipelineOrigin, RunStatus
from interlock_core.outbound import HostPolicy, untrusted_target
from interlock_core.plugins import PluginContext
from interlock_core.ports import LaunchRequest
from interlock_core.templating import run_variables
from interlock_plugins.triggers.aws import (
    EMRServerlessTrigger,
    EMRTrigger,
    GlueTrigger,
    LambdaTrigger,
    StepFunctionTrigger,
)
from interlock_plugins.triggers.aws_base import AWSTrigger

from .conftest import Api
from .support import http_pipeline

ACCESS_KEY_ID = "AKIAENDPOINTPOLICY01"
SESSION_TOKEN = "session-token-never-sent"
INTERNAL = "internal-service-said-this"
DATE = "2026-03-02"

TRIGGERS: dict[str, tuple[type[AWSTrigger[Any]], dict[str, Any]]] = {
    "glue": (GlueTrigger, {"jobName": "etl"}),
    "emr": (EMRTrigger, {"clusterID": "j-ABC", "jar": "s3://b/job.jar"}),
    "emr-serverless": (EMRServerlessTrigger, {"applicationId": "app", "executionRoleArn": "arn:aws:iam::1:role/r",
                                              "entryPoint": "s3://b/job.py"}),
    "step-function": (StepFunctionTrigger, {"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m"}),
    "lambda": (LambdaTrigger, {"functionName": "nightly-export"}),
}


@dataclass
class Endpoint:
    """A local stand-in for an internal service: records requests, answers an AWS-style error."""

    port: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def header(self, name: str) -> list[str]:
        return [v for r in self.requests for k, v in r.items() if k.lower() == name.lower()]


@contextmanager
def endpoint() -> Iterator[Endpoint]:
    seen = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.requests.append(dict(self.headers))
            body = json.dumps({"__type": "InternalLeakException", "message": INTERNAL,
                               "Error": {"Code": "InternalLeakException", "Message": INTERNAL}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def listener() -> Iterator[Endpoint]:
    with endpoint() as seen:
        yield seen


@pytest.fixture(autouse=True)
def server_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own AWS credentials, which must never reach an endpoint an API client chose."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-never-sent")
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def aws_pipeline(name: str, kind: str, endpoint_url: str) -> dict[str, Any]:
    data = http_pipeline(name, "http://127.0.0.1:9/unused")
    data["trigger"] = {"type": kind, "endpointURL": endpoint_url, "maxAttempts": 1, "timeout": 10,
                       **TRIGGERS[kind][1]}
    return data


def request() -> LaunchRequest:
    run_key = f"p:daily:{DATE}:1"
    return LaunchRequest(pipeline_id="p", run_id="r1", run_key=run_key, schedule_id="daily", date=DATE, attempt=1,
                         variables=run_variables("p", "daily", DATE, "r1", run_key, 1))


async def launch(kind: str, endpoint_url: str, *, policy: HostPolicy | None = None, api: bool) -> TriggerError:
    cls, options = TRIGGERS[kind]
    trigger = cls(PluginContext(project_dir=Path.cwd(), outbound=policy or HostPolicy()))
    config = trigger.config_model.model_validate({"endpointURL": endpoint_url, "maxAttempts": 1, **options})
    try:
        with untrusted_target(api), pytest.raises(TriggerError) as caught:
            await trigger.launch(config, request())
    finally:
        await trigger.close()
    return caught.value


# ------------------------------------------------------------------------------ registration


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
async def test_an_api_pipeline_may_not_name_an_endpoint_that_is_not_allow_listed(
        api: Api, listener: Endpoint, kind: str) -> None:
    response = await api.client.post("/api/pipelines", json=aws_pipeline("aws", kind, listener.url))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "trigger.endpointURL"
    assert "outbound.allowHosts" in response.json()["error"]
    for written in ("http://169.254.169.254/", "http://${ORCH_HOST}/"):
        response = await api.client.post("/api/pipelines", json=aws_pipeline("aws", kind, written))
        assert response.status_code == 400 and response.json()["field"] == "trigger.endpointURL", response.text
    assert await api.engine.list_pipelines() == []


async def test_an_allow_listed_endpoint_may_be_registered(make_api: Callable[..., Any], listener: Endpoint) -> None:
    api: Api = await make_api(config={"outbound": {"allowHosts": ["127.0.0.1"]}})
    response = await api.client.post("/api/pipelines", json=aws_pipeline("aws", "glue", listener.url))
    assert response.status_code == 201, response.text


# ------------------------------------------------------------------------------ launch


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
async def test_a_stored_api_pipeline_never_sends_the_server_credentials_to_its_endpoint(
        api: Api, listener: Endpoint, kind: str) -> None:
    """Stored before the rule (registration bypassed): the launch refuses the endpoint itself."""
    stored = PipelineConfig.model_validate(aws_pipeline("aws", kind, listener.url))
    await api.engine.store.put_pipeline(stored.model_copy(update={"origin": PipelineOrigin.API}))
    run = (await api.engine.start_run("aws", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    assert run.failure_category is FailureCategory.PERMANENT
    assert "not listed in outbound.allowHosts" in (run.failure_message or "")
    assert listener.requests == []  # never contacted: no SigV4 headers, no session token


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
async def test_a_denied_address_is_never_connected_as_written_or_resolved(listener: Endpoint, kind: str) -> None:
    denied = HostPolicy(deny=["127.0.0.0/8"])
    for url in (listener.url, f"http://localhost:{listener.port}/"):  # a literal, then a name resolving to it
        error = await launch(kind, url, policy=denied, api=False)
        assert error.category is FailureCategory.PERMANENT and "outbound.denyHosts" in error.message, error.message
    for url in ("http://169.254.169.254/", "http://[::ffff:169.254.169.254]/", "http://metadata.google.internal/"):
        error = await launch(kind, url, api=False)
        assert "never reachable" in error.message, error.message
    assert listener.requests == []


async def test_allow_listing_is_checked_on_the_resolved_address(listener: Endpoint) -> None:
    """``localhost`` is not listed by name, and the address it resolves to is not in the list."""
    error = await launch("glue", f"http://localhost:{listener.port}/", policy=HostPolicy(allow=["10.0.0.0/8"]),
                         api=True)
    assert "not listed in outbound.allowHosts" in error.message
    assert listener.requests == []


async def test_an_api_pipeline_reads_no_aws_error_text_back(listener: Endpoint) -> None:
    policy = HostPolicy(allow=["127.0.0.1"])
    error = await launch("glue", listener.url, policy=policy, api=True)
    assert INTERNAL not in error.message and "InternalLeakException" not in error.message
    assert "HTTP 400" in error.message
    assert listener.header("Authorization"), "the allow-listed endpoint was called"
    # a pipeline file's operator keeps the provider's words
    error = await launch("glue", listener.url, policy=policy, api=False)
    assert INTERNAL in error.message


async def test_an_api_pipeline_with_an_allow_listed_endpoint_keeps_its_failure_free_of_answers(
        make_api: Callable[..., Any], listener: Endpoint) -> None:
    api: Api = await make_api(config={"outbound": {"allowHosts": ["127.0.0.1"]}})
    assert (await api.client.post("/api/pipelines", json=aws_pipeline("aws", "glue", listener.url))).status_code == 201
    run = (await api.engine.start_run("aws", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    assert INTERNAL not in (run.failure_message or "")
    events = (await api.client.get("/api/pipelines/aws/events")).text
    assert INTERNAL not in events
