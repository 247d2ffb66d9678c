"""The store port by role: what a store keeps, one kind of record at a time.

:class:`interlock_core.ports.Store` is the composite of the roles below; a store plugin satisfies
every one of them and passes ``tests/conformance``, whose cases are sliced the same way (one
``suite_<role>.py`` per role). A role can be read, implemented and tested on its own.

Conventions for every role: ``get_*`` returns ``None`` when absent or expired (never raises for
absence); ``list_*`` returns a list (possibly empty); a backend that cannot be reached raises
:class:`interlock_core.errors.StoreUnavailable`. TTLs are seconds; ``None`` or ``<= 0`` means no
expiry. Expired records are absent on read even where the backend deletes lazily. ``cas_*``
methods are compare-and-set: at most one of many concurrent writers with the same expected
version wins (from any process or replica on the same backend), the others get False, never an
error. Records come back from a round trip equal to what was written (every field; instants
as UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .model import (
    AlertClaim,
    AlertRecord,
    AlertStatus,
    CascadeMarker,
    Event,
    EventRecord,
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    ShadowCycle,
    TraitEvaluation,
)
from .unit_of_work import CommitResult, CycleKey, PipelineRecords, UnitOfWork


@runtime_checkable
class StoreConnection(Protocol):
    """The backend itself: opening, closing, reachability and the store's identity.

    ``start`` and ``close`` may be called more than once; the store's records survive both."""

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


@runtime_checkable
class PipelineStore(Protocol):
    """Pipeline configurations (those registered over the API and the loaded files), by name.

    Configurations never expire: the store's retention applies to history, not to them."""

    async def put_pipeline(self, pipeline: PipelineConfig) -> None:
        """Upsert by name."""

    async def get_pipeline(self, pipeline_id: str) -> PipelineConfig | None: ...

    async def list_pipelines(self) -> list[PipelineConfig]:
        """All pipelines, sorted by name."""

    async def delete_pipeline(self, pipeline_id: str) -> bool:
        """True when something was deleted; deleting a missing pipeline is not an error."""


@runtime_checkable
class TraitStore(Protocol):
    """Trait evaluations, one per (pipeline, trait type), and the readiness cache, one per
    pipeline: both expire after their TTL and read as absent from then on."""

    async def put_trait(self, evaluation: TraitEvaluation, ttl: float | None) -> None:
        """Upsert keyed by (pipelineId, traitType); expires after ``ttl`` seconds."""

    async def get_trait(self, pipeline_id: str, trait_type: str) -> TraitEvaluation | None: ...

    async def list_traits(self, pipeline_id: str) -> list[TraitEvaluation]:
        """Non-expired evaluations of the pipeline, sorted by trait type."""

    async def put_readiness(self, result: ReadinessResult, ttl: float | None) -> None: ...

    async def get_readiness(self, pipeline_id: str) -> ReadinessResult | None: ...


@runtime_checkable
class RunStore(Protocol):
    """Runs (one per launch, by run id) and run logs (one per cycle: pipeline, date, schedule).

    The lifecycle writes both only by compare-and-set (``cas_run``, ``cas_run_log``): the run log's
    creation is the claim that makes one trigger win per cycle. Finished runs and run logs are
    kept for the store's retention; a run that is not finished is kept until it is."""

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

    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None: ...

    async def cas_run_log(self, entry: RunLogEntry, expected_version: int | None) -> bool:
        """Write the entry iff the stored one has ``version == expected_version``.

        ``expected_version=None`` means "only if no entry exists". ``entry.version`` must already
        be the new version. This is the claim that makes one trigger win per cycle."""

    async def put_run_log(self, entry: RunLogEntry) -> None:
        """Unconditional upsert (empty scheduleId stored as ``daily``)."""

    async def list_run_logs(self, pipeline_id: str, limit: int = 20) -> list[RunLogEntry]:
        """Newest first by (date, startedAt)."""


@runtime_checkable
class RerunStore(Protocol):
    """Rerun requests (manual, drift, late data, cascade), by rerun id, written by compare-and-set
    as run logs are; kept for the store's retention once finished."""

    async def cas_rerun(self, record: RerunRecord, expected_version: int | None) -> bool:
        """As :meth:`RunStore.cas_run_log`, for rerun records."""

    async def put_rerun(self, record: RerunRecord) -> None: ...

    async def get_rerun(self, rerun_id: str) -> RerunRecord | None: ...

    async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]:
        """Newest first by ``requestedAt``; all pipelines when ``pipeline_id`` is None."""


@runtime_checkable
class EventStore(Protocol):
    """Each pipeline's append-only event log. Cursors order the events of a pipeline: reading
    from a cursor never skips nor repeats an event, concurrent appends are all kept, and a cursor
    stays valid after the events before it expired (retention)."""

    async def append_event(self, event: Event, alerts: Sequence[AlertRecord] = ()) -> str:
        """Append to the pipeline's event log; returns the new event's cursor (stream id).

        ``alerts`` (the alerts the event raised, one record per sink) are put in the alert outbox
        in the same transaction: both are written, or neither."""

    async def list_events(self, pipeline_id: str, limit: int = 50) -> list[Event]:
        """The most recent ``limit`` events, oldest first."""

    async def read_events_since(self, pipeline_id: str, cursor: str | None, count: int = 100) -> list[EventRecord]:
        """Events strictly after ``cursor`` (None/""/"0-0" = from the start), oldest first."""


@runtime_checkable
class AlertOutboxStore(Protocol):
    """The alert outbox: one record per (alert, sink), written in the transaction of the event
    that raised it, then moved through its states by compare-and-set. A record is never written
    twice (a retried write leaves the stored one as it is)."""

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


@runtime_checkable
class MarkerStore(Protocol):
    """Cascade markers: a note on a pipeline's cycle, by its ``source``, that the cycle is asked
    for (an upstream completed it, the watchdog requested an execution), so the watcher takes the
    cycle up even without new trait results. Kept for the store's retention. (Wake-ups between
    processes are the optional :class:`interlock_core.ports.WakeUpStore`.)"""

    async def write_cascade_marker(self, marker: CascadeMarker) -> None:
        """Idempotent per (pipeline, schedule, date, source)."""

    async def list_cascade_markers(self, pipeline_id: str, date: str, schedule_id: str) -> list[CascadeMarker]: ...


@runtime_checkable
class ShadowStore(Protocol):
    """A dry-run pipeline's shadow record of each cycle (when Interlock would have triggered),
    written by compare-and-set as run logs are and kept for the store's retention."""

    async def get_shadow_cycle(self, pipeline_id: str, date: str, schedule_id: str) -> ShadowCycle | None: ...

    async def cas_shadow_cycle(self, record: ShadowCycle, expected_version: int | None) -> bool:
        """As :meth:`RunStore.cas_run_log`, for a dry-run pipeline's shadow record of a cycle (kept
        for the store's retention, like run logs)."""

    async def list_shadow_cycles(self, pipeline_id: str, since: str, until: str) -> list[ShadowCycle]:
        """The pipeline's shadow records dated ``since`` to ``until`` (inclusive, YYYY-MM-DD; an
        ``until`` of ``YYYY-MM-DDT23:59`` takes in that day's sub-daily cycles too), by date then
        schedule."""


@runtime_checkable
class BatchStore(Protocol):
    """What an evaluation and a watcher pass read and write in one go (see
    :mod:`interlock_core.unit_of_work`): each answers what the single-record methods of the other
    roles answer, in one statement / round trip / query where the backend allows, and a commit is
    all or nothing."""

    async def read_pipeline(self, pipeline_id: str, cycles: Sequence[tuple[str, str]] = (), *,
                            readiness: bool = True, config: bool = False, known_version: str | None = None,
                            history: int = 0, shared: bool = False) -> PipelineRecords:
        """In one read (one statement / round trip / query where the backend allows): the
        pipeline's live trait rows, its readiness cache (unless ``readiness`` is False) and the run
        logs of ``cycles`` ((date, schedule id) pairs; an empty schedule id is ``daily``) — what
        :meth:`TraitStore.list_traits`, :meth:`TraitStore.get_readiness` and
        :meth:`RunStore.get_run_log` answer, as one look.

        ``config``: also the stored configuration's version and, unless that version is
        ``known_version``, the configuration (:meth:`PipelineStore.get_pipeline`). ``history`` > 0:
        also the pipeline's ``history`` newest reruns, its newest run, and the runs the run logs
        read and the reruns of those cycles name (see :class:`PipelineRecords`).

        The records are the caller's own unless ``shared``: then the caller only reads them (it never
        changes them, nor hands them to code that might), and a store that keeps what it decoded may
        answer its kept records themselves — the same objects for as long as what they hold is
        unchanged, which lets a reader keep what it made of them (the readiness GET does). A store
        that keeps nothing answers new records either way."""

    async def read_cycles(self, cycles: Sequence[CycleKey]) -> dict[CycleKey, RunLogEntry]:
        """The live run logs of many cycles ((pipeline, date, schedule id)) in one batch, keyed as
        asked; a cycle without one is left out."""

    async def read_reruns(self, pipeline_ids: Sequence[str], limit: int = 20) -> dict[str, list[RerunRecord]]:
        """The ``limit`` newest reruns of each of many pipelines in one batch, newest first — what
        ``list_reruns`` answers for each; a pipeline without any is left out."""

    async def read_traits(self, pipeline_ids: Sequence[str]) -> dict[str, list[TraitEvaluation]]:
        """The live trait rows of many pipelines in one batch — what ``list_traits`` answers for
        each; a pipeline without any is left out."""

    async def read_runs(self, run_ids: Sequence[str]) -> dict[str, RunState]:
        """Many runs by id in one batch — what ``get_run`` answers for each; a run not stored
        (or expired) is left out."""

    async def commit(self, work: UnitOfWork) -> CommitResult:
        """Write ``work`` in one transaction (SQLite) / one round trip (Redis) / one
        ``TransactWriteItems`` (DynamoDB): its trait rows (each unless its ``unless_pushed_after``
        condition holds), its events in order with their alerts (those guarded by a claim only when
        the claim is taken: as :meth:`AlertOutboxStore.record_alerts`), and the readiness cache.
        All or nothing."""


@runtime_checkable
class LeaseStore(Protocol):
    """Named leases with an owner and a TTL: the trigger lock of a cycle, a watcher pass, the
    alert sender's turn, a sink's memory. At most one live owner per key across every process on
    the backend; an expired lease is free."""

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        """Take the lease if free or expired, or renew it if ``owner`` already holds it."""

    async def release_lease(self, key: str, owner: str) -> bool:
        """Release only if ``owner`` holds it; True when released."""

    async def lease_owner(self, key: str) -> str | None:
        """The current holder of a live lease, or None."""


STORE_ROLES: tuple[type, ...] = (
    StoreConnection, PipelineStore, TraitStore, RunStore, RerunStore, EventStore, AlertOutboxStore,
    MarkerStore, ShadowStore, BatchStore, LeaseStore,
)
"""Every role, in the order ``docs/plugins.md`` walks through them; :class:`Store` is all of them."""
