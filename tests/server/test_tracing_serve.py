"""OpenTelemetry end to end: a real ``interlock serve`` with the standard OTEL_* variables pointing
at a real OTLP/HTTP receiver (protobuf decoded with ``opentelemetry-proto``). One evaluation and
launch through the API, the job's completion callback sent back with the ``traceparent`` the job
received: one trace runs from the gate through the job to the callback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.otlp import Receiver, otlp_receiver
from tests.helpers.served import start_serve

from .support import Webhook, http_pipeline, webhook_server, write_project

pytest.importorskip("opentelemetry.sdk")

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-0[13]$")
"""Version 00, sampled (01; 03 where the SDK also flags the trace id random, W3C level 2)."""


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


async def test_one_trace_runs_from_the_gate_through_the_job_to_its_callback(tmp_path: Path, hook: Webhook) -> None:
    unwatched = {"watch": {"enabled": False}}  # the API drives them
    upstream = http_pipeline("traced", hook.url, **unwatched)
    upstream["traits"]["signal"] = {"ttl": 600}  # optional and pushed: nothing pushed yet
    downstream = http_pipeline("after-traced", hook.url, **unwatched)
    downstream["traits"]["source-ready"]["config"] = {"upstreamPipeline": "traced"}
    watched = http_pipeline("watched", hook.url, evaluator="fail")  # the watcher's: evaluated, never launched
    root = write_project(tmp_path / "project", pipelines=[upstream, downstream, watched],
                         config={"watcher": {"enabled": True, "defaultInterval": "1h"}})
    with otlp_receiver() as receiver:
        served = start_serve(root, env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "interlock-e2e",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000", "OTEL_BSP_SCHEDULE_DELAY": "600000"})
        try:
            async with served.client() as client:
                started = await client.post("/api/pipelines/traced/run")
                assert started.status_code == 202, started.text
                run_id = started.json()["runId"]
                # the job received the launch's trace context and sends it back with its callback
                traceparent = hook.last_header("traceparent")
                assert traceparent is not None and TRACEPARENT.match(traceparent), hook.requests
                done = await client.post(f"/api/runs/{run_id}/complete", json={"status": "success"},
                                         headers={"traceparent": traceparent})
                assert done.status_code == 200, done.text
        finally:
            assert served.stop() == 0, served.log()[-4000:]  # a graceful stop exports what is buffered
        check_trace(receiver, run_id, traceparent)
        check_metrics(receiver)
        check_log_lines(served.log(), receiver)


def check_trace(receiver: Receiver, run_id: str, traceparent: str) -> None:
    assert {span.resource.get("service.name") for span in receiver.spans} == {"interlock-e2e"}
    request = receiver.one("POST /api/pipelines/{id}/run")
    assert (request.kind, request.parent_id, request.attributes["http.route"],
            request.attributes["http.response.status_code"]) == ("server", "", "/api/pipelines/{id}/run", 202)

    (evaluation,) = [span for span in receiver.children(request) if span.name == "interlock.evaluate"]
    assert evaluation.attributes["interlock.pipeline"] == "traced"
    assert evaluation.attributes["interlock.status"] == "READY"
    traits = {span.attributes["interlock.trait"]: span for span in receiver.children(evaluation)}
    assert set(traits) == {"source-ready", "signal"}  # one child per trait, evaluated or pushed
    assert traits["source-ready"].attributes["interlock.status"] == "PASS"
    assert traits["source-ready"].attributes["interlock.source"] == "evaluator"
    assert (traits["signal"].attributes["interlock.status"], traits["signal"].attributes["interlock.source"]) == (
        "STALE", "pushed")
    assert "no result pushed" in traits["signal"].attributes["interlock.reason"]

    launch = receiver.one("interlock.launch")
    assert (launch.kind, launch.trace_id, launch.parent_id) == ("client", request.trace_id, request.span_id)
    assert launch.attributes["interlock.run_id"] == run_id
    assert (launch.attributes["interlock.trigger_type"], launch.attributes["interlock.status"]) == ("http", "RUNNING")
    # what the job received is the launch span itself
    assert traceparent[:-3] == f"00-{launch.trace_id}-{launch.span_id}"

    callback = receiver.one("POST /api/runs/{runId}/complete")
    assert (callback.kind, callback.trace_id, callback.parent_id) == ("server", launch.trace_id, launch.span_id)
    complete = receiver.one("interlock.complete")
    assert (complete.trace_id, complete.parent_id) == (callback.trace_id, callback.span_id)
    assert (complete.attributes["interlock.run_id"], complete.attributes["interlock.status"]) == (run_id, "COMPLETED")
    cascade = receiver.one("interlock.cascade")
    assert (cascade.parent_id, cascade.attributes["interlock.notified"]) == (complete.span_id, 1)

    # the watcher's first pass worked its one cycle: a root span, the evaluation below it
    first = receiver.named("interlock.watcher.pass")[0]
    assert (first.parent_id, first.attributes["interlock.due"], first.attributes["interlock.all_cycles"]) == (
        "", 1, True)
    (watched,) = [span for span in receiver.children(first) if span.name == "interlock.evaluate"]
    assert (watched.attributes["interlock.pipeline"], watched.attributes["interlock.status"]) == (
        "watched", "NOT_READY")
    assert all(span.status != "error" for span in receiver.spans), [s for s in receiver.spans if s.status == "error"]


def check_metrics(receiver: Receiver) -> None:
    metrics = receiver.metrics
    assert metrics["interlock_evaluation_seconds"]["kind"] == "histogram"
    assert {"result": "READY"} in metrics["interlock_evaluations_total"]["points"]
    assert {"type": "http", "outcome": "running"} in metrics["interlock_triggers_total"]["points"]
    assert metrics["interlock_http_request_seconds"]["kind"] == "histogram"
    assert metrics["interlock_watcher_last_pass_timestamp_seconds"]["kind"] == "gauge"
    assert {"pipeline": "traced"} in metrics["interlock_pipeline_ready"]["points"]


def check_log_lines(log: str, receiver: Receiver) -> None:
    """The access line of the run request carries its trace and span ids."""
    request = receiver.one("POST /api/pipelines/{id}/run")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [line for line in lines
              if line.get("event") == "request" and line.get("route") == "/api/pipelines/{id}/run"]
    assert [(line["trace_id"], line["span_id"]) for line in access] == [(request.trace_id, request.span_id)]
