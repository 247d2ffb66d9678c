"""What the control path traces, through core's tracing port (an in-memory tracer; the OpenTelemetry
implementation is tested end to end against a real OTLP receiver in tests/server/test_tracing_serve.py):
an evaluation with one child per trait, a launch whose trace context reaches the job, completion and
cascade, alert delivery, the watcher pass; and the watcher-lag and dead-letter metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest
from pydantic import BaseModel

from interlock_core import tracing
from interlock_core.alerts import AlertDispatcher
from interlock_core.clock import FakeClock
from interlock_core.metrics import METRICS
from interlock_core.model import Alert, AlertLevel, RunStatus
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline
from tests.helpers.tracing import RecordingTracer, recording
from tests.server.support import webhook_server

S = RunStatus


@pytest.fixture
def tracer() -> Iterator[RecordingTracer]:
    with recording() as installed:
        yield installed


def traceparent_of(span: object) -> str:
    return f"00-{span.trace_id:032x}-{span.span_id:016x}-01"  # type: ignore[attr-defined]


async def test_an_evaluation_has_one_child_per_trait_with_status_reason_and_category(
        harness: Harness, tracer: RecordingTracer) -> None:
    harness.write([pipeline("p1")])
    harness.sensors.set("p1.freshness", "FAIL lag 900s")
    harness.sensors.set("p1.volume", "CRASH")
    engine = await harness.engine()

    await engine.evaluate("p1")

    evaluation = tracer.one("interlock.evaluate")
    assert evaluation.parent is None and evaluation.error is None
    assert evaluation.attributes == {"interlock.pipeline": "p1", "interlock.schedule": "daily",
                                     "interlock.date": "2026-03-02", "interlock.traits": 2,
                                     "interlock.status": "NOT_READY", "interlock.blocking": "freshness,volume"}
    traits = {span.attributes["interlock.trait"]: span.attributes for span in tracer.children(evaluation)}
    assert set(traits) == {"freshness", "volume"}
    assert (traits["freshness"]["interlock.status"], traits["freshness"]["interlock.reason"]) == ("FAIL", "lag 900s")
    assert traits["freshness"]["interlock.trait.required"] is True
    assert traits["volume"]["interlock.status"] == "FAIL"
    assert traits["volume"]["interlock.failure_category"] == "TRANSIENT"  # a crashed evaluator
    assert all(span.ended for span in tracer.spans)


async def test_a_launch_hands_the_job_its_trace_context_and_completion_cascades_in_one_span_tree(
        harness: Harness, tracer: RecordingTracer) -> None:
    with webhook_server() as hook:
        down = pipeline("down")
        down["traits"]["freshness"]["config"]["upstreamPipeline"] = "up"
        harness.write([pipeline("up", trigger={"type": "http", "url": hook.url}), down])
        harness.sensors.ready("up")
        engine = await harness.engine()
        outcome = await engine.start_run("up")
        assert outcome.run is not None and outcome.run.status is S.RUNNING
        sent = next(v for k, v in hook.requests[0]["headers"].items() if k.lower() == "traceparent")

        launch = tracer.one("interlock.launch")
        assert sent == traceparent_of(launch)  # the job can continue the launch's trace
        assert launch.kind == "client"
        assert launch.attributes == {
            "interlock.pipeline": "up", "interlock.run_id": outcome.run.run_id, "interlock.schedule": "daily",
            "interlock.date": "2026-03-02", "interlock.trigger_type": "http", "interlock.attempt": 1,
            "interlock.relaunch": 0, "interlock.status": "RUNNING"}

        with tracing.span("POST /api/runs/{runId}/complete", "server"):
            await engine.complete_run(outcome.run.run_id, "success")
        complete = tracer.one("interlock.complete")
        assert complete.parent is tracer.one("POST /api/runs/{runId}/complete")
        assert complete.attributes["interlock.status"] == "COMPLETED"
        cascade = tracer.one("interlock.cascade")
        assert cascade.parent is complete and cascade.attributes["interlock.notified"] == 1


async def test_a_failed_launch_marks_its_span_failed(harness: Harness, tracer: RecordingTracer) -> None:
    with webhook_server() as hook:
        hook.status = 400
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        outcome = await engine.start_run("p1")
    assert outcome.run is not None and outcome.run.status is S.FAILED
    launch = tracer.one("interlock.launch")
    assert launch.error == "launch failed (PERMANENT)"
    assert (launch.attributes["interlock.status"], launch.attributes["interlock.failure_category"]) == (
        "FAILED", "PERMANENT")


async def test_without_a_tracer_nothing_is_traced_and_the_job_gets_no_trace_context(harness: Harness) -> None:
    assert not tracing.enabled()
    assert tracing.span("interlock.anything", x=1) is tracing.NO_SPAN
    assert tracing.inject({}) == {} and tracing.current_ids() is None
    with webhook_server() as hook:
        harness.write([pipeline("p1", trigger={"type": "http", "url": hook.url})])
        harness.sensors.ready("p1")
        engine = await harness.engine()
        await engine.start_run("p1")
    assert not any(k.lower() in ("traceparent", "tracestate") for k in hook.requests[0]["headers"])


class _Refusing:
    name: ClassVar[str] = "refusing"
    config_model: ClassVar[type[BaseModel]] = BaseModel

    async def send(self, alert: Alert) -> None:
        raise ConnectionError("sink down")

    async def close(self) -> None:
        pass


class _Taking(_Refusing):
    async def send(self, alert: Alert) -> None:
        pass


async def test_alert_delivery_is_a_span_and_a_dead_letter_is_counted(tracer: RecordingTracer) -> None:
    dispatcher = AlertDispatcher([("down", _Refusing()), ("up", _Taking())], clock=FakeClock(), retries=2,
                                 backoff=0.0)
    before = METRICS.value("interlock_alerts_dead_lettered_total", sink="down")
    delivered = METRICS.value("interlock_alerts_total", sink="up", outcome="delivered")
    dispatcher.submit(Alert(level=AlertLevel.ERROR, message="boom", pipeline_id="p1", key="k1",
                            timestamp=FakeClock().now()))
    await dispatcher.deliver_pending()

    spans = {span.attributes["interlock.sink"]: span for span in tracer.named("interlock.alert.deliver")}
    assert spans["up"].error is None and spans["up"].attributes["interlock.attempts"] == 1
    assert spans["down"].attributes["interlock.attempts"] == 3  # two attempts, then the dead letter
    assert spans["down"].error is not None and "dead-lettered after 2 attempts" in spans["down"].error
    assert spans["down"].attributes["interlock.pipeline"] == "p1" and spans["down"].kind == "producer"
    assert METRICS.value("interlock_alerts_dead_lettered_total", sink="down") == before + 1
    assert METRICS.value("interlock_alerts_total", sink="up", outcome="delivered") == delivered + 1


async def test_a_watcher_pass_is_a_span_and_reports_its_lag(harness: Harness, tracer: RecordingTracer) -> None:
    harness.write([pipeline("p1", watch={"interval": "10s"})])
    engine = await harness.engine()
    watcher = Watcher(engine)
    await watcher.run_once()
    assert METRICS.gauge("interlock_watcher_lag_seconds") == 0.0
    assert METRICS.gauge("interlock_watcher_last_pass_timestamp_seconds") == harness.clock.now().timestamp()

    harness.clock.advance(17)  # due 10 s after the first pass: worked 7 s late
    stats = await watcher.run_once(all_cycles=False)
    assert stats.lag == 7.0 and METRICS.gauge("interlock_watcher_lag_seconds") == 7.0
    assert METRICS.gauge("interlock_watcher_last_pass_timestamp_seconds") == harness.clock.now().timestamp()

    harness.clock.advance(1)  # nothing due: an idle pass is no span
    await watcher.run_once(all_cycles=False)
    assert METRICS.gauge("interlock_watcher_last_pass_timestamp_seconds") == harness.clock.now().timestamp()

    passes = tracer.named("interlock.watcher.pass")
    assert len(passes) == 2 and all(span.parent is None for span in passes)
    assert passes[0].attributes["interlock.all_cycles"] is True
    assert (passes[1].attributes["interlock.due"], passes[1].attributes["interlock.cycles"]) == (1, 1)
    # the pass's work is traced inside it
    assert {span.parent.name for span in tracer.named("interlock.evaluate") if span.parent} == {
        "interlock.watcher.pass"}
