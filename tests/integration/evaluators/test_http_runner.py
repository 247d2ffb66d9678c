"""The HTTP runner against a small real HTTP server on 127.0.0.1 (an ephemeral port)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from interlock_core.model import FailureCategory, PipelineOrigin
from interlock_core.outbound import HostPolicy
from interlock_plugins.evaluators.http import HTTPRunner
from tests.helpers.evaluators import evaluator_input, runner_context


@dataclass
class EvaluatorServer:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(server: EvaluatorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length))
            server.received.append({"path": self.path, "body": request, "type": self.headers["Content-Type"]})
            path = self.path.split("?", 1)[0].rstrip("/")
            if path.endswith("/pass"):
                answer = {"status": "PASS", "value": {"lagSeconds": 45}, "reason": "fresh"}
                self._reply(200, json.dumps(answer).encode())
            elif path.endswith("/fail"):
                answer = {"status": "FAIL", "reason": "stale", "failureCategory": "TRANSIENT"}
                self._reply(200, json.dumps(answer).encode())
            elif path.endswith("/missing"):
                self._reply(404, b"no such evaluator", "text/plain")
            elif path.endswith("/down"):
                self._reply(503, b"warehouse unreachable", "text/plain")
            elif path.endswith("/down-verbose"):
                self._reply(500, b"E" * (2 * 1024 * 1024), "text/plain")
            elif path.endswith("/throttled"):
                self._reply(429, b"", "text/plain")
            elif path.endswith("/not-json"):
                self._reply(200, b"this is not json", "text/plain")
            elif path.endswith("/lowercase"):
                self._reply(200, b'{"status":"pass"}')
            elif path.endswith("/huge"):
                self._reply(200, b'{"status":"PASS","value":{"pad":"' + b"x" * (2 * 1024 * 1024) + b'"}}')
            elif path.endswith("/hang"):
                server.release.wait(10)
                self._reply(200, b'{"status":"PASS"}')
            else:
                self._reply(400, b"unexpected path", "text/plain")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here


@pytest.fixture
def server() -> Iterator[EvaluatorServer]:
    state = EvaluatorServer(url="")
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
async def runner() -> AsyncIterator[HTTPRunner]:
    runner = HTTPRunner(runner_context())
    try:
        yield runner
    finally:
        await runner.close()


async def test_pass_and_request_envelope(runner: HTTPRunner, server: EvaluatorServer) -> None:
    out = await runner.run(f"{server.url}/evaluate/pass", evaluator_input(maxLagSeconds=300))
    assert (out.status, out.value, out.reason, out.failure_category) == (
        "PASS",
        {"lagSeconds": 45},
        "fresh",
        None,
    )
    assert server.received == [
        {
            "path": "/evaluate/pass",
            "type": "application/json",
            "body": {
                "pipelineId": "sales-daily",
                "traitType": "source-freshness",
                "config": {"maxLagSeconds": 300},
                "scheduleId": "morning",
                "date": "2026-03-02",
            },
        }
    ]


async def test_fail_keeps_reason_and_category(runner: HTTPRunner, server: EvaluatorServer) -> None:
    out = await runner.run(f"{server.url}/fail", evaluator_input())
    assert (out.status, out.reason, out.failure_category) == ("FAIL", "stale", FailureCategory.TRANSIENT)


@pytest.mark.parametrize(
    ("path", "reason", "category"),
    [
        ("missing", "EVALUATOR_HTTP_ERROR: status 404: no such evaluator", FailureCategory.PERMANENT),
        ("down", "EVALUATOR_HTTP_ERROR: status 503: warehouse unreachable", FailureCategory.TRANSIENT),
        ("throttled", "EVALUATOR_HTTP_ERROR: status 429", FailureCategory.TRANSIENT),
    ],
)
async def test_http_errors(
    runner: HTTPRunner, server: EvaluatorServer, path: str, reason: str, category: FailureCategory
) -> None:
    out = await runner.run(f"{server.url}/{path}", evaluator_input())
    assert (out.status, out.reason, out.failure_category) == ("FAIL", reason, category)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("not-json", "body is not JSON"),
        ("lowercase", '"status" is "pass"'),
        ("huge", "body exceeds 1048576 bytes"),
    ],
)
async def test_invalid_body(runner: HTTPRunner, server: EvaluatorServer, path: str, says: str) -> None:
    out = await runner.run(f"{server.url}/{path}", evaluator_input())
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None and out.reason.startswith("EVALUATOR_OUTPUT_INVALID: ")
    assert says in out.reason


async def test_long_error_body_is_cut(runner: HTTPRunner, server: EvaluatorServer) -> None:
    out = await runner.run(f"{server.url}/down-verbose", evaluator_input())
    assert out.failure_category is FailureCategory.TRANSIENT
    assert out.reason is not None and out.reason.startswith("EVALUATOR_HTTP_ERROR: status 500: EEEE")
    assert len(out.reason) < 300


async def test_reasons_do_not_show_credentials_or_query(runner: HTTPRunner, server: EvaluatorServer) -> None:
    url = server.url.replace("http://", "http://reader:s3cret@") + "/hang?code=t0ken"
    out = await runner.run(url, evaluator_input(timeout=0.3))
    assert out.reason == f"EVALUATOR_TIMEOUT: no answer from {server.url}/hang after 0.3s"


async def test_timeout(runner: HTTPRunner, server: EvaluatorServer) -> None:
    out = await runner.run(f"{server.url}/hang", evaluator_input(timeout=0.3))
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.TIMEOUT
    assert out.reason == f"EVALUATOR_TIMEOUT: no answer from {server.url}/hang after 0.3s"


async def test_connection_refused(runner: HTTPRunner) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = await runner.run(f"http://127.0.0.1:{port}/pass", evaluator_input())
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.TRANSIENT
    assert out.reason is not None
    assert out.reason.startswith(f"EVALUATOR_REQUEST_FAILED: http://127.0.0.1:{port}/pass: ")


async def test_config_without_json_form(runner: HTTPRunner, server: EvaluatorServer) -> None:
    config: dict[str, object] = {}
    config["self"] = config
    out = await runner.run(f"{server.url}/pass", evaluator_input(nested=config))
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None and out.reason.startswith("EVALUATOR_INPUT_INVALID: ")
    assert server.received == []


async def test_invalid_url_is_permanent(runner: HTTPRunner) -> None:
    out = await runner.run("http://", evaluator_input())
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None and out.reason.startswith("EVALUATOR_REQUEST_FAILED: http://: invalid URL")


@pytest.mark.parametrize("written", ["evaluate/pass", "/evaluate/pass", "//evaluate/pass"])
async def test_base_url_for_relative_names(server: EvaluatorServer, written: str) -> None:
    runner = HTTPRunner(runner_context(evaluator_base_url=server.url + "/"))
    try:
        assert runner.handles(written)
        out = await runner.run(written, evaluator_input())
    finally:
        await runner.close()
    assert out.status == "PASS", out.reason
    assert [r["path"] for r in server.received] == ["/evaluate/pass"]


async def test_handles(runner: HTTPRunner) -> None:
    assert runner.handles("http://x/check") and runner.handles("https://x/check")
    assert not runner.handles("check-freshness")
    assert not runner.handles("builtin:upstream-job-log")
    with_base = HTTPRunner(runner_context(evaluator_base_url="http://evaluators.internal"))
    try:
        assert with_base.handles("check-freshness")
        assert not with_base.handles("builtin:upstream-job-log")
        assert with_base.url_for("check-freshness") == "http://evaluators.internal/check-freshness"
        assert with_base.url_for("https://other/x") == "https://other/x"
    finally:
        await with_base.close()


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:8080/check",
                                 "http://metadata.google.internal/computeMetadata/v1/"])
async def test_link_local_and_metadata_addresses_are_never_reached(runner: HTTPRunner, url: str) -> None:
    out = await runner.run(url, evaluator_input())
    assert out.status == "FAIL" and out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None and "never reachable" in out.reason


async def test_outbound_deny_hosts_apply_to_evaluators(server: EvaluatorServer) -> None:
    runner = HTTPRunner(runner_context(outbound=HostPolicy(deny=["127.0.0.0/8"])))
    try:
        out = await runner.run(server.url.replace("127.0.0.1", "localhost") + "/pass", evaluator_input())
    finally:
        await runner.close()
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None and "denyHosts" in out.reason
    assert server.received == []


async def test_an_api_pipeline_is_not_shown_what_a_url_answers(runner: HTTPRunner, server: EvaluatorServer) -> None:
    asked = replace(evaluator_input(), origin=PipelineOrigin.API)
    missing = await runner.run(f"{server.url}/missing", asked)
    assert (missing.reason, missing.failure_category) == ("EVALUATOR_HTTP_ERROR: status 404",
                                                          FailureCategory.PERMANENT)
    not_json = await runner.run(f"{server.url}/not-json", asked)
    assert not_json.reason == ("EVALUATOR_OUTPUT_INVALID: body is not an evaluator answer "
                               "(a JSON object with a status)")
    assert (await runner.run(f"{server.url}/pass", asked)).status == "PASS"
