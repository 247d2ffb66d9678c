"""The OpenTelemetry implementation of the tracing port, in this process, exporting to a real OTLP/HTTP
receiver: what a span carries (redacted text, a failure's type and message but no traceback), what a
cancellation is (no failure), the metrics mirror, and the trace context it injects and extracts."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from interlock_core import tracing
from interlock_core.metrics import METRICS
from interlock_server import telemetry
from tests.helpers.otlp import Receiver, otlp_receiver

pytest.importorskip("opentelemetry.sdk")


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with otlp_receiver() as running:
        for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_RESOURCE_ATTRIBUTES",
                     "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.url)
        assert telemetry.configure_telemetry() is not None
        try:
            yield running
        finally:
            telemetry.shutdown_telemetry()
    assert not tracing.enabled() and METRICS.hook is None


async def test_spans_carry_redacted_text_and_a_failure_without_its_traceback(receiver: Receiver) -> None:
    with tracing.span("interlock.trait", **{"interlock.reason": "db password=hunter2 refused", "n": 3, "none": None}):
        assert tracing.current_ids() is not None
    with pytest.raises(RuntimeError), tracing.span("interlock.launch", "client"):
        raise RuntimeError("token=abc123 rejected")
    with anyio.move_on_after(0), tracing.span("interlock.poll"):
        await anyio.sleep(1)  # cancelled: not a failure
    telemetry.flush_telemetry()

    trait = receiver.one("interlock.trait")
    assert trait.attributes == {"interlock.reason": "db password=*** refused", "n": 3}
    assert trait.resource["service.name"] == "interlock"
    launch = receiver.one("interlock.launch")
    assert (launch.kind, launch.status) == ("client", "error")
    assert launch.status_message == "RuntimeError: token=*** rejected"
    assert receiver.one("interlock.poll").status == "unset"


async def test_trace_context_is_injected_inside_a_span_and_extracted_from_a_carrier(receiver: Receiver) -> None:
    assert tracing.inject({}) == {}  # no span: nothing to hand on
    with tracing.span("interlock.launch", "client"):
        carrier = tracing.inject({})
    with tracing.extract(carrier), tracing.span("POST /api/runs/{runId}/complete", "server"):
        pass
    with tracing.extract({"traceparent": "not-a-traceparent"}), tracing.span("GET /api/health", "server"):
        pass
    telemetry.flush_telemetry()

    launch, callback = receiver.one("interlock.launch"), receiver.one("POST /api/runs/{runId}/complete")
    assert carrier["traceparent"].startswith(f"00-{launch.trace_id}-{launch.span_id}-")
    assert (callback.trace_id, callback.parent_id) == (launch.trace_id, launch.span_id)
    assert receiver.one("GET /api/health").parent_id == ""  # a bad traceparent starts a new trace


async def test_metrics_mirror_counters_histograms_and_gauges(receiver: Receiver) -> None:
    METRICS.inc("interlock_sla_breaches_total", kind="deadline")
    METRICS.observe("interlock_evaluation_seconds", 0.2)
    METRICS.set_gauge("interlock_watcher_lag_seconds", 1.5)
    telemetry.flush_telemetry()
    assert receiver.metrics["interlock_sla_breaches_total"] == {"kind": "sum", "points": [{"kind": "deadline"}]}
    assert receiver.metrics["interlock_evaluation_seconds"]["kind"] == "histogram"
    assert receiver.metrics["interlock_watcher_lag_seconds"]["kind"] == "gauge"
