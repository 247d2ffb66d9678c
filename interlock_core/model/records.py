"""Records the engine writes: trait evaluations, readiness, runs, run logs, reruns, events, alerts."""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainSerializer

from .base import Record, empty_list
from .enums import (
    DEFAULT_SCHEDULE_ID,
    AlertLevel,
    EventKind,
    FailureCategory,
    ReadinessStatus,
    RerunSource,
    RunStatus,
)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:  # already UTC (the clocks' and the converted values'): as it is
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_FORMATTED: dict[datetime, str] = {}
"""Instants formatted lately (stored records' times come back on every read of them)."""
_FORMATTED_MAX = 4096


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, fractional seconds trimmed."""
    text = _FORMATTED.get(value)  # equal instants (in any zone) are equal keys, and format alike
    if text is not None:
        return text
    utc = _utc(value)
    text = _formatted(utc)
    if len(_FORMATTED) >= _FORMATTED_MAX:
        _FORMATTED.clear()
    _FORMATTED[utc] = text  # keyed in UTC: only an equal instant with an offset finds it
    return text


def format_instant(value: datetime) -> str:
    """:func:`format_timestamp`'s text of an instant that will not come again (a clock's now, as
    an answer's ``evaluatedAt``), without keeping it among the instants formatted lately."""
    return _formatted(_utc(value))


def _formatted(utc: datetime) -> str:
    if utc.year >= 1000:  # isoformat's first 26 characters are strftime's "%Y-%m-%dT%H:%M:%S.%f", faster
        text = utc.isoformat(timespec="microseconds")[:26]
    else:
        text = utc.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text.rstrip("0").rstrip(".") + "Z"


Timestamp = Annotated[
    datetime,
    AfterValidator(_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]


class TraitEvaluation(Record):
    pipeline_id: str
    trait_type: str
    status: str
    value: dict[str, Any] | None = None
    reason: str | None = None
    failure_category: FailureCategory | None = None
    evaluated_at: Timestamp
    expires_at: Timestamp | None = None
    source: str | None = None
    duration_ms: float | None = None
    schedule_id: str | None = None
    date: str | None = None
    """The cycle an evaluator ran for (None for a pushed result: it belongs to no cycle)."""


class ReadinessResult(Record):
    pipeline_id: str
    status: ReadinessStatus
    traits: list[TraitEvaluation] = Field(default_factory=empty_list)
    blocking: list[str] = Field(default_factory=empty_list)
    evaluated_at: Timestamp
    schedule_id: str | None = None
    date: str | None = None
    excluded: str | None = None
    """Why the cycle's date does not run (its exclusions, or not on its ``include:`` list) when it
    does not: the traits were evaluated, but a run of that date is refused whatever they say."""

    @property
    def ready(self) -> bool:
        return self.status is ReadinessStatus.READY


class RunInputs(Record):
    """What a run was launched with: the no-new-data breaker and late-data detection compare it
    with what the traits (and the upstream runs) say later."""

    fingerprint: str
    """One digest over every trait's digest: equal fingerprints, equal inputs."""
    traits: dict[str, str] = Field(default_factory=dict)
    """Trait type -> digest of its status and value (and of the upstream run it saw)."""
    upstream_runs: dict[str, str] = Field(default_factory=dict)
    """Trait type -> the run of the upstream pipeline it names (``upstreamPipeline``) that had
    last completed the cycle: an upstream rerun replaces it."""
    captured_at: Timestamp


class DriftBaseline(Record):
    """The number ``watch.monitoring.driftField`` pointed at when the run completed."""

    trait_type: str
    field: str
    value: float | None = None
    """None when the trait had no number there at completion (numeric drift is then not checked)."""
    captured_at: Timestamp


class RunState(Record):
    run_id: str
    pipeline_id: str
    status: RunStatus
    version: int = 1
    created_at: Timestamp
    updated_at: Timestamp
    schedule_id: str = DEFAULT_SCHEDULE_ID
    date: str | None = None
    attempt: int = 1
    run_key: str | None = None
    trigger_type: str | None = None
    rerun_id: str | None = None
    failure_message: str | None = None
    failure_category: FailureCategory | None = None
    owner: str | None = None
    lease_expires_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    inputs: RunInputs | None = None
    """The trait values and upstream runs it was launched with (absent on runs recorded before
    inputs were: their reruns pass the no-new-data breaker)."""
    drift_baseline: DriftBaseline | None = None
    degraded: bool | None = None
    """True when the job was launched although its cycle was not ready (``onDeadline: trigger``)."""


class RetryAttempt(Record):
    attempt: int
    status: RunStatus
    run_id: str
    failure_message: str | None = None
    failure_category: FailureCategory | None = None
    started_at: Timestamp
    completed_at: Timestamp | None = None
    job_failure: bool | None = None
    """True when the job itself ran and failed (counted by ``retry.maxCodeRetries``), False when its
    launch failed; None on attempts recorded before the difference was."""


class RunLogEntry(Record):
    """The durable ledger of one cycle (pipeline, date, schedule): dedup and retry key."""

    pipeline_id: str
    date: str
    schedule_id: str = DEFAULT_SCHEDULE_ID
    status: RunStatus
    attempt_number: int = 0
    run_id: str | None = None
    failure_message: str | None = None
    failure_category: FailureCategory | None = None
    alert_sent: bool = False
    retry_history: list[RetryAttempt] = Field(default_factory=empty_list)
    started_at: Timestamp
    completed_at: Timestamp | None = None
    updated_at: Timestamp
    version: int = 1
    not_before: Timestamp | None = None


class RerunRecord(Record):
    rerun_id: str
    pipeline_id: str
    original_date: str
    schedule_id: str = DEFAULT_SCHEDULE_ID
    original_run_id: str | None = None
    reason: str
    description: str | None = None
    status: RunStatus
    rerun_run_id: str | None = None
    requested_at: Timestamp
    completed_at: Timestamp | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int = 1
    warning: str | None = None
    """Said when the rerun was requested: its date had never run (a typo, or a backfill)."""
    source: RerunSource = RerunSource.MANUAL
    """Who asked for it, and so which budget it is counted under (``retry.maxManualReruns`` or
    ``retry.maxDriftReruns``)."""
    forced: bool | None = None
    """True when it was asked for with ``force`` (past the no-new-data breaker)."""


class Event(Record):
    kind: EventKind
    pipeline_id: str
    run_id: str | None = None
    trait_type: str | None = None
    status: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None
    failure_category: FailureCategory | None = None
    timestamp: Timestamp
    schedule_id: str | None = None
    date: str | None = None
    expires_at: Timestamp | None = None
    """When what the event reports stops holding: a pushed trait result's expiry (TRAIT_PUSHED)."""


class EventRecord(Record):
    stream_id: str
    event: Event


class Alert(Record):
    level: AlertLevel
    pipeline_id: str | None = None
    trait_type: str | None = None
    message: str
    details: dict[str, Any] | None = None
    timestamp: Timestamp
    key: str | None = None
    schedule_id: str | None = None
    """The cycle the alert is about (its schedule and date), where it is about one."""
    date: str | None = None
    id: str | None = None
    """The alert outbox record it was delivered from (the same on every retry: a receiver may
    deduplicate on it)."""
    count: int | None = None
    """How many identical alerts this one stands for (``alerts[].groupWindow``); absent for one."""


class CascadeMarker(Record):
    pipeline_id: str
    schedule_id: str = DEFAULT_SCHEDULE_ID
    date: str
    source: str
    timestamp: Timestamp


def utcnow() -> datetime:
    return datetime.now(UTC)
