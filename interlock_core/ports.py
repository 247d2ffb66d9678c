"""The ports through which core sees the outside world. Plugins implement them.

Core never imports Redis, boto, httpx, Starlette or hypercorn: stores, evaluator runners,
trigger types and alert sinks arrive as objects satisfying these Protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from .clock import Clock
from .model import Alert, FailureCategory, PipelineOrigin, SchedulerRun
from .store_roles import (
    AlertOutboxStore,
    BatchStore,
    EventStore,
    LeaseStore,
    MarkerStore,
    PipelineStore,
    RerunStore,
    RunStore,
    ShadowStore,
    StoreConnection,
    TraitStore,
)

__all__ = [
    "AlertOutboxStore", "AlertSink", "BatchStore", "CycleWindow", "EvaluatorInput", "EvaluatorOutput",
    "EvaluatorRunner", "EvaluatorRunnerFactory", "EventStore", "LaunchRequest", "LaunchResult", "LeaseStore",
    "MarkerStore", "Notifier", "PipelineStore", "PollResult", "RerunStore", "RunStore", "RunnerContext",
    "SchedulerRunLookup", "ShadowStore", "SinkState", "Store", "StoreConnection", "TraitStore", "TriggerType",
    "WakeUp", "WakeUpStore",
]

# --------------------------------------------------------------------------------------- store


@runtime_checkable
class Store(StoreConnection, PipelineStore, TraitStore, RunStore, RerunStore, EventStore, AlertOutboxStore,
            MarkerStore, ShadowStore, BatchStore, LeaseStore, Protocol):
    """Everything Interlock persists: every role of :mod:`interlock_core.store_roles` (each
    method belongs to exactly one role). Every backend passes ``tests/conformance``, one
    ``suite_<role>.py`` per role.

    Conventions: ``get_*`` returns ``None`` when absent or expired (never raises for absence);
    ``list_*`` returns a list (possibly empty); a backend that cannot be reached raises
    :class:`interlock_core.errors.StoreUnavailable`. TTLs are seconds; ``None`` or ``<= 0`` means
    no expiry. Expired records are absent on read even where the backend deletes lazily.
    """


# --------------------------------------------------------------------------------- evaluators


@dataclass(frozen=True)
class EvaluatorInput:
    pipeline_id: str
    trait_type: str
    config: dict[str, Any]
    schedule_id: str
    date: str
    timeout: float
    origin: PipelineOrigin = PipelineOrigin.FILE
    """An API pipeline's evaluator is only ever a bare name in the evaluator directories."""


@dataclass
class EvaluatorOutput:
    status: str
    value: dict[str, Any] | None = None
    reason: str | None = None
    failure_category: FailureCategory | None = None


@dataclass(frozen=True)
class RunnerContext:
    """What an evaluator runner may use: where evaluators live and a read-only store."""

    evaluator_dirs: tuple[Path, ...]
    store: Store
    clock: Clock
    options: Mapping[str, Any] = field(default_factory=dict)


class EvaluatorRunner(Protocol):
    """Runs one trait evaluator. Never raises for a misbehaving evaluator: that is a FAIL output
    with a reason and a failure category."""

    name: ClassVar[str]
    priority: ClassVar[int]

    def handles(self, evaluator: str) -> bool:
        """Whether this runner runs evaluators written like ``evaluator``."""

    async def run(self, evaluator: str, request: EvaluatorInput) -> EvaluatorOutput: ...

    async def close(self) -> None:
        """Release clients and connections the runner holds."""


class EvaluatorRunnerFactory(Protocol):
    name: ClassVar[str]
    priority: ClassVar[int]

    def __call__(self, context: RunnerContext) -> EvaluatorRunner: ...


# ----------------------------------------------------------------------------------- triggers


@dataclass(frozen=True)
class LaunchRequest:
    """One launch of a pipeline's job. ``run_key`` is deterministic per (store identity, pipeline,
    schedule, date, attempt) and is handed to orchestrators that accept an idempotency key. A job
    found under it is adopted only when it proves to be this run's (it carries ``run_id``): a
    relaunch after a crash (``relaunch > 0``) finds its own job; anything else is a key taken by a
    job Interlock did not start for this run, a PERMANENT failure."""

    pipeline_id: str
    run_id: str
    run_key: str
    schedule_id: str
    date: str
    attempt: int
    variables: Mapping[str, str]
    callback_url: str | None = None
    environment: Mapping[str, str] | None = None
    """The environment variables the trigger config may name besides ``variables``: ``None`` for
    the whole process environment (a pipeline file), only ``api.allowedEnv`` for an API pipeline."""
    relaunch: int = 0
    """0 for the first launch of the run; n for its n-th relaunch under the same run key after
    its launcher crashed before recording the outcome (the orchestrator may already have the job)."""
    trace_context: Mapping[str, str] = field(default_factory=dict)
    """The W3C trace context of the launch (``traceparent``, ``tracestate``) when tracing is on,
    for a trigger to hand the orchestrator where it accepts one (a header, the DAG run conf, the
    job's parameters, the execution input), so the job and its completion callback join the
    trace; empty when tracing is off (see :mod:`interlock_core.tracing`)."""


@dataclass
class LaunchResult:
    """``state`` says where the job stands once launch returned: ``running`` (poll or wait for the
    callback) or ``succeeded``/``failed`` (the launch itself ran the job, as ``command`` does)."""

    state: Literal["running", "succeeded", "failed"] = "running"
    metadata: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    failure_category: FailureCategory | None = None


@dataclass
class PollResult:
    state: Literal["running", "succeeded", "failed"]
    message: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    failure_category: FailureCategory | None = None


@dataclass(frozen=True)
class CycleWindow:
    """A cycle whose runs by the scheduler already in place are looked up: its date and the instants
    that date spans in the schedule's time zone (``start`` inclusive, ``end`` exclusive)."""

    pipeline_id: str
    schedule_id: str
    date: str
    start: datetime
    end: datetime
    environment: Mapping[str, str] | None = None
    """The environment variables the trigger config may name, as :attr:`LaunchRequest.environment`."""


@runtime_checkable
class SchedulerRunLookup(Protocol):
    """Optional for a trigger type: it can find the runs of the pipeline's job that the
    orchestrator's own scheduler started for a cycle (a dry-run pipeline's shadow report compares
    them with when Interlock would have triggered). A trigger type without it has its scheduler's
    runs pushed instead (``POST /api/pipelines/{id}/scheduler-runs``)."""

    async def find_runs(self, config: Any, cycle: CycleWindow) -> list[SchedulerRun]:
        """The runs of ``cycle``, oldest first ([] when none), never one Interlock launched; each
        with its ``state`` and, as far as the orchestrator tells them, ``startedAt``/``finishedAt``.
        Raises :class:`interlock_core.errors.TriggerError` when the orchestrator cannot be asked."""


class TriggerType(Protocol):
    """A kind of job launch (``command``, ``http``, ``airflow`` …).

    ``config_model`` validates the pipeline's ``trigger:`` section at load time (the loader names
    file, line and key on error). ``launch`` raises :class:`interlock_core.errors.TriggerError`
    with a failure category when the job could not be started. ``poll`` asks the orchestrator
    where a launched job stands; types that cannot be polled set ``pollable = False``."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    pollable: ClassVar[bool]
    api_registrable: ClassVar[bool]

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult: ...

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult: ...

    async def close(self) -> None: ...


# ------------------------------------------------------------------------------------- alerts


class AlertSink(Protocol):
    """Delivers alerts somewhere. ``send`` raises on failure (an
    :class:`~interlock_core.alerts.AlertDeliveryError` says whether to try again, and when); the
    sender retries, dead-letters and counts."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    async def send(self, alert: Alert) -> None: ...

    async def close(self) -> None: ...


class SinkState(Protocol):
    """A little memory an alert sink keeps in the store, shared by every replica and kept across
    restarts (the Slack sink: the thread of each pipeline's cycle). Keys are the sink's own."""

    async def get(self, key: str) -> str | None: ...

    async def put_if_absent(self, key: str, value: str, ttl: float) -> str:
        """Keep ``value`` under ``key`` for ``ttl`` seconds unless a value is kept there already;
        the value kept afterwards."""


# ------------------------------------------------------------------------------ notifications


@dataclass(frozen=True)
class WakeUp:
    """A reason to evaluate a pipeline now rather than at its next interval."""

    pipeline_id: str
    reason: str
    schedule_id: str | None = None
    date: str | None = None
    at: datetime | None = None


class Notifier(Protocol):
    """Carries wake-ups to watchers: in-process by default, Redis pub/sub between replicas."""

    async def publish(self, wake: WakeUp) -> None: ...

    def subscribe(self) -> AsyncIterator[WakeUp]: ...


@runtime_checkable
class WakeUpStore(Protocol):
    """A store whose backend can carry wake-ups between the processes sharing it (Redis pub/sub,
    the SQLite store's wake-up table), so a CLI command or another replica wakes ``serve``'s watcher.
    Engines on such a store use its notifier unless given another."""

    def wake_up_notifier(self) -> Notifier | None:
        """A new notifier over this store's backend, or None where it cannot reach other processes."""
