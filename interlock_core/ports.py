"""The ports through which core sees the outside world. Plugins implement them.

Core never imports Redis, boto, httpx, Starlette or hypercorn: stores, evaluator runners,
trigger types and alert sinks arrive as objects satisfying these Protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from .clock import Clock
from .model import (
    Alert,
    AlertClaim,
    AlertRecord,
    AlertStatus,
    CascadeMarker,
    Event,
    EventRecord,
    FailureCategory,
    PipelineConfig,
    PipelineOrigin,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    SchedulerRun,
    ShadowCycle,
    TraitEvaluation,
)
from .unit_of_work import CommitResult, CycleKey, PipelineRecords, UnitOfWork

# --------------------------------------------------------------------------------------- store


@runtime_checkable
class Store(Protocol):
    """Everything Interlock persists. Every backend passes ``tests/conformance``.

    Conventions: ``get_*`` returns ``None`` when absent or expired (never raises for absence);
    ``list_*`` returns a list (possibly empty); a backend that cannot be reached raises
    :class:`interlock_core.errors.StoreUnavailable`. TTLs are seconds; ``None`` or ``<= 0`` means
    no expiry. Expired records are absent on read even where the backend deletes lazily.
    """

    async def start(self) -> None:
        """Connect, create schema/tables if needed, verify reachability."""

    async def close(self) -> None:
        """Release connections. Idempotent."""

    async def ping(self) -> bool:
        """True when the backend answers."""

    async def store_identity(self) -> str:
        """This store's identity: a random id created by the first caller, atomically (the first
        writer wins), and kept in the store, so every later call, from any process or replica on
        the same backend, answers the same value for as long as the store's data lives. A fresh
        store (another file, key prefix or table) has another one. Every run key carries it, so two
        deployments in front of one orchestrator never hand it the same idempotency key."""

    # pipelines -----------------------------------------------------------------------------
    async def put_pipeline(self, pipeline: PipelineConfig) -> None:
        """Upsert by name."""

    async def get_pipeline(self, pipeline_id: str) -> PipelineConfig | None: ...

    async def list_pipelines(self) -> list[PipelineConfig]:
        """All pipelines, sorted by name."""

    async def delete_pipeline(self, pipeline_id: str) -> bool:
        """True when something was deleted; deleting a missing pipeline is not an error."""

    # traits --------------------------------------------------------------------------------
    async def put_trait(self, evaluation: TraitEvaluation, ttl: float | None) -> None:
        """Upsert keyed by (pipelineId, traitType); expires after ``ttl`` seconds."""

    async def get_trait(self, pipeline_id: str, trait_type: str) -> TraitEvaluation | None: ...

    async def list_traits(self, pipeline_id: str) -> list[TraitEvaluation]:
        """Non-expired evaluations of the pipeline, sorted by trait type."""

    # readiness cache -----------------------------------------------------------------------
    async def put_readiness(self, result: ReadinessResult, ttl: float | None) -> None: ...

    async def get_readiness(self, pipeline_id: str) -> ReadinessResult | None: ...

    # runs ------------------------------------------------------------------------------------
    async def create_run(self, run: RunState) -> bool:
        """Insert if no run with this ``runId`` exists. False (no error) when it does."""

    async def put_run(self, run: RunState) -> None:
        """Unconditional upsert (used by tests and repair tools; the lifecycle uses CAS)."""

    async def get_run(self, run_id: str) -> RunState | None: ...

    async def list_runs(self, pipeline_id: str, limit: int = 20) -> list[RunState]:
        """Newest first by ``createdAt``; each run once."""

    async def cas_run(self, run: RunState, expected_version: int) -> bool:
        """Replace the run iff the stored one exists and has ``version == expected_version``.

        ``run.version`` must already be the new version. False (no error) otherwise."""

    # run logs --------------------------------------------------------------------------------
    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None: ...

    async def cas_run_log(self, entry: RunLogEntry, expected_version: int | None) -> bool:
        """Write the entry iff the stored one has ``version == expected_version``.

        ``expected_version=None`` means "only if no entry exists". ``entry.version`` must already
        be the new version. This is the claim that makes one trigger win per cycle."""

    async def put_run_log(self, entry: RunLogEntry) -> None:
        """Unconditional upsert (empty scheduleId stored as ``daily``)."""

    async def list_run_logs(self, pipeline_id: str, limit: int = 20) -> list[RunLogEntry]:
        """Newest first by (date, startedAt)."""

    # reruns ----------------------------------------------------------------------------------
    async def cas_rerun(self, record: RerunRecord, expected_version: int | None) -> bool:
        """As :meth:`cas_run_log`, for rerun records."""

    async def put_rerun(self, record: RerunRecord) -> None: ...

    async def get_rerun(self, rerun_id: str) -> RerunRecord | None: ...

    async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]:
        """Newest first by ``requestedAt``; all pipelines when ``pipeline_id`` is None."""

    # events ----------------------------------------------------------------------------------
    async def append_event(self, event: Event, alerts: Sequence[AlertRecord] = ()) -> str:
        """Append to the pipeline's event log; returns the new event's cursor (stream id).

        ``alerts`` (the alerts the event raised, one record per sink) are put in the alert outbox
        in the same transaction: both are written, or neither."""

    async def list_events(self, pipeline_id: str, limit: int = 50) -> list[Event]:
        """The most recent ``limit`` events, oldest first."""

    async def read_events_since(self, pipeline_id: str, cursor: str | None, count: int = 100) -> list[EventRecord]:
        """Events strictly after ``cursor`` (None/""/"0-0" = from the start), oldest first."""

    # alert outbox ----------------------------------------------------------------------------
    async def record_alerts(self, alerts: Sequence[AlertRecord], *, event: Event | None = None,
                            claim: AlertClaim | None = None) -> bool:
        """In one transaction: take ``claim`` (the lease ``claim.lease_key`` with a fresh owner,
        if free or expired, for ``claim.ttl`` seconds), append ``event``, put ``alerts`` in the
        outbox. When the claim is held nothing is written and the answer is False. A record whose
        id is already stored is left as it is (a retried write never duplicates)."""

    async def get_alert(self, alert_id: str) -> AlertRecord | None: ...

    async def list_alerts(self, status: AlertStatus | None = None, *, limit: int = 50,
                          before: str | None = None) -> list[AlertRecord]:
        """Newest first (descending id), only ids below ``before`` when given (the next page
        after a page ending with that id). Delivered, grouped and failed records are kept for the
        store's retention; pending ones until they leave that state."""

    async def pending_alerts(self, sink: str, limit: int = 100) -> list[AlertRecord]:
        """The sink's PENDING records as they are now, oldest first (ascending id), due or not."""

    async def cas_alert(self, record: AlertRecord, expected_version: int, *, event: Event | None = None) -> bool:
        """Replace the record iff the stored one has ``version == expected_version`` (``record.version``
        already the new one), appending ``event`` in the same transaction. False (nothing written)
        otherwise."""

    # cascade markers -------------------------------------------------------------------------
    async def write_cascade_marker(self, marker: CascadeMarker) -> None:
        """Idempotent per (pipeline, schedule, date, source)."""

    async def list_cascade_markers(self, pipeline_id: str, date: str, schedule_id: str) -> list[CascadeMarker]: ...

    # shadow records (dry run) ----------------------------------------------------------------
    async def get_shadow_cycle(self, pipeline_id: str, date: str, schedule_id: str) -> ShadowCycle | None: ...

    async def cas_shadow_cycle(self, record: ShadowCycle, expected_version: int | None) -> bool:
        """As :meth:`cas_run_log`, for a dry-run pipeline's shadow record of a cycle (kept for the
        store's retention, like run logs)."""

    async def list_shadow_cycles(self, pipeline_id: str, since: str, until: str) -> list[ShadowCycle]:
        """The pipeline's shadow records dated ``since`` to ``until`` (inclusive, YYYY-MM-DD; an
        ``until`` of ``YYYY-MM-DDT23:59`` takes in that day's sub-daily cycles too), by date then
        schedule."""

    # batches ---------------------------------------------------------------------------------
    async def read_pipeline(self, pipeline_id: str, cycles: Sequence[tuple[str, str]] = (), *,
                            readiness: bool = True, config: bool = False, known_version: str | None = None,
                            history: int = 0) -> PipelineRecords:
        """In one read (one statement / round trip / query where the backend allows): the
        pipeline's live trait rows, its readiness cache (unless ``readiness`` is False) and the run
        logs of ``cycles`` ((date, schedule id) pairs; an empty schedule id is ``daily``) — what
        :meth:`list_traits`, :meth:`get_readiness` and :meth:`get_run_log` answer, as one look.

        ``config``: also the stored configuration's version and, unless that version is
        ``known_version``, the configuration (:meth:`get_pipeline`). ``history`` > 0: also the
        pipeline's ``history`` newest reruns, its newest run, and the runs the run logs read and the
        reruns of those cycles name (see :class:`PipelineRecords`)."""

    async def read_cycles(self, cycles: Sequence[CycleKey]) -> dict[CycleKey, RunLogEntry]:
        """The live run logs of many cycles ((pipeline, date, schedule id)) in one batch, keyed as
        asked; a cycle without one is left out."""

    async def read_reruns(self, pipeline_ids: Sequence[str], limit: int = 20) -> dict[str, list[RerunRecord]]:
        """The ``limit`` newest reruns of each of many pipelines in one batch, newest first — what
        :meth:`list_reruns` answers for each; a pipeline without any is left out."""

    async def read_traits(self, pipeline_ids: Sequence[str]) -> dict[str, list[TraitEvaluation]]:
        """The live trait rows of many pipelines in one batch — what :meth:`list_traits` answers for
        each; a pipeline without any is left out."""

    async def read_runs(self, run_ids: Sequence[str]) -> dict[str, RunState]:
        """Many runs by id in one batch — what :meth:`get_run` answers for each; a run not stored
        (or expired) is left out."""

    async def commit(self, work: UnitOfWork) -> CommitResult:
        """Write ``work`` in one transaction (SQLite) / one round trip (Redis) / one
        ``TransactWriteItems`` (DynamoDB): its trait rows (each unless its ``unless_pushed_after``
        condition holds), its events in order with their alerts (those guarded by a claim only when
        the claim is taken: as :meth:`record_alerts`), and the readiness cache. All or nothing."""

    # leases ----------------------------------------------------------------------------------
    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        """Take the lease if free or expired, or renew it if ``owner`` already holds it."""

    async def release_lease(self, key: str, owner: str) -> bool:
        """Release only if ``owner`` holds it; True when released."""

    async def lease_owner(self, key: str) -> str | None:
        """The current holder of a live lease, or None."""


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
