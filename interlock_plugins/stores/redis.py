"""The ``redis`` store: production local mode on Redis ≥ 7 or Valkey.

Compare-and-swap and leases are Lua scripts (``_redis_scripts``), trait and readiness expiry is
native ``PEXPIRE`` (an expired record is simply absent), events live in one stream per pipeline
whose ids are the cursors, and lists are sorted sets scored by time. Key names are in
``_redis_keys``; connection failures become ``StoreUnavailable`` in ``_redis_connection``.
Expiry is the server's real time: nothing here consults the injected clock to decide it.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable
from datetime import date as Date
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from redis.commands.core import AsyncScript

from interlock_core.clock import Clock, SystemClock
from interlock_core.errors import StoreUnavailable, ValidationError
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
from interlock_core.ports import Notifier

from . import _redis_scripts as scripts
from ._redis_alerts import RedisAlertOutbox
from ._redis_batches import RedisBatches
from ._redis_connection import UNAVAILABLE_ERRORS, RedisConfig, connect, resolve_config, translate_errors
from ._redis_keys import RedisKeys, cycle_member, split_cycle_member

__all__ = ["RedisConfig", "RedisStore"]

log = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)

ACTIVE_RUN_GRACE = timedelta(hours=24)
"""Runs and reruns that are not finished are kept this much longer than the retention."""

ALL_RERUNS_FACTOR = 5
"""The cross-pipeline rerun index keeps this many times ``runIndexLimit`` entries."""

SHADOW_INDEX_FACTOR = 10
"""A pipeline's shadow-record index keeps this many times ``runIndexLimit`` cycles (they expire with
the retention long before that for a daily schedule)."""

_STREAM_ID = re.compile(r"^\d+(-\d+)?$")

ScriptArgs = list[str | int]


def _ms(seconds: float | None) -> int:
    """A TTL in whole milliseconds; 0 means "no expiry"."""
    if seconds is None or seconds <= 0 or not math.isfinite(seconds):
        return 0
    return max(1, round(seconds * 1000))


def _score(when: datetime) -> int:
    return round(when.timestamp() * 1000)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(values: Any) -> list[str]:
    """A list reply of strings (redis-py's types do not model ``decode_responses``)."""
    return [_text(v) for v in values or ()]


def _decode(model: type[R], raw: bytes | str | None, what: str) -> R | None:
    if raw is None:
        return None
    try:
        return model.model_validate_json(raw)
    except PydanticValidationError as exc:
        log.warning("skipping unreadable %s in redis store: %s", what, exc.errors()[:1])
        return None


class RedisStore(RedisAlertOutbox, RedisBatches):
    """``provider: redis``. Satisfies :class:`interlock_core.ports.Store` (the alert outbox and
    the events that raise alerts: ``_redis_alerts``)."""

    name: ClassVar[str] = "redis"
    config_model: ClassVar[type[BaseModel]] = RedisConfig

    def __init__(
        self,
        config: RedisConfig | None = None,
        *,
        url: str | None = None,
        key_prefix: str | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> None:
        self.config = resolve_config(config, url=url, key_prefix=key_prefix, **options)
        self.clock: Clock = clock or SystemClock()
        self.keys = RedisKeys(self.config.key_prefix)
        self.target = self.config.target()
        self._redis = connect(self.config)
        self._closed = False
        register: Callable[[str], AsyncScript] = self._redis.register_script
        self._write_record = register(scripts.WRITE_RECORD)
        self._acquire_lease = register(scripts.ACQUIRE_LEASE)
        self._release_lease = register(scripts.RELEASE_LEASE)
        self._append_event = register(scripts.APPEND_EVENT)
        self._write_marker = register(scripts.WRITE_CASCADE_MARKER)
        self._register_outbox_scripts()
        self._register_batch_scripts()

    @classmethod
    def create(cls, config: RedisConfig, context: PluginContext) -> RedisStore:
        return cls(config, clock=context.clock)

    # lifecycle -----------------------------------------------------------------------------
    @translate_errors
    async def start(self) -> None:
        """Verify the server answers; there is no schema to create."""
        if not await self._redis.ping():
            raise StoreUnavailable(f"redis store at {self.target} does not answer PING", store="redis")

    async def start_read_only(self) -> None:
        """As :meth:`start`: there is nothing to create."""
        await self.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._redis.aclose(close_connection_pool=True)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except UNAVAILABLE_ERRORS as exc:
            log.debug("redis store at %s does not answer: %s", self.target, exc)
            return False

    @translate_errors
    async def store_identity(self) -> str:
        """``SET <prefix>identity <fresh> NX GET``: one atomic command that keeps the first value
        ever written and answers it (None when this call wrote it)."""
        candidate = new_store_identity()
        existing = await self._redis.set(self.keys.identity, candidate, nx=True, get=True)
        return _text(existing) if isinstance(existing, bytes | str) else candidate

    @translate_errors
    async def purge(self) -> None:
        """Delete every key under the prefix (for tests and ``reset`` tools)."""
        batch: list[str] = []
        async for key in self._redis.scan_iter(match=self.keys.match_all(), count=500):
            batch.append(key)
            if len(batch) >= 500:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)

    # TTL rules -----------------------------------------------------------------------------
    @property
    def _retention_ms(self) -> int:
        return _ms(self.config.retention_ttl.total_seconds())

    def _record_ttl_ms(self, status: RunStatus) -> int:
        """Finished records live for the retention; unfinished ones a day longer."""
        retention = self._retention_ms
        if retention == 0 or status.is_terminal:
            return retention
        return retention + _ms(ACTIVE_RUN_GRACE.total_seconds())

    @property
    def _index_ttl_ms(self) -> int:
        """Indexes outlive the longest-lived record they point at."""
        return self._record_ttl_ms(RunStatus.PENDING)

    # pipelines -----------------------------------------------------------------------------
    @translate_errors
    async def put_pipeline(self, pipeline: PipelineConfig) -> None:
        await self._redis.hset(self.keys.pipelines, pipeline.name, pipeline.model_dump_json(by_alias=True))

    @translate_errors
    async def get_pipeline(self, pipeline_id: str) -> PipelineConfig | None:
        raw = await self._redis.hget(self.keys.pipelines, pipeline_id)
        return _decode(PipelineConfig, raw, f"pipeline {pipeline_id!r}")

    @translate_errors
    async def list_pipelines(self) -> list[PipelineConfig]:
        entries = await self._redis.hgetall(self.keys.pipelines)
        ordered = sorted((_text(name), raw) for name, raw in entries.items())
        found = (_decode(PipelineConfig, raw, f"pipeline {name!r}") for name, raw in ordered)
        return [p for p in found if p is not None]

    @translate_errors
    async def delete_pipeline(self, pipeline_id: str) -> bool:
        return bool(await self._redis.hdel(self.keys.pipelines, pipeline_id))

    # traits --------------------------------------------------------------------------------
    @translate_errors
    async def put_trait(self, evaluation: TraitEvaluation, ttl: float | None) -> None:
        key = self.keys.trait(evaluation.pipeline_id, evaluation.trait_type)
        async with self._redis.pipeline(transaction=True) as tx:
            tx.set(key, evaluation.to_json(), px=_ms(ttl) or None)
            tx.sadd(self.keys.traits(evaluation.pipeline_id), evaluation.trait_type)
            await tx.execute()

    @translate_errors
    async def get_trait(self, pipeline_id: str, trait_type: str) -> TraitEvaluation | None:
        raw = await self._redis.get(self.keys.trait(pipeline_id, trait_type))
        return _decode(TraitEvaluation, raw, f"trait {pipeline_id}/{trait_type}")

    @translate_errors
    async def list_traits(self, pipeline_id: str) -> list[TraitEvaluation]:
        types = sorted(_texts(await self._redis.smembers(self.keys.traits(pipeline_id))))
        if not types:
            return []
        raws = await self._redis.mget([self.keys.trait(pipeline_id, t) for t in types])
        found = (
            _decode(TraitEvaluation, raw, f"trait {pipeline_id}/{t}")
            for t, raw in zip(types, raws, strict=True)
        )
        return [e for e in found if e is not None]

    # readiness cache -----------------------------------------------------------------------
    @translate_errors
    async def put_readiness(self, result: ReadinessResult, ttl: float | None) -> None:
        key = self.keys.readiness(result.pipeline_id)
        await self._redis.set(key, result.to_json(), px=_ms(ttl) or None)

    @translate_errors
    async def get_readiness(self, pipeline_id: str) -> ReadinessResult | None:
        raw = await self._redis.get(self.keys.readiness(pipeline_id))
        return _decode(ReadinessResult, raw, f"readiness of {pipeline_id}")

    # runs ----------------------------------------------------------------------------------
    @translate_errors
    async def create_run(self, run: RunState) -> bool:
        args: ScriptArgs = ["create", 0, run.to_json(), self._record_ttl_ms(run.status)]
        created = await self._write_record([self.keys.run(run.run_id)], args)
        if created:
            await self._index(self.keys.runs(run.pipeline_id), run.run_id, _score(run.created_at))
        return bool(created)

    @translate_errors
    async def put_run(self, run: RunState) -> None:
        args: ScriptArgs = ["put", 0, run.to_json(), self._record_ttl_ms(run.status)]
        await self._write_record([self.keys.run(run.run_id)], args)
        await self._index(self.keys.runs(run.pipeline_id), run.run_id, _score(run.created_at))

    @translate_errors
    async def get_run(self, run_id: str) -> RunState | None:
        return _decode(RunState, await self._redis.get(self.keys.run(run_id)), f"run {run_id!r}")

    @translate_errors
    async def list_runs(self, pipeline_id: str, limit: int = 20) -> list[RunState]:
        return await self._list_indexed(self.keys.runs(pipeline_id), self.keys.run, RunState, limit)

    @translate_errors
    async def cas_run(self, run: RunState, expected_version: int) -> bool:
        args: ScriptArgs = ["cas", expected_version, run.to_json(), self._record_ttl_ms(run.status)]
        return bool(await self._write_record([self.keys.run(run.run_id)], args))

    # run logs --------------------------------------------------------------------------------
    @translate_errors
    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None:
        key = self.keys.run_log(pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID)
        return _decode(RunLogEntry, await self._redis.get(key), f"run log {pipeline_id}/{date}")

    @translate_errors
    async def cas_run_log(self, entry: RunLogEntry, expected_version: int | None) -> bool:
        if expected_version is None:
            return await self._write_run_log(entry, "create", 0)
        return await self._write_run_log(entry, "cas", expected_version)

    @translate_errors
    async def put_run_log(self, entry: RunLogEntry) -> None:
        await self._write_run_log(entry, "put", 0)

    async def _write_run_log(self, entry: RunLogEntry, mode: str, expected: int) -> bool:
        if not entry.schedule_id:
            entry = entry.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})
        keys = [self.keys.run_log(entry.pipeline_id, entry.date, entry.schedule_id),
                self.keys.run_logs(entry.pipeline_id)]
        args: ScriptArgs = [
            mode, expected, entry.to_json(), self._record_ttl_ms(entry.status),
            _score(entry.started_at), cycle_member(entry.date, entry.schedule_id),
            self.config.run_index_limit, self._index_ttl_ms,
        ]
        return bool(await self._write_record(keys, args))

    @translate_errors
    async def list_run_logs(self, pipeline_id: str, limit: int = 20) -> list[RunLogEntry]:
        if limit <= 0:
            return []
        members = _texts(await self._redis.zrange(self.keys.run_logs(pipeline_id), 0, -1))
        if not members:
            return []
        keys = [self.keys.run_log(pipeline_id, *split_cycle_member(m)) for m in members]
        raws = await self._redis.mget(keys)
        found = [
            _decode(RunLogEntry, raw, f"run log {pipeline_id}/{m}")
            for m, raw in zip(members, raws, strict=True)
        ]
        entries = [e for e in found if e is not None]
        entries.sort(key=lambda e: (e.date, e.started_at), reverse=True)
        return entries[:limit]

    # reruns ----------------------------------------------------------------------------------
    @translate_errors
    async def cas_rerun(self, record: RerunRecord, expected_version: int | None) -> bool:
        mode, expected = ("create", 0) if expected_version is None else ("cas", expected_version)
        return await self._write_rerun(record, mode, expected)

    @translate_errors
    async def put_rerun(self, record: RerunRecord) -> None:
        await self._write_rerun(record, "put", 0)

    async def _write_rerun(self, record: RerunRecord, mode: str, expected: int) -> bool:
        args: ScriptArgs = [mode, expected, record.to_json(), self._record_ttl_ms(record.status)]
        if not await self._write_record([self.keys.rerun(record.rerun_id)], args):
            return False
        score = _score(record.requested_at)
        await self._index(self.keys.reruns(record.pipeline_id), record.rerun_id, score)
        await self._index(self.keys.all_reruns, record.rerun_id, score, ALL_RERUNS_FACTOR)
        return True

    @translate_errors
    async def get_rerun(self, rerun_id: str) -> RerunRecord | None:
        return _decode(RerunRecord, await self._redis.get(self.keys.rerun(rerun_id)), f"rerun {rerun_id!r}")

    @translate_errors
    async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]:
        index = self.keys.all_reruns if pipeline_id is None else self.keys.reruns(pipeline_id)
        return await self._list_indexed(index, self.keys.rerun, RerunRecord, limit)

    # events ----------------------------------------------------------------------------------
    @translate_errors
    async def _append_event_alone(self, event: Event) -> str:
        args: ScriptArgs = [
            self.config.event_stream_max, self._retention_ms, event.kind.value, event.to_json()
        ]
        return str(await self._append_event([self.keys.events(event.pipeline_id)], args))

    @translate_errors
    async def list_events(self, pipeline_id: str, limit: int = 50) -> list[Event]:
        if limit <= 0:
            return []
        entries = await self._redis.xrevrange(self.keys.events(pipeline_id), "+", "-", count=limit)
        return [record.event for record in _event_records(reversed(entries or []))]

    @translate_errors
    async def read_events_since(
        self, pipeline_id: str, cursor: str | None, count: int = 100
    ) -> list[EventRecord]:
        if count <= 0:
            return []
        if cursor in (None, "", "0-0", "0"):
            start = "-"
        elif cursor is not None and _STREAM_ID.match(cursor):
            start = "(" + cursor
        else:
            raise ValidationError(
                f"invalid event cursor {cursor!r}: expected a stream id like 1700000000000-0", field="cursor"
            )
        entries = await self._redis.xrange(self.keys.events(pipeline_id), start, "+", count=count)
        return _event_records(entries or [])

    # cascade markers -------------------------------------------------------------------------
    @translate_errors
    async def write_cascade_marker(self, marker: CascadeMarker) -> None:
        schedule_id = marker.schedule_id or DEFAULT_SCHEDULE_ID
        if schedule_id != marker.schedule_id:
            marker = marker.model_copy(update={"schedule_id": schedule_id})
        key = self.keys.cascade(marker.pipeline_id, marker.date, schedule_id)
        await self._write_marker([key], [marker.source, marker.to_json(), self._retention_ms])

    @translate_errors
    async def list_cascade_markers(
        self, pipeline_id: str, date: str, schedule_id: str
    ) -> list[CascadeMarker]:
        key = self.keys.cascade(pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID)
        entries = await self._redis.hgetall(key)
        found = (_decode(CascadeMarker, raw, f"cascade marker {key}") for raw in entries.values())
        return sorted((m for m in found if m is not None), key=lambda m: (m.timestamp, m.source))

    # shadow records --------------------------------------------------------------------------
    @translate_errors
    async def get_shadow_cycle(self, pipeline_id: str, date: str, schedule_id: str) -> ShadowCycle | None:
        key = self.keys.shadow(pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID)
        return _decode(ShadowCycle, await self._redis.get(key), f"shadow record {pipeline_id}/{date}")

    @translate_errors
    async def cas_shadow_cycle(self, record: ShadowCycle, expected_version: int | None) -> bool:
        if not record.schedule_id:
            record = record.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})
        mode, expected = ("create", 0) if expected_version is None else ("cas", expected_version)
        keys = [self.keys.shadow(record.pipeline_id, record.date, record.schedule_id),
                self.keys.shadows(record.pipeline_id)]
        args: ScriptArgs = [
            mode, expected, record.to_json(), self._retention_ms, Date.fromisoformat(record.date[:10]).toordinal(),
            cycle_member(record.date, record.schedule_id), self.config.run_index_limit * SHADOW_INDEX_FACTOR,
            self._index_ttl_ms,
        ]
        return bool(await self._write_record(keys, args))

    @translate_errors
    async def list_shadow_cycles(self, pipeline_id: str, since: str, until: str) -> list[ShadowCycle]:
        low, high = Date.fromisoformat(since[:10]).toordinal(), Date.fromisoformat(until[:10]).toordinal()
        members = _texts(await self._redis.zrangebyscore(self.keys.shadows(pipeline_id), low, high))
        if not members:
            return []
        keys = [self.keys.shadow(pipeline_id, *split_cycle_member(m)) for m in members]
        raws = await self._redis.mget(keys)
        found = [_decode(ShadowCycle, raw, f"shadow record {pipeline_id}/{m}")
                 for m, raw in zip(members, raws, strict=True)]
        return sorted((r for r in found if r is not None), key=lambda r: (r.date, r.schedule_id))

    # wake-ups between replicas -----------------------------------------------------------------
    def wake_up_notifier(self) -> Notifier:
        """Pub/sub on ``<keyPrefix>wake`` of this store's Redis (its own connection)."""
        from .redis_notify import RedisNotifier

        return RedisNotifier(self.config)

    # leases ----------------------------------------------------------------------------------
    @translate_errors
    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        return bool(await self._acquire_lease([self.keys.lease(key)], [owner, _ms(ttl)]))

    @translate_errors
    async def release_lease(self, key: str, owner: str) -> bool:
        return bool(await self._release_lease([self.keys.lease(key)], [owner]))

    @translate_errors
    async def lease_owner(self, key: str) -> str | None:
        owner = await self._redis.get(self.keys.lease(key))
        return None if owner is None else _text(owner)

    # helpers -----------------------------------------------------------------------------------
    async def _index(self, index: str, member: str, score: int, keep_factor: int = 1) -> None:
        """Add ``member`` to a time-scored index, keep the newest entries, refresh its TTL."""
        keep = self.config.run_index_limit * keep_factor
        async with self._redis.pipeline(transaction=True) as tx:
            tx.zadd(index, {member: score})
            tx.zremrangebyrank(index, 0, -(keep + 1))
            if self._index_ttl_ms:
                tx.pexpire(index, self._index_ttl_ms)
            else:
                tx.persist(index)
            await tx.execute()

    async def _list_indexed(
        self, index: str, key_of: Callable[[str], str], model: type[R], limit: int
    ) -> list[R]:
        """Newest first from a time-scored index, skipping members whose record has expired."""
        out: list[R] = []
        start = 0
        while len(out) < limit:
            page = max(limit - len(out), 10)
            members = _texts(await self._redis.zrevrange(index, start, start + page - 1))
            if not members:
                break
            start += len(members)
            async with self._redis.pipeline(transaction=False) as pipe:
                for member in members:
                    pipe.get(key_of(member))
                raws: list[str | None] = await pipe.execute()
            for member, raw in zip(members, raws, strict=True):
                record = _decode(model, raw, f"{model.__name__} {member!r}")
                if record is not None:
                    out.append(record)
            if len(members) < page:
                break
        return out[:limit]


def _event_records(entries: Iterable[Any]) -> list[EventRecord]:
    """Stream entries ``(id, {kind, data})`` as event records; unreadable entries are skipped."""
    out: list[EventRecord] = []
    for stream_id, fields in entries:
        event = _decode(Event, (fields or {}).get("data"), f"event {stream_id}")
        if event is not None:
            out.append(EventRecord(stream_id=_text(stream_id), event=event))
    return out
