"""The ``http`` trigger against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pydantic
import pytest
from launch_requests import TRACE_CONTEXT, TRACEPARENT, MakeRequest
from serve_asgi import closed_port, serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory
from interlock_core.outbound import HostPolicy
from interlock_core.plugins import PluginContext
from interlock_plugins.triggers.http import HTTPConfig, HTTPTrigger


@dataclass
class JobService:
    """Accepts jobs at ``/jobs`` (202 unless a status is scripted); ``/hang`` never answers in time.

    Like a service honouring ``Idempotency-Key`` as docs/security.md asks, it starts one job per key
    and keeps the run id it came with: the same key with the same run id (a relaunch) is answered
    with that job, the same key with another run id is 409 Conflict."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, int] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/jobs", self._jobs, methods=["POST", "PUT"]),
                                 Route("/hang", self._hang, methods=["POST"])])

    async def _jobs(self, request: Request) -> Response:
        raw = await request.body()
        self.requests.append({"method": request.method, "headers": dict(request.headers),
                              "body": raw.decode()})
        status = self.statuses.pop(0) if self.statuses else 202
        if status >= 300:
            return JSONResponse({"error": f"scripted {status}", "detail": "x" * 2000}, status_code=status)
        key = request.headers.get("idempotency-key", "")
        run_id = request.headers.get("x-interlock-run-id", "")
        if self.owners.setdefault(key, run_id) != run_id:
            return JSONResponse({"error": f"key {key} belongs to another run"}, status_code=409)
        job = self.jobs.setdefault(key, len(self.jobs) + 1)
        return JSONResponse({"job": job}, status_code=status)

    async def _hang(self, request: Request) -> Response:
        await self.released.wait()
        return Response(status_code=503)


@pytest.fixture
async def service() -> AsyncIterator[JobService]:
    peer = JobService()
    async with serving(peer.app()) as url:
        peer.url = url
        try:
            yield peer
        finally:
            peer.released.set()


@pytest.fixture
async def trigger(plugin_context: PluginContext) -> AsyncIterator[HTTPTrigger]:
    instance = HTTPTrigger(plugin_context)
    yield instance
    await instance.close()


async def test_accepted_job_is_running_and_carries_run_identity(
    trigger: HTTPTrigger, service: JobService, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_SERVICE_TOKEN", "s3cret-token")
    config = {"url": service.url + "/jobs", "headers": {"Authorization": "Bearer ${JOB_SERVICE_TOKEN}"},
              "body": {"pipeline": "${pipelineID}", "date": "${date}", "hour": "${hour}"}}
    result = await trigger.launch(config, make_request(callback_url="http://127.0.0.1:3000/cb"))

    assert result.state == "running"
    assert result.metadata == {"httpStatus": 202}  # the response body is not kept unless asked
    assert "s3cret-token" not in json.dumps(result.metadata)
    sent = service.requests[0]
    assert sent["method"] == "POST"
    assert json.loads(sent["body"]) == {"pipeline": "daily-sales", "date": "2026-03-02", "hour": "07"}
    assert sent["headers"]["authorization"] == "Bearer s3cret-token"
    assert sent["headers"]["content-type"] == "application/json"
    assert sent["headers"]["idempotency-key"] == "daily-sales:h07:2026-03-02:1"
    assert sent["headers"]["x-interlock-run-id"] == "run-1-0001"
    assert sent["headers"]["x-interlock-callback-url"] == "http://127.0.0.1:3000/cb"


async def test_the_launch_trace_context_is_sent_as_headers_and_interlock_headers_win(
        trigger: HTTPTrigger, service: JobService, make_request: MakeRequest) -> None:
    config = {"url": service.url + "/jobs", "headers": {"traceparent": "00-configured", "X-Team": "data"}}
    await trigger.launch(config, make_request(trace_context=TRACE_CONTEXT))
    await trigger.launch({"url": service.url + "/jobs"}, make_request(attempt=2))  # tracing off: no header

    traced, untraced = service.requests[0]["headers"], service.requests[1]["headers"]
    assert (traced["traceparent"], traced["tracestate"], traced["x-team"]) == (TRACEPARENT, "vendor=1", "data")
    assert traced["idempotency-key"] == "daily-sales:h07:2026-03-02:1"
    assert "traceparent" not in untraced and "tracestate" not in untraced


async def test_string_body_is_sent_as_written(trigger: HTTPTrigger, service: JobService,
                                              make_request: MakeRequest) -> None:
    config = {"method": "put", "url": service.url + "/jobs", "body": '{"pipeline": "${pipelineID}"}'}
    await trigger.launch(config, make_request())
    assert service.requests[0]["method"] == "PUT"
    assert service.requests[0]["body"] == '{"pipeline": "daily-sales"}'


async def test_relaunch_sends_the_same_idempotency_key(trigger: HTTPTrigger, service: JobService,
                                                       make_request: MakeRequest) -> None:
    config = {"url": service.url + "/jobs", "storeResponse": True}
    first = await trigger.launch(config, make_request())
    again = await trigger.launch(config, make_request())
    retry = await trigger.launch(config, make_request(attempt=2, run_id="run-2-0001"))
    keys = [r["headers"]["idempotency-key"] for r in service.requests]
    first_key, retry_key = "daily-sales:h07:2026-03-02:1", "daily-sales:h07:2026-03-02:2"
    assert keys == [first_key, first_key, retry_key]
    assert first.metadata["responseExcerpt"] == again.metadata["responseExcerpt"] == '{"job":1}'
    assert retry.metadata["responseExcerpt"] == '{"job":2}'


async def test_a_key_that_another_run_holds_fails_permanent_naming_the_key(
        trigger: HTTPTrigger, service: JobService, make_request: MakeRequest) -> None:
    config = {"url": service.url + "/jobs"}
    await trigger.launch(config, make_request(run_id="run-a"))
    with pytest.raises(TriggerError) as caught:
        await trigger.launch(config, make_request(run_id="run-b"))
    error = caught.value
    assert (error.category, error.upstream_status) == (FailureCategory.PERMANENT, 409)
    assert ("409 Conflict for Idempotency-Key daily-sales:h07:2026-03-02:1: the key is taken by a job "
            "Interlock did not start for run run-b") in error.message
    assert len(service.jobs) == 1


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (400, FailureCategory.PERMANENT),
        (401, FailureCategory.PERMANENT),
        (404, FailureCategory.PERMANENT),
        (429, FailureCategory.TRANSIENT),
        (500, FailureCategory.TRANSIENT),
        (503, FailureCategory.TRANSIENT),
    ],
)
async def test_error_statuses_are_classified(trigger: HTTPTrigger, service: JobService,
                                             make_request: MakeRequest, status: int,
                                             category: FailureCategory) -> None:
    service.statuses.append(status)
    with pytest.raises(TriggerError) as caught:
        await trigger.launch({"url": service.url + "/jobs"}, make_request())
    assert caught.value.category is category
    assert caught.value.upstream_status == status
    assert f"returned status {status}" in caught.value.message
    assert len(caught.value.message) < 700  # the response body is cut to an excerpt


async def test_success_codes_narrow_what_counts_as_accepted(trigger: HTTPTrigger, service: JobService,
                                                            make_request: MakeRequest) -> None:
    with pytest.raises(TriggerError) as caught:
        await trigger.launch({"url": service.url + "/jobs", "successCodes": [200]}, make_request())
    assert caught.value.category is FailureCategory.PERMANENT
    service.statuses.append(200)
    result = await trigger.launch({"url": service.url + "/jobs", "successCodes": [200]}, make_request())
    assert result.metadata["httpStatus"] == 200


async def test_unreachable_service_is_transient(trigger: HTTPTrigger, make_request: MakeRequest) -> None:
    with pytest.raises(TriggerError) as caught:
        await trigger.launch({"url": f"http://127.0.0.1:{closed_port()}/jobs"}, make_request())
    assert caught.value.category is FailureCategory.TRANSIENT


async def test_slow_service_is_a_timeout(trigger: HTTPTrigger, service: JobService,
                                         make_request: MakeRequest) -> None:
    with pytest.raises(TriggerError) as caught:
        await trigger.launch({"url": service.url + "/hang", "timeout": 0.2}, make_request())
    assert caught.value.category is FailureCategory.TIMEOUT


async def test_bad_url_and_undefined_variable_are_permanent(trigger: HTTPTrigger,
                                                            make_request: MakeRequest) -> None:
    with pytest.raises(TriggerError) as bad_url:
        await trigger.launch({"url": "ftp://example.invalid/jobs"}, make_request())
    assert bad_url.value.category is FailureCategory.PERMANENT
    with pytest.raises(TriggerError) as undefined:
        await trigger.launch({"url": "http://127.0.0.1/${INTERLOCK_TEST_UNDEFINED_VARIABLE}"}, make_request())
    assert undefined.value.category is FailureCategory.PERMANENT


async def test_response_body_is_kept_only_when_asked_and_bounded(trigger: HTTPTrigger, service: JobService,
                                                                  make_request: MakeRequest) -> None:
    service.statuses += [202, 500, 202, 500]
    plain = await trigger.launch({"url": service.url + "/jobs"}, make_request())
    assert plain.metadata == {"httpStatus": 202}
    with pytest.raises(TriggerError) as failed:
        await trigger.launch({"url": service.url + "/jobs"}, make_request())
    assert "scripted" not in failed.value.message
    kept = await trigger.launch({"url": service.url + "/jobs", "storeResponse": True}, make_request())
    assert kept.metadata == {"httpStatus": 202, "responseExcerpt": '{"job":1}'}
    with pytest.raises(TriggerError) as told:
        await trigger.launch({"url": service.url + "/jobs", "storeResponse": True}, make_request())
    assert "scripted 500" in told.value.message and len(told.value.message) < 700


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://169.254.170.2/v2/credentials",
    "http://[fe80::1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fd00:ec2::254]/latest/meta-data/",
])
async def test_link_local_and_metadata_addresses_are_never_reached(trigger: HTTPTrigger,
                                                                   make_request: MakeRequest, url: str) -> None:
    with pytest.raises(TriggerError) as caught:
        await trigger.launch({"url": url}, make_request())
    assert caught.value.category is FailureCategory.PERMANENT
    assert "never reachable" in caught.value.message


async def test_allow_and_deny_hosts_are_checked_after_resolution(service: JobService, tmp_path: Any,
                                                                 make_request: MakeRequest) -> None:
    by_name = service.url.replace("127.0.0.1", "localhost") + "/jobs"

    async def launch(url: str, **policy: list[str]) -> Any:
        trigger = HTTPTrigger(PluginContext(project_dir=tmp_path, outbound=HostPolicy(**policy)))
        try:
            return await trigger.launch({"url": url}, make_request())
        finally:
            await trigger.close()

    for url, policy, why in [
        (by_name, {"deny": ["127.0.0.0/8"]}, "denyHosts"),  # the name is fine, its address is not
        (service.url + "/jobs", {"deny": ["127.0.0.1"]}, "denyHosts"),
        (by_name, {"deny": ["LOCALHOST."]}, "denyHosts"),
        (by_name, {"allow": ["jobs.example.com", "10.0.0.0/8"]}, "allowHosts"),
    ]:
        with pytest.raises(TriggerError) as caught:
            await launch(url, **policy)
        assert caught.value.category is FailureCategory.PERMANENT
        assert why in caught.value.message
    assert service.requests == []
    assert (await launch(by_name, allow=["127.0.0.0/8"])).state == "running"
    assert (await launch(by_name, allow=["localhost"], deny=["10.0.0.0/8"])).state == "running"


async def test_errors_show_the_url_as_written_never_the_expanded_value(
    trigger: HTTPTrigger, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_HOST_SECRET", "s3cr3t-host:notaport")
    with pytest.raises(TriggerError) as caught:
        await trigger.launch({"url": "http://${JOB_HOST_SECRET}/x?date=${date}"}, make_request())
    assert caught.value.category is FailureCategory.PERMANENT
    assert "${JOB_HOST_SECRET}" in caught.value.message
    assert "s3cr3t" not in caught.value.message and "notaport" not in caught.value.message


async def test_not_pollable(trigger: HTTPTrigger) -> None:
    assert HTTPTrigger.pollable is False
    assert HTTPTrigger.api_registrable is True
    polled = await trigger.poll({"url": "http://127.0.0.1/jobs"}, {"httpStatus": 202})
    assert (polled.state, polled.message) == ("running", "non-polling trigger type")


def test_config_model() -> None:
    cfg = HTTPConfig.model_validate({"url": "http://x/run", "method": "patch", "successCodes": [200, 202],
                                     "timeout": "10s", "pollInterval": "10s"})
    assert (cfg.method, cfg.success_codes, cfg.timeout) == ("PATCH", [200, 202], 10)
    assert HTTPConfig.model_validate({"url": "http://x"}).method == "POST"
    for bad in ({}, {"url": "http://x", "method": "BREW"}, {"url": "http://x", "verb": "POST"},
                {"url": "http://x", "successCodes": [999]}, {"url": "http://x", "timeout": -1}):
        with pytest.raises(pydantic.ValidationError):
            HTTPConfig.model_validate(bad)
