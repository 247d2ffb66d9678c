"""The OpenTelemetry implementation of core's tracing port and metrics hook. Imported only by
:func:`interlock_server.telemetry.configure_telemetry`, when the environment asks for it.

Traces and metrics are exported as OpenTelemetry's environment variables say
(``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: ``otlp``, the default, over HTTP/protobuf
— ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` needs ``opentelemetry-exporter-otlp-proto-grpc`` —,
``console`` or ``none``). Spans carry only what Interlock chose to record, every text through the
one redaction pass; an exception leaving a span marks it failed with its type and redacted
message, never its traceback or arguments.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from interlock_core import tracing
from interlock_core.metrics import DEFAULT_BUCKETS, GAUGES, HELP, METRICS, LabelKey
from interlock_core.redaction import redact_text

from . import __version__

log = logging.getLogger("interlock.telemetry")

SCOPE = "interlock"
DEFAULT_SERVICE_NAME = "interlock"
MAX_ATTRIBUTE_LENGTH = 1024
KINDS = {"internal": SpanKind.INTERNAL, "server": SpanKind.SERVER, "client": SpanKind.CLIENT,
         "producer": SpanKind.PRODUCER, "consumer": SpanKind.CONSUMER}


def _value(value: object) -> str | bool | int | float:
    if isinstance(value, bool | int | float):
        return value
    text = redact_text(str(value))
    return text if len(text) <= MAX_ATTRIBUTE_LENGTH else text[:MAX_ATTRIBUTE_LENGTH] + "…"


def _attributes(attributes: Mapping[str, object]) -> dict[str, str | bool | int | float]:
    return {key: _value(value) for key, value in attributes.items() if value is not None}


class OtelSpan:
    __slots__ = ("_span",)
    recording = True

    def __init__(self, span: otel_trace.Span) -> None:
        self._span = span

    def set(self, **attributes: object) -> None:
        self._span.set_attributes(_attributes(attributes))

    def rename(self, name: str) -> None:
        self._span.update_name(name)

    def error(self, message: str) -> None:
        self._span.set_status(Status(StatusCode.ERROR, _value(message) if message else None))  # type: ignore[arg-type]


class _Block:
    """One ``with span(...)``: the span is current inside the block and ended when it is left."""

    __slots__ = ("_attributes", "_kind", "_name", "_span", "_token", "_tracer")

    def __init__(self, tracer: otel_trace.Tracer, name: str, kind: SpanKind, attributes: dict[str, object]) -> None:
        self._tracer, self._name, self._kind, self._attributes = tracer, name, kind, attributes

    def __enter__(self) -> OtelSpan:
        self._span = self._tracer.start_span(self._name, kind=self._kind, attributes=_attributes(self._attributes))
        self._token = otel_context.attach(otel_trace.set_span_in_context(self._span))
        return OtelSpan(self._span)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        try:
            if isinstance(error, Exception):  # a cancellation is no failure
                description = _value(f"{type(error).__name__}: {error}")
                self._span.set_status(Status(StatusCode.ERROR, str(description)))
                self._span.add_event("exception", {"exception.type": type(error).__name__,
                                                   "exception.message": description})
        finally:
            otel_context.detach(self._token)
            self._span.end()


class _Extracted:
    __slots__ = ("_carrier", "_token")

    def __init__(self, carrier: Mapping[str, str]) -> None:
        self._carrier = carrier

    def __enter__(self) -> None:
        self._token = otel_context.attach(propagate.extract(self._carrier))

    def __exit__(self, *exc: object) -> None:
        otel_context.detach(self._token)


class OtelTracer:
    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer(SCOPE, __version__)

    def span(self, name: str, kind: tracing.SpanKind, attributes: dict[str, object]) -> AbstractContextManager[Any]:
        return _Block(self._tracer, name, KINDS[kind], attributes)

    def inject(self, carrier: MutableMapping[str, str]) -> None:
        propagate.inject(carrier)

    def extract(self, carrier: Mapping[str, str]) -> AbstractContextManager[None]:
        return _Extracted(carrier)

    def current_ids(self) -> tuple[str, str] | None:
        context = otel_trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return format(context.trace_id, "032x"), format(context.span_id, "016x")


class OtelMetrics:
    """Mirrors :data:`interlock_core.metrics.METRICS`: counters and histograms as they are recorded
    (same names, same labels), gauges read when exported."""

    def __init__(self, provider: MeterProvider) -> None:
        self._meter = provider.get_meter(SCOPE, __version__)
        self._lock = threading.Lock()
        self._counters: dict[str, Any] = {}
        self._histograms: dict[str, Any] = {}
        for name in sorted(GAUGES):
            self._meter.create_observable_gauge(name, callbacks=[self._gauge_reader(name)],
                                                description=HELP.get(name, ""), unit=_unit(name))

    def count(self, name: str, amount: float, labels: LabelKey) -> None:
        counter = self._counters.get(name)
        if counter is None:
            with self._lock:
                counter = self._counters.get(name) or self._meter.create_counter(
                    name, unit=_unit(name), description=HELP.get(name, ""))
                self._counters[name] = counter
        counter.add(amount, dict(labels))

    def observe(self, name: str, value: float, labels: LabelKey) -> None:
        histogram = self._histograms.get(name)
        if histogram is None:
            with self._lock:
                histogram = self._histograms.get(name) or self._meter.create_histogram(
                    name, unit=_unit(name), description=HELP.get(name, ""),
                    explicit_bucket_boundaries_advisory=list(DEFAULT_BUCKETS))
                self._histograms[name] = histogram
        histogram.record(value, dict(labels))

    @staticmethod
    def _gauge_reader(name: str) -> Any:
        def read(_options: CallbackOptions) -> Iterable[Observation]:
            METRICS.collect()
            return [Observation(value, dict(labels)) for metric, labels, value in METRICS.iter_gauges()
                    if metric == name]

        return read


def _unit(name: str) -> str:
    return "s" if name.endswith("_seconds") else "1"


def _exporters(variable: str) -> list[str]:
    names = [n.strip().lower() for n in os.environ.get(variable, "otlp").split(",") if n.strip()]
    return [n for n in names if n != "none"]


def _protocol(signal: str) -> str:
    return (os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf").strip().lower()


def _span_exporter(name: str) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported (otlp, console, none): ignored", name)
        return None
    if _protocol("TRACES") == "grpc":
        grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
        exporter: SpanExporter = grpc.OTLPSpanExporter()
        return exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _metric_exporter(name: str) -> MetricExporter | None:
    if name == "console":
        return ConsoleMetricExporter()
    if name == "prometheus":
        log.info("OTEL_METRICS_EXPORTER=prometheus: the server's own /metrics is the Prometheus endpoint")
        return None
    if name != "otlp":
        log.warning("OTEL_METRICS_EXPORTER=%s is not supported (otlp, console, none): ignored", name)
        return None
    if _protocol("METRICS") == "grpc":
        grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.metric_exporter")
        exporter: MetricExporter = grpc.OTLPMetricExporter()
        return exporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def resource() -> Resource:
    """OpenTelemetry's resource from the environment, ``service.name`` ``interlock`` unless it names one."""
    detected = Resource.create({})
    extra: dict[str, str] = {}
    if str(detected.attributes.get("service.name", "")).startswith("unknown_service"):
        extra["service.name"] = DEFAULT_SERVICE_NAME
    if "service.version" not in detected.attributes:
        extra["service.version"] = __version__
    return detected.merge(Resource(extra))


class Installed:
    """The providers behind the port, until :meth:`shutdown`."""

    def __init__(self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider

    def flush(self, timeout_s: float = 5.0) -> None:
        millis = int(timeout_s * 1000)
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush(millis)
        if self.meter_provider is not None:
            self.meter_provider.force_flush(millis)

    def shutdown(self) -> None:
        if METRICS.hook is not None:
            METRICS.hook = None
        tracing.install(None)
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


def install() -> Installed:
    """Create the providers the environment asks for and put them behind core's port and hook."""
    shared = resource()
    tracer_provider = None
    processors = [BatchSpanProcessor(e) for e in map(_span_exporter, _exporters("OTEL_TRACES_EXPORTER")) if e]
    if processors:
        tracer_provider = TracerProvider(resource=shared)
        for processor in processors:
            tracer_provider.add_span_processor(processor)
    meter_provider = None
    readers: list[MetricReader] = [PeriodicExportingMetricReader(e)
                                   for e in map(_metric_exporter, _exporters("OTEL_METRICS_EXPORTER")) if e]
    if readers:
        meter_provider = MeterProvider(resource=shared, metric_readers=readers)
    installed = Installed(tracer_provider, meter_provider)
    if tracer_provider is not None:
        tracing.install(OtelTracer(tracer_provider))
    if meter_provider is not None:
        METRICS.hook = OtelMetrics(meter_provider)
    log.info("OpenTelemetry on: traces %s, metrics %s, service %s",
             "exported" if tracer_provider else "off", "exported" if meter_provider else "off",
             shared.attributes.get("service.name"))
    return installed
