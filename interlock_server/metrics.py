"""Prometheus text exposition (format 0.0.4) of the process-wide ``METRICS``, and the HTTP
latency histogram the request middleware records into it."""

from __future__ import annotations

import weakref
from typing import Any

from interlock_core.metrics import HELP, Histogram, Metrics

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTTP_LATENCY = "interlock_http_request_seconds"
ALERTS_PENDING = "interlock_alerts_pending"


def alert_queue_collector(alerts: Any) -> Any:
    """A collector setting ``interlock_alerts_pending{sink}`` from the alert sender's counters
    at every export (nothing for an engine without one). It holds the dispatcher weakly."""
    if not hasattr(alerts, "stats"):
        return None
    ref = weakref.ref(alerts)

    def collect(metrics: Metrics) -> None:
        dispatcher = ref()
        if dispatcher is None:
            return
        sinks = dispatcher.stats.get("sinks", {})
        metrics.clear_gauge(ALERTS_PENDING)
        for sink, counters in sinks.items():
            metrics.set_gauge(ALERTS_PENDING, float(counters.get("pending", 0)), sink=sink)

    return collect


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...], extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = [*pairs, *extra]
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _header(lines: list[str], name: str, kind: str) -> None:
    help_text = HELP.get(name, name.replace("_", " "))
    lines.append(f"# HELP {name} {help_text.replace(chr(92), chr(92) * 2).replace(chr(10), ' ')}")
    lines.append(f"# TYPE {name} {kind}")


def render_prometheus(metrics: Metrics) -> str:
    """Every counter, gauge and histogram (collectors run first), grouped by metric name, series
    sorted for stable output."""
    metrics.collect()
    lines: list[str] = []
    counters: dict[str, list[tuple[tuple[tuple[str, str], ...], float]]] = {}
    for name, labels, value in metrics.iter_counters():
        counters.setdefault(name, []).append((labels, value))
    for name in sorted(counters):
        _header(lines, name, "counter")
        for labels, value in sorted(counters[name]):
            lines.append(f"{name}{_labels(labels)} {_number(value)}")
    gauges: dict[str, list[tuple[tuple[tuple[str, str], ...], float]]] = {}
    for name, labels, value in metrics.iter_gauges():
        gauges.setdefault(name, []).append((labels, value))
    for name in sorted(gauges):
        _header(lines, name, "gauge")
        for labels, value in sorted(gauges[name]):
            lines.append(f"{name}{_labels(labels)} {_number(value)}")
    histograms: dict[str, list[tuple[tuple[tuple[str, str], ...], Histogram]]] = {}
    for name, labels, hist in metrics.iter_histograms():
        histograms.setdefault(name, []).append((labels, hist))
    for name in sorted(histograms):
        _header(lines, name, "histogram")
        for labels, hist in sorted(histograms[name], key=lambda item: item[0]):
            for bound, count in zip(hist.buckets, list(hist.counts), strict=True):
                lines.append(f"{name}_bucket{_labels(labels, (('le', _number(bound)),))} {count}")
            lines.append(f"{name}_bucket{_labels(labels, (('le', '+Inf'),))} {hist.count}")
            lines.append(f"{name}_sum{_labels(labels)} {float(hist.total)!r}")
            lines.append(f"{name}_count{_labels(labels)} {hist.count}")
    return "\n".join(lines) + "\n"
