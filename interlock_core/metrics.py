"""Process-wide counters, gauges and histograms; the server renders them for Prometheus and, when
OpenTelemetry is on, mirrors them through :attr:`Metrics.hook` (see :mod:`interlock_core.tracing`).

Every name the code records is listed in ``HELP`` (and documented in docs/observability.md); the
Grafana dashboard and the Prometheus rules in ``deploy/observability/`` use only these names.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Protocol

LabelKey = tuple[tuple[str, str], ...]

log = logging.getLogger("interlock.metrics")

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HELP = {
    "interlock_evaluations_total": "Readiness evaluations, by result.",
    "interlock_trait_results_total": "Trait evaluations, by status.",
    "interlock_evaluation_errors_total": "Trait evaluations that failed inside the engine.",
    "interlock_triggers_total": "Trigger launches, by trigger type and outcome.",
    "interlock_run_failures_total": "Failed runs, by failure category.",
    "interlock_retries_scheduled_total": "Retries scheduled after a failure.",
    "interlock_sla_breaches_total": "SLA breaches, by kind.",
    "interlock_alerts_total": "Alert delivery attempts from the outbox, by sink and outcome "
                              "(delivered, retried, rate_limited, dead_lettered).",
    "interlock_alerts_dead_lettered_total": "Alerts dead-lettered (attempts spent or refused for good), by sink.",
    "interlock_alerts_pending": "Alerts waiting for delivery, by sink (the alert queue's depth).",
    "interlock_relaunches_total": "Runs left TRIGGERING by a lost owner, relaunched under their run key.",
    "interlock_sla_warnings_total": "SLA warnings, by kind.",
    "interlock_pipeline_ready": "1 when the pipeline's last evaluation was READY, else 0, by pipeline.",
    "interlock_watcher_passes_total": "Watcher passes finished.",
    "interlock_watcher_pass_seconds": "Wall time of one watcher pass.",
    "interlock_watcher_last_pass_timestamp_seconds": "Unix time at which the last watcher pass finished.",
    "interlock_watcher_lag_seconds": "How long the most overdue cycle of the last watcher pass waited past "
                                     "its due time.",
    "interlock_drift_detected_total": "Drift detected during post-run monitoring.",
    "interlock_cascade_markers_total": "Cascade markers written.",
    "interlock_evaluation_seconds": "Wall time of one readiness evaluation.",
    "interlock_http_request_seconds": "HTTP request latency, by route and status.",
}

UNLABELED_COUNTERS = ("interlock_evaluation_errors_total", "interlock_retries_scheduled_total",
                      "interlock_drift_detected_total", "interlock_cascade_markers_total", "interlock_relaunches_total",
                      "interlock_watcher_passes_total")
"""Counters without labels: exposed at 0 from the start, so that Prometheus' ``increase()`` sees
their first increment (a series born at 1 counts as no increase)."""

GAUGES = frozenset({"interlock_alerts_pending", "interlock_pipeline_ready",
                    "interlock_watcher_last_pass_timestamp_seconds", "interlock_watcher_lag_seconds"})
"""The names that are gauges (a value set, not added to)."""


class MetricsHook(Protocol):
    """Receives every counter increment and histogram observation as it happens (OpenTelemetry's
    mirror); gauges are read from :meth:`Metrics.iter_gauges` when exported."""

    def count(self, name: str, amount: float, labels: LabelKey) -> None: ...

    def observe(self, name: str, value: float, labels: LabelKey) -> None: ...

Collector = Callable[["Metrics"], None]


@dataclass
class Histogram:
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    total: float = 0.0
    count: int = 0
    within: list[int] = field(default_factory=list)
    """Observations by the first bound at or above them (one bisection per observation), then
    those above every bound (and not-a-number)."""

    def __post_init__(self) -> None:
        self.within = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.total += value
        self.count += 1
        self.within[bisect_left(self.buckets, value) if value == value else len(self.buckets)] += 1

    @property
    def counts(self) -> list[int]:
        """Observations at or below each bound (Prometheus's cumulative ``le`` buckets)."""
        return list(accumulate(self.within[:-1]))


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, dict[LabelKey, float]] = defaultdict(dict)
        self.histograms: dict[str, dict[LabelKey, Histogram]] = defaultdict(dict)
        self.gauges: dict[str, dict[LabelKey, float]] = defaultdict(dict)
        self.hook: MetricsHook | None = None
        self._collectors: dict[str, Collector] = {}
        for name in UNLABELED_COUNTERS:
            self.counters[name][()] = 0.0

    @staticmethod
    def _key(labels: dict[str, str]) -> LabelKey:
        return tuple(sorted((k, str(v)) for k, v in labels.items()))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            series = self.counters[name]
            series[key] = series.get(key, 0.0) + amount
        hook = self.hook
        if hook is not None:
            hook.count(name, amount, key)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.observe_series(name, value, self._key(labels))

    @staticmethod
    def series_key(**labels: str) -> LabelKey:
        """The key of the series of ``labels`` (for :meth:`observe_series`)."""
        return Metrics._key(labels)

    def observe_series(self, name: str, value: float, key: LabelKey) -> None:
        """:meth:`observe` with the series' key made beforehand (:meth:`series_key`)."""
        with self._lock:
            series = self.histograms[name]
            if key not in series:
                series[key] = Histogram()
            series[key].observe(value)
        hook = self.hook
        if hook is not None:
            hook.observe(name, value, key)

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self.gauges[name][key] = value

    def clear_gauge(self, name: str) -> None:
        """Forget every series of ``name`` (a collector about to set the current ones)."""
        with self._lock:
            self.gauges.pop(name, None)

    def gauge(self, name: str, **labels: str) -> float | None:
        return self.gauges.get(name, {}).get(self._key(labels))

    def collector(self, key: str, collect: Collector | None) -> None:
        """Run ``collect(self)`` before every export (``/metrics``, OpenTelemetry): it sets gauges
        read from elsewhere (the alert queue's depth). One collector per ``key``; None removes it."""
        with self._lock:
            if collect is None:
                self._collectors.pop(key, None)
            else:
                self._collectors[key] = collect

    def collect(self) -> None:
        with self._lock:
            collectors = list(self._collectors.values())
        for collect in collectors:
            try:
                collect(self)
            except Exception:  # an export must not fail for one source
                log.warning("metrics collector failed", exc_info=True)

    def value(self, name: str, **labels: str) -> float:
        return self.counters.get(name, {}).get(self._key(labels), 0.0)

    def total(self, name: str) -> float:
        return sum(self.counters.get(name, {}).values())

    def iter_counters(self) -> Iterator[tuple[str, LabelKey, float]]:
        with self._lock:
            items = [(n, k, v) for n, s in self.counters.items() for k, v in s.items()]
        yield from items

    def iter_gauges(self) -> Iterator[tuple[str, LabelKey, float]]:
        with self._lock:
            items = [(n, k, v) for n, s in self.gauges.items() for k, v in s.items()]
        yield from items

    def iter_histograms(self) -> Iterator[tuple[str, LabelKey, Histogram]]:
        with self._lock:
            items = [(n, k, h) for n, s in self.histograms.items() for k, h in s.items()]
        yield from items


METRICS = Metrics()
