"""The archiver: copies history from the live store into a long-term archive, on an interval.

Every tick walks the pipelines and copies, for each one, its finished runs, its run logs, its
reruns and its events (trait evaluations are derived from TRAIT_EVALUATED / TRAIT_PUSHED events).
Copying is idempotent: runs, run logs and reruns are upserts keyed by their ids, events are keyed
by (pipeline, stream id), and the event cursor of a pipeline only moves once a batch is stored, so
a failed or repeated tick never loses nor duplicates a row.

Runs, run logs and reruns are listed newest first; the archiver widens the listing until it
reaches a record it has already archived unchanged (and every record that was still moving last
time), so a first tick catches up with everything the store still holds and later ticks read a
page or so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import anyio
from anyio.abc import TaskStatus

from .clock import Clock, SystemClock
from .errors import InterlockError, StoreUnavailable, ValidationError
from .model import (
    Event,
    EventKind,
    EventRecord,
    FailureCategory,
    Record,
    RerunRecord,
    RunLogEntry,
    RunState,
    TraitEvaluation,
)
from .ports import Store

log = logging.getLogger("interlock.archiver")

EVENTS = "events"
"""The archive cursor kind of a pipeline's event log."""

TRAIT_EVENTS = frozenset({EventKind.TRAIT_EVALUATED, EventKind.TRAIT_PUSHED})


class Archive(Protocol):
    """Long-term history. Every write is idempotent; ``migrate`` creates or upgrades the schema."""

    async def migrate(self) -> None: ...

    async def upsert_runs(self, runs: Sequence[RunState]) -> None: ...

    async def upsert_run_logs(self, entries: Sequence[RunLogEntry]) -> None: ...

    async def upsert_reruns(self, records: Sequence[RerunRecord]) -> None: ...

    async def insert_events(self, pipeline_id: str, records: Sequence[EventRecord]) -> None:
        """Store the events and the trait evaluations they carry, in one transaction; an event
        already stored under (pipeline_id, stream id) is skipped, as is its trait evaluation."""

    async def get_cursor(self, pipeline_id: str, kind: str) -> str | None: ...

    async def set_cursor(self, pipeline_id: str, kind: str, value: str) -> None: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------- trait evaluations


@dataclass(frozen=True)
class ArchivedTraitEvaluation:
    """A trait evaluation as archived: keyed by the stream id of the event that carried it."""

    stream_id: str
    evaluation: TraitEvaluation


def trait_evaluations_from_events(
    pipeline_id: str, records: Sequence[EventRecord]
) -> list[ArchivedTraitEvaluation]:
    """The trait evaluations carried by TRAIT_EVALUATED / TRAIT_PUSHED events: the reason is the
    event's message, the value its details, the failure category whatever the event says of it."""
    found = []
    for record in records:
        event = record.event
        if event.kind not in TRAIT_EVENTS or not event.trait_type:
            continue
        evaluation = TraitEvaluation(
            pipeline_id=pipeline_id,
            trait_type=event.trait_type,
            status=event.status or "",
            value=event.details,
            reason=event.message,
            failure_category=_failure_category(event),
            evaluated_at=event.timestamp,
            source="pushed" if event.kind is EventKind.TRAIT_PUSHED else "evaluator",
        )
        found.append(ArchivedTraitEvaluation(record.stream_id, evaluation))
    return found


def _failure_category(event: Event) -> FailureCategory | None:
    details = event.details or {}
    for candidate in (getattr(event, "failure_category", None), details.get("failureCategory")):
        if isinstance(candidate, str) and candidate in FailureCategory.__members__:
            return FailureCategory(candidate)
    return None


# ------------------------------------------------------------------------------- archiver


@dataclass
class ArchiveStats:
    """What one tick sent to the archive (changed runs, run logs and reruns; new events) and how
    many steps failed."""

    pipelines: int = 0
    runs: int = 0
    run_logs: int = 0
    reruns: int = 0
    events: int = 0
    errors: int = 0


R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class _History(Generic[R]):
    """One kind of history listed newest first: how to list, key, judge and store it."""

    name: str
    listing: Callable[[str, int], Awaitable[list[R]]]
    upsert: Callable[[Sequence[R]], Awaitable[None]]
    key: Callable[[R], str]
    settled: Callable[[R], bool]
    archived: Callable[[R], bool] = lambda _: True


@dataclass
class _Seen:
    """What the last successful copy of one (pipeline, kind) listed."""

    fingerprints: dict[str, int] = field(default_factory=dict)
    moving: set[str] = field(default_factory=set)


class Archiver:
    def __init__(
        self,
        store: Store,
        archive: Archive,
        *,
        interval: float,
        clock: Clock | None = None,
        event_batch: int = 500,
        history_page: int = 100,
        max_history: int = 100_000,
    ) -> None:
        if interval <= 0:
            raise ValidationError("archiver interval must be positive", field="interval")
        if event_batch <= 0 or history_page <= 0 or max_history < history_page:
            raise ValidationError("archiver batch sizes must be positive", field="eventBatch")
        self.store = store
        self.archive = archive
        self.interval = interval
        self.clock = clock or SystemClock()
        self.event_batch = event_batch
        self.history_page = history_page
        self.max_history = max_history
        self.ticks = 0
        self.last_stats: ArchiveStats | None = None
        self._ticked = anyio.Event()
        self._seen: dict[tuple[str, str], _Seen] = {}
        self._runs = _History[RunState](
            "runs", store.list_runs, archive.upsert_runs, lambda r: r.run_id,
            lambda r: r.status.is_terminal, lambda r: r.status.is_terminal,
        )
        self._run_logs = _History[RunLogEntry](
            "run logs", store.list_run_logs, archive.upsert_run_logs,
            lambda e: f"{e.date}\x1f{e.schedule_id}", lambda e: e.status.is_settled,
        )
        self._reruns = _History[RerunRecord](
            "reruns", store.list_reruns, archive.upsert_reruns, lambda r: r.rerun_id,
            lambda r: r.status.is_settled,
        )

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Create or upgrade the archive schema (an error here is fatal), then tick at once and
        every ``interval`` seconds until cancelled."""
        await self.archive.migrate()
        task_status.started()
        while True:
            await self.run_once()
            await anyio.sleep(self.interval)

    async def wait_for_tick(self, count: int) -> None:
        """Return once ``count`` ticks have finished since start."""
        while self.ticks < count:
            await self._ticked.wait()

    async def run_once(self) -> ArchiveStats:
        """One tick over every pipeline. Errors are logged and counted, never raised; an
        unreachable store or archive ends the tick early (the next tick starts over)."""
        stats = ArchiveStats()
        started = self.clock.monotonic()
        try:
            await self._tick(stats)
        except StoreUnavailable as exc:
            stats.errors += 1
            log.error("archive tick aborted: %s", exc.message)
        finally:
            self.ticks += 1
            self.last_stats = stats
            self._ticked.set()
            self._ticked = anyio.Event()
        log.info(
            "archive tick: %d pipelines, %d runs, %d run logs, %d reruns, %d events, %d errors in %.3fs",
            stats.pipelines, stats.runs, stats.run_logs, stats.reruns, stats.events, stats.errors,
            self.clock.monotonic() - started,
        )
        return stats

    async def _tick(self, stats: ArchiveStats) -> None:
        try:
            pipelines = [p.name for p in await self.store.list_pipelines()]
        except StoreUnavailable:
            raise
        except Exception as exc:
            _log_failure(stats, "listing pipelines", exc)
            return
        listed = set(pipelines)
        self._seen = {key: seen for key, seen in self._seen.items() if key[0] in listed}
        for pipeline_id in pipelines:
            stats.pipelines += 1
            stats.runs += await self._guard(stats, pipeline_id, self._runs)
            stats.run_logs += await self._guard(stats, pipeline_id, self._run_logs)
            stats.reruns += await self._guard(stats, pipeline_id, self._reruns)
            stats.events += await self._guard(stats, pipeline_id, None)

    async def _guard(self, stats: ArchiveStats, pipeline_id: str, history: _History[Any] | None) -> int:
        """Copy one kind of history (events when ``history`` is None); log and count a failure."""
        try:
            if history is None:
                return await self._copy_events(pipeline_id)
            return await self._copy(pipeline_id, history)
        except StoreUnavailable:
            raise
        except Exception as exc:
            _log_failure(stats, f"archiving {history.name if history else EVENTS} of {pipeline_id}", exc)
            return 0

    async def _copy(self, pipeline_id: str, history: _History[R]) -> int:
        seen = self._seen.get((pipeline_id, history.name), _Seen())
        limit = self.history_page
        while True:
            items = await history.listing(pipeline_id, limit)
            if len(items) < limit:
                break
            if limit >= self.max_history:
                log.warning("archiving %s of %s: more than %d records, older ones skipped",
                            history.name, pipeline_id, self.max_history)
                break
            oldest = items[-1]
            caught_up = seen.fingerprints.get(history.key(oldest)) == _fingerprint(oldest)
            if caught_up and seen.moving <= {history.key(item) for item in items}:
                break
            limit = min(limit * 2, self.max_history)
        fingerprints = {history.key(item): _fingerprint(item) for item in items}
        changed = [i for i in items if seen.fingerprints.get(history.key(i)) != fingerprints[history.key(i)]]
        written = [item for item in changed if history.archived(item)]
        if written:
            await history.upsert(written)
        moving = {history.key(item) for item in items if not history.settled(item)}
        self._seen[(pipeline_id, history.name)] = _Seen(fingerprints, moving)
        return len(written)

    async def _copy_events(self, pipeline_id: str) -> int:
        cursor = await self.archive.get_cursor(pipeline_id, EVENTS)
        copied = 0
        while True:
            batch = await self.store.read_events_since(pipeline_id, cursor, self.event_batch)
            if not batch:
                return copied
            await self.archive.insert_events(pipeline_id, batch)
            if batch[-1].stream_id == cursor:
                raise InterlockError(f"the store returned events at or before cursor {cursor!r}")
            cursor = batch[-1].stream_id
            await self.archive.set_cursor(pipeline_id, EVENTS, cursor)
            copied += len(batch)
            if len(batch) < self.event_batch:
                return copied


def _fingerprint(record: Record) -> int:
    return hash(record.to_json())


def _log_failure(stats: ArchiveStats, what: str, exc: Exception) -> None:
    stats.errors += 1
    if isinstance(exc, InterlockError):
        log.error("%s failed: %s", what, exc.message)
    else:
        log.error("%s failed", what, exc_info=exc)
