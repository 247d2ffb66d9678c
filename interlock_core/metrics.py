"""Process-wide counters and histograms; the server renders them for Prometheus."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

LabelKey = tuple[tuple[str, str], ...]

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
    "interlock_drift_detected_total": "Drift detected during post-run monitoring.",
    "interlock_cascade_markers_total": "Cascade markers written.",
    "interlock_evaluation_seconds": "Wall time of one readiness evaluation.",
    "interlock_http_request_seconds": "HTTP request latency, by route and status.",
}


@dataclass
class Histogram:
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        self.total += value
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, dict[LabelKey, float]] = defaultdict(dict)
        self.histograms: dict[str, dict[LabelKey, Histogram]] = defaultdict(dict)

    @staticmethod
    def _key(labels: dict[str, str]) -> LabelKey:
        return tuple(sorted((k, str(v)) for k, v in labels.items()))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            series = self.counters[name]
            series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            series = self.histograms[name]
            if key not in series:
                series[key] = Histogram()
            series[key].observe(value)

    def value(self, name: str, **labels: str) -> float:
        return self.counters.get(name, {}).get(self._key(labels), 0.0)

    def total(self, name: str) -> float:
        return sum(self.counters.get(name, {}).values())

    def iter_counters(self) -> Iterator[tuple[str, LabelKey, float]]:
        with self._lock:
            items = [(n, k, v) for n, s in self.counters.items() for k, v in s.items()]
        yield from items

    def iter_histograms(self) -> Iterator[tuple[str, LabelKey, Histogram]]:
        with self._lock:
            items = [(n, k, h) for n, s in self.histograms.items() for k, h in s.items()]
        yield from items


METRICS = Metrics()
