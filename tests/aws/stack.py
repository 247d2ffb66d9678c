"""An Interlock AWS stack inside the test process: moto in server mode with its Step Functions
interpreter on, the real ASL file, the five Lambda functions routed in-process to our handlers,
a DynamoDB table whose stream feeds the stream-router, an SNS topic whose alerts land in an SQS
queue, the alert dead-letter queue (``ALERT_DLQ_URL``; empty unless a publish fails), and a small
HTTP server playing the HTTP evaluators (it reads sensor values the test sets).

Time: the engine runs on a :class:`ShiftedClock` that starts at a fixed instant and moves with
real time. The interpreter's Wait states and Retry intervals do not sleep (unless the stack is
made with ``real_waits``): they move that clock forward instead, so backoffs, poll intervals
and monitoring windows pass at once while the engine sees them elapse.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from interlock_core.model import PipelineConfig
from interlock_plugins.stores.dynamodb import DynamoDBStore
from interlock_server.aws import evaluator, init, orchestrator, run_checker, stream_router, trigger
from tests.moto_server import FAKE_ACCOUNT, FAKE_REGION, MotoServer

ASL = Path(__file__).resolve().parents[2] / "deploy" / "statemachine.asl.json"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
TODAY = START.date().isoformat()
HANDLERS: dict[str, Callable[[Any, Any], Any]] = {
    "interlock-orchestrator": orchestrator.handler,
    "interlock-evaluator": evaluator.handler,
    "interlock-trigger": trigger.handler,
    "interlock-run-checker": run_checker.handler,
    "interlock-stream-router": stream_router.handler,
}
PLACEHOLDERS = {
    "${OrchestratorFunctionArn}": "interlock-orchestrator",
    "${EvaluatorFunctionArn}": "interlock-evaluator",
    "${TriggerFunctionArn}": "interlock-trigger",
    "${RunCheckerFunctionArn}": "interlock-run-checker",
}


class ShiftedClock:
    """``start`` plus the real time elapsed since, plus every skipped wait."""

    def __init__(self, start: datetime = START) -> None:
        self._start = start
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic() - self._origin)

    def monotonic(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += max(0.0, float(seconds))


class Sensors:
    """What the HTTP evaluators report; the test changes it between (and during) executions."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.lock = threading.Lock()

    def set(self, **values: Any) -> None:
        with self.lock:
            self.values.update(values)

    def get(self, name: str) -> Any:
        with self.lock:
            return self.values.get(name)


def _evaluate(path: str, config: dict[str, Any], sensors: Sensors) -> dict[str, Any]:
    if path == "/freshness":
        lag, limit = sensors.get("lag"), config.get("maxLagSeconds", 300)
        if lag is None:
            return {"status": "FAIL", "value": {"error": "sensor lag not set"}}
        return {"status": "PASS" if lag <= limit else "FAIL", "value": {"lagSeconds": lag, "threshold": limit},
                "reason": f"lag {lag}s vs threshold {limit}s"}
    if path == "/record-count":
        count, threshold = sensors.get("count"), config.get("threshold", 1000)
        if count is None:
            return {"status": "FAIL", "value": {"error": "sensor count not set"}}
        return {"status": "PASS" if count >= threshold else "FAIL", "value": {"count": count, "threshold": threshold}}
    if path == "/upstream-check":
        complete = sensors.get("complete") is True
        return {"status": "PASS" if complete else "FAIL", "value": {"complete": complete}}
    return {"status": "FAIL", "reason": f"unknown evaluator {path}"}


@contextmanager
def evaluator_server(sensors: Sensors) -> Iterator[str]:
    """HTTP evaluators on 127.0.0.1: ``POST /<name>`` with the evaluation request, answered from ``sensors``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = json.loads(raw or b"{}")
            reply = json.dumps(_evaluate(self.path, request.get("config") or {}, sensors)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Execution:
    arn: str
    name: str
    status: str
    output: dict[str, Any] | None
    entered: list[str]
    error: str | None = None
    cause: str | None = None

    def entered_all(self, *states: str) -> bool:
        return all(state in self.entered for state in states)


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@dataclass
class AWSStack:
    moto: MotoServer
    clock: ShiftedClock
    sensors: Sensors
    evaluator_url: str
    real_waits: bool = False
    table: str = field(default_factory=lambda: f"interlock-{uuid.uuid4().hex[:8]}")
    waits: list[float] = field(default_factory=list)
    wait_hooks: list[Callable[[float], None]] = field(default_factory=list)
    runtime: init.LambdaRuntime | None = None
    state_machine_arn: str = ""
    topic_arn: str = ""
    queue_url: str = ""
    dead_letter_url: str = ""

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=FAKE_REGION, endpoint_url=self.moto.url)

    # ------------------------------------------------------------------------------ set-up
    def build(self, monkeypatch: pytest.MonkeyPatch) -> AWSStack:
        self.moto.reset()
        self.moto.configure({"stepfunctions": {"execute_state_machine": True}})
        monkeypatch.setattr("moto.awslambda.models.LambdaFunction.invoke", _invoke)
        if not self.real_waits:
            from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
            from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

            def skip_wait(_state: Any, env: Any, wait_seconds: float) -> None:
                self.waited(wait_seconds)

            monkeypatch.setattr(WaitFunction, "_wait_interval", skip_wait)
            monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=self.waited))
        role = self.client("iam").create_role(
            RoleName="interlock", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        lam = self.client("lambda")
        arns = {}
        for name in HANDLERS:
            arns[name] = lam.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                             Handler="handler.handler", Code={"ZipFile": _lambda_zip()})["FunctionArn"]
        self.topic_arn = self.client("sns").create_topic(Name="interlock-alerts")["TopicArn"]
        sqs = self.client("sqs")
        self.queue_url = sqs.create_queue(QueueName="interlock-alerts")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        queue_arn = attributes["Attributes"]["QueueArn"]
        self.client("sns").subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self.dead_letter_url = sqs.create_queue(QueueName="interlock-alert-dlq")["QueueUrl"]

        env = {"TABLE_NAME": self.table, "AWS_REGION": FAKE_REGION, "SNS_TOPIC_ARN": self.topic_arn,
               "EVALUATOR_BASE_URL": self.evaluator_url, "AWS_ENDPOINT_URL": self.moto.url,
               "ARCHETYPE_DIR": "/nonexistent", "READINESS_TTL": "1h", "RETENTION_TTL": "168h",
               "ALERT_DLQ_URL": self.dead_letter_url}
        settings = init.LambdaSettings.from_env(env)
        store = DynamoDBStore(table_name=self.table, region=FAKE_REGION, endpoint=self.moto.url, create_table=True,
                              clock=self.clock)
        self.runtime = init.LambdaRuntime(settings, clock=self.clock, store=store)
        previous = init.install_runtime(self.runtime)
        if previous is not None:
            previous.close()

        stream = self.client("dynamodb").describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="interlock-stream-router",
                                        StartingPosition="LATEST", BatchSize=10)
        definition = ASL.read_text().replace("${AlertTopicArn}", self.topic_arn)
        for placeholder, name in PLACEHOLDERS.items():
            definition = definition.replace(placeholder, arns[name])
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name="interlock-pipeline", definition=definition, type="STANDARD",
            roleArn=f"arn:aws:iam::{FAKE_ACCOUNT}:role/interlock")["stateMachineArn"]
        monkeypatch.setenv("STATE_MACHINE_ARN", self.state_machine_arn)
        monkeypatch.setenv("AWS_ENDPOINT_URL", self.moto.url)
        monkeypatch.setattr(stream_router, "_client", None)
        return self

    def close(self) -> None:
        current = init.install_runtime(None)
        if current is not None:
            current.close()
        try:  # moto's configuration outlives this stack: leave the interpreter off for other suites
            self.moto.configure({"stepfunctions": {"execute_state_machine": False}})
        except Exception:
            pass

    def waited(self, seconds: float) -> None:
        """A Wait state or a Retry interval that did not sleep: the engine's clock moves instead."""
        self.clock.advance(seconds)
        self.waits.append(float(seconds))
        for hook in list(self.wait_hooks):
            hook(float(seconds))

    # ------------------------------------------------------------------------------ engine side
    def engine(self, call: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run ``call(store)`` on the Lambda runtime's engine loop."""
        assert self.runtime is not None
        return self.runtime.run(lambda steps: call(steps.ctx.store))

    def put_pipeline(self, data: dict[str, Any]) -> None:
        pipeline = PipelineConfig.model_validate(data)
        self.engine(lambda store: store.put_pipeline(pipeline))

    def run_log(self, pipeline: str, date: str = TODAY, schedule: str = "daily") -> Any:
        return self.engine(lambda store: store.get_run_log(pipeline, date, schedule))

    def events(self, pipeline: str) -> list[Any]:
        return list(self.engine(lambda store: store.list_events(pipeline, 500)))

    def event_kinds(self, pipeline: str) -> list[str]:
        return [e.kind.value for e in self.events(pipeline)]

    def runs(self, pipeline: str) -> list[Any]:
        return list(self.engine(lambda store: store.list_runs(pipeline, 50)))

    def reruns(self, pipeline: str) -> list[Any]:
        return list(self.engine(lambda store: store.list_reruns(pipeline, 50)))

    # ------------------------------------------------------------------------------ executions
    def start(self, name: str, **execution_input: Any) -> str:
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input))
        return str(response["executionArn"])

    def wait(self, arn: str, timeout: float = 60.0) -> Execution:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {arn} still RUNNING after {timeout}s")
            time.sleep(0.05)
        entered, token = [], None
        while True:
            more = {"nextToken": token} if token else {}
            page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **more)
            entered += [e["stateEnteredEventDetails"]["name"] for e in page["events"]
                        if "stateEnteredEventDetails" in e]
            token = page.get("nextToken")
            if not token:
                break
        output = json.loads(described["output"]) if described.get("output") else None
        return Execution(arn, described["name"], described["status"], output, entered,
                         described.get("error"), described.get("cause"))

    def run(self, name: str, **execution_input: Any) -> Execution:
        return self.wait(self.start(name, **execution_input))

    def executions(self) -> list[dict[str, Any]]:
        listed = self.client("stepfunctions").list_executions(stateMachineArn=self.state_machine_arn, maxResults=1000)
        return list(listed["executions"])

    def wait_for_execution(self, fragment: str, count: int = 1, timeout: float = 30.0) -> list[Execution]:
        """The executions whose name contains ``fragment`` (at least ``count``), once all finished."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.executions() if fragment in e["name"]]
            if len(found) >= count and all(e["status"] != "RUNNING" for e in found):
                return [self.wait(e["executionArn"]) for e in sorted(found, key=lambda e: e["startDate"])]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count} finished execution(s) named *{fragment}*: {found}")
            time.sleep(0.05)

    def dead_letters(self) -> list[dict[str, Any]]:
        """The alerts waiting in the alert dead-letter queue (left there)."""
        got = self.client("sqs").receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10,
                                                 WaitTimeSeconds=0, VisibilityTimeout=0)
        return [json.loads(message["Body"]) for message in got.get("Messages", [])]

    def alerts(self) -> list[dict[str, str]]:
        """Every SNS message delivered so far, as ``{"subject", "message"}``."""
        sqs, out = self.client("sqs"), []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                body = json.loads(message["Body"])
                out.append({"subject": body.get("Subject") or "", "message": body.get("Message") or ""})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def _invoke(function: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    """moto's LambdaFunction.invoke, routed to our handler for the function's name (no Docker)."""
    handler = HANDLERS[function.function_name]
    event = json.loads(body) if body else {}
    try:
        result = handler(event, None)
    except Exception as exc:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []}).encode()
    return json.dumps(result).encode()
