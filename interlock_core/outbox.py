"""The alert outbox, core side: which sinks an alert goes to, and how each one is retried.

An alert becomes one :class:`~interlock_core.model.AlertRecord` per configured sink, written to
the store in the same transaction as the event that raised it (``Store.append_event(event,
alerts)`` / ``Store.record_alerts``); the sender (:mod:`interlock_core.alert_sender`) delivers them.
A sink's :class:`SinkPolicy` comes from its ``alerts:`` entry (``name``, ``maxAttempts``,
``backoff``, ``groupWindow``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .model import Alert, AlertRecord, AlertSpec, new_alert_id

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 300.0
"""The longest wait between two attempts (seconds), however many failed before."""


@dataclass(frozen=True)
class SinkPolicy:
    """How the outbox delivers to one sink."""

    name: str
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    group_window: float = 0.0

    def wait_after(self, attempts: int) -> float:
        """Seconds before the next attempt once ``attempts`` have failed: backoff, doubled each time."""
        return float(min(MAX_BACKOFF, self.backoff * 2.0 ** max(0, attempts - 1)))


def sink_policies(entries: Iterable[tuple[str, AlertSpec | None]]) -> list[SinkPolicy]:
    """One policy per ``(type, spec)`` in order; a sink without a ``name`` is called by its type,
    the second of a type ``<type>#2`` and so on."""
    out: list[SinkPolicy] = []
    taken: set[str] = set()
    for sink_type, spec in entries:
        name = spec.name if spec is not None and spec.name else sink_type
        if spec is None or not spec.name:
            n = 1
            while name in taken:
                n += 1
                name = f"{sink_type}#{n}"
        taken.add(name)
        if spec is None:
            out.append(SinkPolicy(name))
            continue
        out.append(SinkPolicy(name, max_attempts=spec.max_attempts, backoff=spec.backoff.total_seconds(),
                              group_window=spec.group_window.total_seconds()))
    return out


def group_key(alert: Alert) -> str:
    """What makes two alerts identical for grouping: level, pipeline, trait, cycle and message."""
    parts = (alert.level.value, alert.pipeline_id or "", alert.trait_type or "", alert.schedule_id or "",
             alert.date or "", alert.message)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def outbox_records(alert: Alert, sinks: Sequence[SinkPolicy], now: datetime) -> list[AlertRecord]:
    """The records that carry ``alert`` to every sink: due at once, or when the sink's group
    window closes."""
    records = []
    key = group_key(alert)
    for sink in sinks:
        window = sink.group_window if sink.group_window > 0 else None
        due = now + timedelta(seconds=window) if window else now
        records.append(AlertRecord(id=new_alert_id(now), sink=sink.name, alert=alert, max_attempts=sink.max_attempts,
                                   created_at=now, updated_at=now, next_attempt_at=due, group_key=key,
                                   group_window=window))
    return records
