"""The ``dynamodb`` store: AWS mode, one table in a single-table layout.

Keys are in ``_dynamodb_keys``, items and conditions in ``_dynamodb_items``, the client and its
calls in ``_dynamodb_client``, the config section, table creation and error translation in
``_dynamodb_table``. Compare-and-swap, claims and leases
are conditional writes; a run or rerun is written together with its list copy in one
``TransactWriteItems``. Events are numbered per pipeline by a counter item advanced in the same
transaction as the event is written, so cursors follow append order and never skip or repeat.
Every query follows ``LastEvaluatedKey``. Expiry decisions use the injected clock: DynamoDB's own
TTL deletion is lazy, so expired items are treated as absent on read.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

import aioboto3
import anyio
from pydantic import BaseModel
from pydantic import ValidationError as ModelError

from interlock_core.clock import Clock, SystemClock
from interlock_core.errors import ConfigError
from interlock_core.launch_keys import new_store_identity
from interlock_core.model import (
    DEFAULT_SCHEDULE_ID,
    CascadeMarker,
    Event,
    EventRecord,
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    RunStatus,
    ShadowCycle,
    TraitEvaluation,
)
from interlock_core.plugins import PluginContext

from . import _dynamodb_items as items
from . import _dynamodb_keys as keys
from ._dynamodb_alerts import APPEND_LOCKS, DynamoDBEventsAndAlerts
from ._dynamodb_batches import DynamoDBBatches, trait_item
from ._dynamodb_client import TableClient
from ._dynamodb_items import Item
from ._dynamodb_table import DynamoDBConfig, unavailable

__all__ = ["DynamoDBConfig", "DynamoDBStore"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

UNFINISHED_GRACE = timedelta(days=1)
"""Runs, run logs and reruns that are not finished outlive the retention by this much."""



class DynamoDBStore(DynamoDBEventsAndAlerts, DynamoDBBatches):
    """``provider: dynamodb``. Satisfies :class:`interlock_core.ports.Store`.

    ``DynamoDBStore(table_name="t", endpoint=..., clock=...)`` builds the config from keyword
    options; ``session`` shares an aioboto3 session between stores (tests) and ``page_size``
    caps every query page (tests of pagination).
    """

    name: ClassVar[str] = "dynamodb"
    config_model: ClassVar[type[BaseModel]] = DynamoDBConfig

    def __init__(
        self,
        config: DynamoDBConfig | None = None,
        *,
        clock: Clock | None = None,
        session: aioboto3.Session | None = None,
        page_size: int | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            config = DynamoDBConfig.model_validate(options)
        elif options:
            config = DynamoDBConfig.model_validate({**config.model_dump(), **options})
        self.config = config
        self.table = config.table_name
        self._clock: Clock = clock or SystemClock()
        self._db = TableClient(config, session or aioboto3.Session(), page_size)
        self._last_event: dict[str, int] = {}
        self._append_locks = [anyio.Lock() for _ in range(APPEND_LOCKS)]

    @classmethod
    def create(cls, config: DynamoDBConfig | Mapping[str, Any], context: PluginContext) -> DynamoDBStore:
        if not isinstance(config, DynamoDBConfig):
            try:
                config = DynamoDBConfig.model_validate(dict(config))
            except ModelError as exc:
                raise ConfigError(f"invalid dynamodb store settings: {exc}", key="dynamodb") from None
        return cls(config, clock=context.clock)

    def __repr__(self) -> str:
        return f"DynamoDBStore(table={self.table!r}, region={self.config.region!r})"

    # lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the client, create the table when ``createTable``, check it exists and fits."""
        await self._db.open()

    async def start_read_only(self) -> None:
        """Open the client to read: the table is never created (a missing one is StoreUnavailable)."""
        await self._db.open(create=False)

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> bool:
        return await self._db.ping()

    async def store_identity(self) -> str:
        """Read (strongly consistent); when absent, a conditional put that only the first writer
        wins, then read what is stored."""
        stored = items.string_of(await self._db.get(keys.STORE, keys.IDENTITY) or {}, items.IDENTITY)
        if stored:
            return stored
        candidate = items.identity_item(new_store_identity())
        await self._db.put(candidate, items.new_item())
        stored = items.string_of(await self._db.get(keys.STORE, keys.IDENTITY) or {}, items.IDENTITY)
        if not stored:
            raise unavailable(self.table, "the store identity was written but cannot be read back")
        return stored

    # pipelines -------------------------------------------------------------------------------
    async def put_pipeline(self, pipeline: PipelineConfig) -> None:
        await self._db.put(items.pipeline_item(pipeline))

    async def get_pipeline(self, pipeline_id: str) -> PipelineConfig | None:
        return await self._get(PipelineConfig, keys.pipeline_pk(pipeline_id), keys.CONFIG)

    async def list_pipelines(self) -> list[PipelineConfig]:
        query = self._db.query("GSI1PK = :pk", {":pk": items.text(keys.PIPELINES_TYPE)}, index=keys.GSI1)
        found = [self._decoded(PipelineConfig, item) async for item in query]
        return sorted((p for p in found if p is not None), key=lambda p: p.name)

    async def delete_pipeline(self, pipeline_id: str) -> bool:
        return bool(await self._db.delete(items.key(keys.pipeline_pk(pipeline_id), keys.CONFIG)))

    # traits ----------------------------------------------------------------------------------
    async def put_trait(self, evaluation: TraitEvaluation, ttl: float | None) -> None:
        await self._db.put(trait_item(evaluation, items.expiry(ttl, self._now())))

    async def get_trait(self, pipeline_id: str, trait_type: str) -> TraitEvaluation | None:
        return await self._get(TraitEvaluation, keys.pipeline_pk(pipeline_id), keys.trait_sk(trait_type))

    async def list_traits(self, pipeline_id: str) -> list[TraitEvaluation]:
        query = self._db.prefix_query(keys.pipeline_pk(pipeline_id), keys.TRAIT_PREFIX)
        found = [self._decoded(TraitEvaluation, item) async for item in query]
        return sorted((t for t in found if t is not None), key=lambda t: t.trait_type)

    # readiness cache -------------------------------------------------------------------------
    async def put_readiness(self, result: ReadinessResult, ttl: float | None) -> None:
        pk = keys.pipeline_pk(result.pipeline_id)
        item = items.record_item(pk, keys.READINESS, result.to_json(), items.expiry(ttl, self._now()))
        await self._db.put(item)

    async def get_readiness(self, pipeline_id: str) -> ReadinessResult | None:
        return await self._get(ReadinessResult, keys.pipeline_pk(pipeline_id), keys.READINESS)

    # runs ------------------------------------------------------------------------------------
    async def create_run(self, run: RunState) -> bool:
        return await self._db.put_pair(items.run_items(run, self._retained(run.status)), items.absent(self._now()))

    async def put_run(self, run: RunState) -> None:
        await self._db.put_pair(items.run_items(run, self._retained(run.status)), None)

    async def get_run(self, run_id: str) -> RunState | None:
        return await self._get(RunState, keys.run_key(run_id), keys.run_key(run_id))

    async def list_runs(self, pipeline_id: str, limit: int = 20) -> list[RunState]:
        query = self._db.prefix_query(keys.pipeline_pk(pipeline_id), keys.RUN_PREFIX, forward=False, page=limit)
        return await self._unique(RunState, query, limit, lambda run: run.run_id)

    async def cas_run(self, run: RunState, expected_version: int) -> bool:
        condition = items.version_is(expected_version, self._now())
        return await self._db.put_pair(items.run_items(run, self._retained(run.status)), condition)

    # run logs --------------------------------------------------------------------------------
    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None:
        sk = keys.run_log_sk(date, schedule_id or DEFAULT_SCHEDULE_ID)
        return await self._get(RunLogEntry, keys.pipeline_pk(pipeline_id), sk)

    async def cas_run_log(self, entry: RunLogEntry, expected_version: int | None) -> bool:
        now = self._now()
        condition = items.absent(now) if expected_version is None else items.version_is(expected_version, now)
        entry = items.with_default_schedule(entry)
        return await self._db.put(items.run_log_item(entry, self._retained(entry.status)), condition)

    async def put_run_log(self, entry: RunLogEntry) -> None:
        entry = items.with_default_schedule(entry)
        await self._db.put(items.run_log_item(entry, self._retained(entry.status)), None)

    async def list_run_logs(self, pipeline_id: str, limit: int = 20) -> list[RunLogEntry]:
        """Newest first by (date, startedAt): the sort key orders by date, so every entry of the
        last date taken is read before sorting that date by ``startedAt``."""
        if limit <= 0:
            return []
        out: list[RunLogEntry] = []
        query = self._db.prefix_query(keys.pipeline_pk(pipeline_id), keys.RUN_LOG_PREFIX, forward=False, page=limit + 1)
        async with contextlib.aclosing(query) as found:
            async for item in found:
                entry = self._decoded(RunLogEntry, item)
                if entry is None:
                    continue
                if len(out) >= limit and entry.date != out[limit - 1].date:
                    break
                out.append(entry)
        out.sort(key=lambda e: (e.date, e.started_at), reverse=True)
        return out[:limit]

    # reruns ----------------------------------------------------------------------------------
    async def cas_rerun(self, record: RerunRecord, expected_version: int | None) -> bool:
        now = self._now()
        condition = items.absent(now) if expected_version is None else items.version_is(expected_version, now)
        return await self._db.put_pair(items.rerun_items(record, self._retained(record.status)), condition)

    async def put_rerun(self, record: RerunRecord) -> None:
        await self._db.put_pair(items.rerun_items(record, self._retained(record.status)), None)

    async def get_rerun(self, rerun_id: str) -> RerunRecord | None:
        return await self._get(RerunRecord, keys.rerun_key(rerun_id), keys.rerun_key(rerun_id))

    async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]:
        if pipeline_id is None:
            values = {":pk": items.text(keys.RERUNS_TYPE)}
            query = self._db.query("GSI1PK = :pk", values, index=keys.GSI1, forward=False, page=limit)
        else:
            query = self._db.prefix_query(keys.pipeline_pk(pipeline_id), keys.RERUN_PREFIX, forward=False, page=limit)
        return await self._unique(RerunRecord, query, limit, lambda record: record.rerun_id)

    # events (appended with the alerts they raise: ``_dynamodb_alerts``) --------------------------
    async def list_events(self, pipeline_id: str, limit: int = 50) -> list[Event]:
        if limit <= 0:
            return []
        records = await self._events(pipeline_id, 1, limit, forward=False)
        return [record.event for record in reversed(records)]

    async def read_events_since(self, pipeline_id: str, cursor: str | None, count: int = 100) -> list[EventRecord]:
        after = keys.event_cursor(cursor)
        if count <= 0 or after >= keys.LAST_EVENT:
            return []
        return await self._events(pipeline_id, after + 1, count, forward=True)

    async def _events(self, pipeline_id: str, first: int, count: int, *, forward: bool) -> list[EventRecord]:
        """Up to ``count`` live events numbered ``first`` or later, bounded to the ``EVENT#`` range."""
        values = {
            ":pk": items.text(keys.pipeline_pk(pipeline_id)),
            ":first": items.text(keys.event_sk(first)),
            ":last": items.text(keys.event_sk(keys.LAST_EVENT)),
        }
        out: list[EventRecord] = []
        query = self._db.query("PK = :pk AND SK BETWEEN :first AND :last", values, forward=forward, page=count)
        async with contextlib.aclosing(query) as found:
            async for item in found:
                sequence = keys.event_sequence(items.string_of(item, "SK") or "")
                event = self._decoded(Event, item)
                if sequence is None or event is None:
                    continue
                out.append(EventRecord(stream_id=str(sequence), event=event))
                if len(out) >= count:
                    break
        return out

    # cascade markers -------------------------------------------------------------------------
    async def write_cascade_marker(self, marker: CascadeMarker) -> None:
        """The first marker per (pipeline, date, schedule, source) stays; writing it again is a no-op."""
        if not marker.schedule_id:
            marker = marker.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})
        await self._db.put(items.marker_item(marker, self._retained(None)), items.absent(self._now()))

    async def list_cascade_markers(self, pipeline_id: str, date: str, schedule_id: str) -> list[CascadeMarker]:
        schedule_id = schedule_id or DEFAULT_SCHEDULE_ID
        query = self._db.prefix_query(keys.pipeline_pk(pipeline_id), keys.cascade_prefix(date, schedule_id))
        found = [self._decoded(CascadeMarker, item) async for item in query]
        markers = (m for m in found if m is not None and (m.date, m.schedule_id) == (date, schedule_id))
        return sorted(markers, key=lambda m: m.source)

    # shadow records --------------------------------------------------------------------------
    async def get_shadow_cycle(self, pipeline_id: str, date: str, schedule_id: str) -> ShadowCycle | None:
        sk = keys.shadow_sk(date, schedule_id or DEFAULT_SCHEDULE_ID)
        return await self._get(ShadowCycle, keys.pipeline_pk(pipeline_id), sk)

    async def cas_shadow_cycle(self, record: ShadowCycle, expected_version: int | None) -> bool:
        now = self._now()
        condition = items.absent(now) if expected_version is None else items.version_is(expected_version, now)
        if not record.schedule_id:
            record = record.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})
        return await self._db.put(items.shadow_item(record, self._retained(None)), condition)

    async def list_shadow_cycles(self, pipeline_id: str, since: str, until: str) -> list[ShadowCycle]:
        low, high = keys.shadow_range(since, until)
        values = {":pk": items.text(keys.pipeline_pk(pipeline_id)), ":low": items.text(low),
                  ":high": items.text(high)}
        query = self._db.query("PK = :pk AND SK BETWEEN :low AND :high", values)
        found = [self._decoded(ShadowCycle, item) async for item in query]
        return sorted((r for r in found if r is not None), key=lambda r: (r.date, r.schedule_id))

    # leases ----------------------------------------------------------------------------------
    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        now = self._now()
        return await self._db.put(items.lease_item(key, owner, items.expiry(ttl, now)), items.lease_free(owner, now))

    async def release_lease(self, key: str, owner: str) -> bool:
        condition = items.lease_held(owner, self._now())
        return bool(await self._db.delete(items.key(keys.lease_pk(key), keys.LEASE), condition))

    async def lease_owner(self, key: str) -> str | None:
        item = await self._db.get(keys.lease_pk(key), keys.LEASE)
        if item is None or not items.is_live(item, self._now()):
            return None
        return items.string_of(item, items.OWNER)

    # helpers -----------------------------------------------------------------------------------
    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _retained(self, status: RunStatus | None) -> int | None:
        """The ``ttl`` of a run, run log, rerun (by ``status``), event or marker written now."""
        seconds = self.config.retention_ttl.total_seconds()
        if seconds <= 0:
            return None
        if status is not None and not status.is_terminal:
            seconds += UNFINISHED_GRACE.total_seconds()
        return items.expiry(seconds, self._now())

    async def _get(self, model: type[M], pk: str, sk: str) -> M | None:
        return items.decode(model, await self._db.get(pk, sk), self._now())

    def _decoded(self, model: type[M], item: Item) -> M | None:
        return items.decode(model, item, self._now())

    async def _unique(
        self, model: type[M], query: AsyncGenerator[Item, None], limit: int, identity: Callable[[M], str]
    ) -> list[M]:
        """The first ``limit`` live records of ``query``, each identity once (list copies and
        the index may hold a record twice)."""
        out: list[M] = []
        seen: set[str] = set()
        if limit <= 0:
            return out
        async with contextlib.aclosing(query) as found:
            async for item in found:
                record = self._decoded(model, item)
                if record is None or identity(record) in seen:
                    continue
                seen.add(identity(record))
                out.append(record)
                if len(out) >= limit:
                    break
        return out

