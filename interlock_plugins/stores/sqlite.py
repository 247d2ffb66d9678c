"""The embedded default store: one SQLite file in WAL mode.

Zero set-up and durable. Several processes on one host (the CLI next to ``interlock serve``) may
share the file: every read-modify-write runs in a ``BEGIN IMMEDIATE`` transaction, so CAS, claims
and leases are atomic across processes. Time comes from the injected clock: TTLs are expiry
timestamps compared with ``clock.now()``; expired rows are absent on read and purged lazily.
Runs, run logs, reruns, events, cascade markers and shadow records are kept for ``retention`` (runs,
run logs and reruns that are not finished get one more day).
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, Field, field_validator
from pydantic import ValidationError as ModelError

from interlock_core.clock import Clock, SystemClock
from interlock_core.durations import Duration
from interlock_core.errors import ConfigError, StoreUnavailable, ValidationError
from interlock_core.launch_keys import new_store_identity
from interlock_core.model import (
    DEFAULT_SCHEDULE_ID,
    CascadeMarker,
    ConfigModel,
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
from interlock_core.unit_of_work import (
    CommitResult,
    CycleKey,
    PipelineRecords,
    UnitOfWork,
    config_version,
    may_overwrite,
)

from ._sqlite_alerts import _CLAIM_SQL, SQLiteAlertOutbox
from ._sqlite_database import MEMORY, SQLiteDatabase
from ._sqlite_schema import (
    CASCADE_MARKERS,
    LIVE,
    READINESS,
    RERUNS,
    RUN_LOGS,
    RUNS,
    SHADOW_CYCLES,
    TRAITS,
    Table,
    check_schema,
    ensure_schema,
    purge_expired,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

DEFAULT_RETENTION = timedelta(days=7)
UNFINISHED_GRACE = 86400.0  # unfinished runs, run logs and reruns outlive retention by a day
PURGE_INTERVAL = 60.0  # seconds of clock time between lazy purges of expired rows
_IDS_PER_STATEMENT = 500
_PUSHED_SQL = (
    "SELECT trait_type, data FROM traits WHERE pipeline_id = ? AND data LIKE '%\"source\":\"pushed\"%'"
    f" AND {LIVE}"
)
_IDENTITY_SQL = "SELECT value FROM store_meta WHERE key = 'identity'"


class SQLiteConfig(ConfigModel):
    """The ``sqlite:`` section of ``interlock.yaml``."""

    path: str = Field(default="./interlock.db", min_length=1)
    busy_timeout: Duration = timedelta(seconds=10)
    retention: Duration = DEFAULT_RETENTION

    @field_validator("busy_timeout", "retention")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 0:
            raise ValueError("must not be negative")
        return value


class SQLiteStore(SQLiteAlertOutbox):
    """``SQLiteStore(path, clock=..., retention=...)``; ``retention`` of 0 or None keeps history forever."""

    name: ClassVar[str] = "sqlite"
    config_model: ClassVar[type[BaseModel]] = SQLiteConfig

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock | None = None,
        retention: timedelta | float | None = DEFAULT_RETENTION,
        busy_timeout: float = 10.0,
    ) -> None:
        seconds = retention.total_seconds() if isinstance(retention, timedelta) else retention
        self.path = str(path)
        self._clock = clock or SystemClock()
        self._retention = seconds if seconds and seconds > 0 else None
        self._db = SQLiteDatabase(self.path, busy_timeout)
        self._last_purge: float | None = None

    @classmethod
    def create(cls, config: SQLiteConfig | Mapping[str, Any], context: PluginContext) -> SQLiteStore:
        """Build from the ``sqlite:`` section; a relative path is relative to the project directory."""
        if not isinstance(config, SQLiteConfig):
            try:
                config = SQLiteConfig.model_validate(dict(config))
            except ModelError as exc:
                raise ConfigError(f"invalid sqlite store settings: {exc}", key="sqlite") from None
        path: str | Path = config.path
        if config.path != MEMORY:
            candidate = Path(config.path).expanduser()
            path = candidate if candidate.is_absolute() else Path(context.project_dir) / candidate
        return cls(
            path,
            clock=context.clock,
            retention=config.retention,
            busy_timeout=config.busy_timeout.total_seconds(),
        )

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._db.open(ensure_schema(self.path))

    async def start_read_only(self) -> None:
        """Open an existing database to read it: nothing is created or migrated
        (:class:`~interlock_core.errors.StoreMissing` when there is none). An in-memory database is
        private to this process and empty: it is opened as :meth:`start` opens it."""
        if self.path == MEMORY:
            await self.start()
            return
        await self._db.open(check_schema(self.path), create=False)

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> bool:
        if not self._db.is_open:
            return False
        try:
            return bool(await self._db.read(lambda conn: conn.execute("SELECT 1").fetchone()))
        except StoreUnavailable:
            return False

    async def store_identity(self) -> str:
        """Read; when absent, one ``BEGIN IMMEDIATE`` transaction inserts a fresh one unless another
        process got there first, and reads what is stored."""
        row = await self._db.read(lambda conn: conn.execute(_IDENTITY_SQL).fetchone())
        if row:
            return str(row[0])
        candidate = new_store_identity()

        def create(conn: sqlite3.Connection, now: float) -> str:
            conn.execute("INSERT INTO store_meta (key, value) VALUES ('identity', ?) ON CONFLICT (key) DO NOTHING",
                         (candidate,))
            return str(conn.execute(_IDENTITY_SQL).fetchone()[0])

        return await self._write(create)

    # pipelines ---------------------------------------------------------------------------------
    async def put_pipeline(self, pipeline: PipelineConfig) -> None:
        data = pipeline.model_dump_json(by_alias=True, exclude_none=True)
        await self._write(
            lambda conn, now: conn.execute(
                "INSERT INTO pipelines (name, data) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET data = excluded.data",
                (pipeline.name, data),
            )
        )

    async def get_pipeline(self, pipeline_id: str) -> PipelineConfig | None:
        return await self._get(
            PipelineConfig, "SELECT data FROM pipelines WHERE name = ?", (pipeline_id,), live=False
        )

    async def list_pipelines(self) -> list[PipelineConfig]:
        return await self._list(PipelineConfig, "SELECT data FROM pipelines ORDER BY name", (), live=False)

    async def delete_pipeline(self, pipeline_id: str) -> bool:
        sql = "DELETE FROM pipelines WHERE name = ?"
        return await self._write(lambda conn, now: conn.execute(sql, (pipeline_id,)).rowcount > 0)

    # traits ------------------------------------------------------------------------------------
    async def put_trait(self, evaluation: TraitEvaluation, ttl: float | None) -> None:
        row = (evaluation.pipeline_id, evaluation.trait_type, evaluation.to_json())
        await self._write(lambda conn, now: TRAITS.put(conn, row, _expiry(ttl, now)), durable=False)

    async def get_trait(self, pipeline_id: str, trait_type: str) -> TraitEvaluation | None:
        sql = f"SELECT data FROM traits WHERE pipeline_id = ? AND trait_type = ? AND {LIVE}"
        return await self._get(TraitEvaluation, sql, (pipeline_id, trait_type))

    async def list_traits(self, pipeline_id: str) -> list[TraitEvaluation]:
        sql = f"SELECT data FROM traits WHERE pipeline_id = ? AND {LIVE} ORDER BY trait_type"
        return await self._list(TraitEvaluation, sql, (pipeline_id,))

    # readiness cache ---------------------------------------------------------------------------
    async def put_readiness(self, result: ReadinessResult, ttl: float | None) -> None:
        row = (result.pipeline_id, result.to_json())
        await self._write(lambda conn, now: READINESS.put(conn, row, _expiry(ttl, now)), durable=False)

    async def get_readiness(self, pipeline_id: str) -> ReadinessResult | None:
        sql = f"SELECT data FROM readiness WHERE pipeline_id = ? AND {LIVE}"
        return await self._get(ReadinessResult, sql, (pipeline_id,))

    # runs --------------------------------------------------------------------------------------
    async def create_run(self, run: RunState) -> bool:
        return await self._claim(RUNS, _run_row(run), run.status, None)

    async def put_run(self, run: RunState) -> None:
        await self._put(RUNS, _run_row(run), run.status)

    async def get_run(self, run_id: str) -> RunState | None:
        return await self._get(RunState, f"SELECT data FROM runs WHERE run_id = ? AND {LIVE}", (run_id,))

    async def list_runs(self, pipeline_id: str, limit: int = 20) -> list[RunState]:
        sql = f"SELECT data FROM runs WHERE pipeline_id = ? AND {LIVE} ORDER BY created_at DESC, rowid DESC"
        return await self._list(RunState, sql, (pipeline_id,), limit=_limit(limit, 20))

    async def cas_run(self, run: RunState, expected_version: int) -> bool:
        return await self._claim(RUNS, _run_row(run), run.status, expected_version)

    # run logs ----------------------------------------------------------------------------------
    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None:
        sql = f"SELECT data FROM run_logs WHERE pipeline_id = ? AND date = ? AND schedule_id = ? AND {LIVE}"
        return await self._get(RunLogEntry, sql, (pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID))

    async def cas_run_log(self, entry: RunLogEntry, expected_version: int | None) -> bool:
        return await self._claim(RUN_LOGS, _run_log_row(entry), entry.status, expected_version)

    async def put_run_log(self, entry: RunLogEntry) -> None:
        await self._put(RUN_LOGS, _run_log_row(entry), entry.status)

    async def list_run_logs(self, pipeline_id: str, limit: int = 20) -> list[RunLogEntry]:
        sql = (
            f"SELECT data FROM run_logs WHERE pipeline_id = ? AND {LIVE}"
            " ORDER BY date DESC, started_at DESC, rowid DESC"
        )
        return await self._list(RunLogEntry, sql, (pipeline_id,), limit=_limit(limit, 20))

    # reruns ------------------------------------------------------------------------------------
    async def cas_rerun(self, record: RerunRecord, expected_version: int | None) -> bool:
        return await self._claim(RERUNS, _rerun_row(record), record.status, expected_version)

    async def put_rerun(self, record: RerunRecord) -> None:
        await self._put(RERUNS, _rerun_row(record), record.status)

    async def get_rerun(self, rerun_id: str) -> RerunRecord | None:
        return await self._get(
            RerunRecord, f"SELECT data FROM reruns WHERE rerun_id = ? AND {LIVE}", (rerun_id,)
        )

    async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]:
        where, params = ("pipeline_id = ? AND ", (pipeline_id,)) if pipeline_id is not None else ("", ())
        sql = f"SELECT data FROM reruns WHERE {where}{LIVE} ORDER BY requested_at DESC, rowid DESC"
        return await self._list(RerunRecord, sql, params, limit=_limit(limit, 20))

    # events (appended with the alerts they raise: ``_sqlite_alerts``) ----------------------------
    async def list_events(self, pipeline_id: str, limit: int = 50) -> list[Event]:
        sql = f"SELECT data FROM events WHERE pipeline_id = ? AND {LIVE} ORDER BY id DESC"
        events = await self._list(Event, sql, (pipeline_id,), limit=_limit(limit, 50))
        return events[::-1]

    async def read_events_since(
        self, pipeline_id: str, cursor: str | None, count: int = 100
    ) -> list[EventRecord]:
        sql = f"SELECT id, data FROM events WHERE pipeline_id = ? AND id > ? AND {LIVE} ORDER BY id LIMIT ?"
        params = (pipeline_id, _event_cursor(cursor), self._now(), _limit(count, 100))
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        loaded = ((row_id, _load(Event, data)) for row_id, data in rows)
        return [EventRecord(stream_id=str(row_id), event=event) for row_id, event in loaded if event]

    # cascade markers ---------------------------------------------------------------------------
    async def write_cascade_marker(self, marker: CascadeMarker) -> None:
        schedule_id = marker.schedule_id or DEFAULT_SCHEDULE_ID
        data = marker.model_copy(update={"schedule_id": schedule_id}).to_json()
        row = (marker.pipeline_id, marker.date, schedule_id, marker.source, data)
        await self._write(lambda conn, now: CASCADE_MARKERS.put(conn, row, self._retained(None, now)))

    async def list_cascade_markers(
        self, pipeline_id: str, date: str, schedule_id: str
    ) -> list[CascadeMarker]:
        sql = (
            "SELECT data FROM cascade_markers WHERE pipeline_id = ? AND date = ? AND schedule_id = ?"
            f" AND {LIVE} ORDER BY source"
        )
        return await self._list(CascadeMarker, sql, (pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID))

    # shadow records ----------------------------------------------------------------------------
    async def get_shadow_cycle(self, pipeline_id: str, date: str, schedule_id: str) -> ShadowCycle | None:
        sql = f"SELECT data FROM shadow_cycles WHERE pipeline_id = ? AND date = ? AND schedule_id = ? AND {LIVE}"
        return await self._get(ShadowCycle, sql, (pipeline_id, date, schedule_id or DEFAULT_SCHEDULE_ID))

    async def cas_shadow_cycle(self, record: ShadowCycle, expected_version: int | None) -> bool:
        schedule_id = record.schedule_id or DEFAULT_SCHEDULE_ID
        data = record.model_copy(update={"schedule_id": schedule_id}).to_json()
        row = (record.pipeline_id, record.date, schedule_id, record.version, data)

        def claim(conn: sqlite3.Connection, now: float) -> bool:
            expires = self._retained(None, now)
            if expected_version is None:
                return SHADOW_CYCLES.insert_if_absent(conn, row, expires, now)
            return SHADOW_CYCLES.swap(conn, row, expires, expected_version, now)

        return await self._write(claim)

    async def list_shadow_cycles(self, pipeline_id: str, since: str, until: str) -> list[ShadowCycle]:
        sql = (
            "SELECT data FROM shadow_cycles WHERE pipeline_id = ? AND date >= ? AND date <= ?"
            f" AND {LIVE} ORDER BY date, schedule_id"
        )
        return await self._list(ShadowCycle, sql, (pipeline_id, since, until))

    # batches -----------------------------------------------------------------------------------
    async def read_pipeline(self, pipeline_id: str, cycles: Sequence[tuple[str, str]] = (), *,
                            readiness: bool = True, config: bool = False, known_version: str | None = None,
                            history: int = 0) -> PipelineRecords:
        """One statement (a consistent snapshot): trait rows, the readiness cache, the run logs asked
        for; with ``config`` the pipeline's row; with ``history`` its newest reruns, its newest run and
        the runs the run logs and the cycles' reruns name."""
        now = self._now()
        parts = [f"SELECT 0, trait_type, '', 0, data FROM traits WHERE pipeline_id = ? AND {LIVE}"]
        params: list[Any] = [pipeline_id, now]
        if readiness:
            parts.append(f"SELECT 1, '', '', 0, data FROM readiness WHERE pipeline_id = ? AND {LIVE}")
            params += [pipeline_id, now]
        wanted = sorted({(date, schedule or DEFAULT_SCHEDULE_ID) for date, schedule in cycles})
        pairs = " OR ".join("(date = ? AND schedule_id = ?)" for _ in wanted)
        pair_values = [v for pair in wanted for v in pair]
        if wanted:
            parts.append(f"SELECT 2, date, schedule_id, 0, data FROM run_logs WHERE pipeline_id = ? AND ({pairs})"
                         f" AND {LIVE}")
            params += [pipeline_id, *pair_values, now]
        if config:
            parts.append("SELECT 3, '', '', 0, data FROM pipelines WHERE name = ?")
            params.append(pipeline_id)
        if history > 0:
            newest = (f"SELECT rowid AS r, requested_at, data FROM reruns WHERE pipeline_id = ? AND {LIVE}"
                      " ORDER BY requested_at DESC, rowid DESC LIMIT ?")
            parts.append(f"SELECT 4, '', '', ROW_NUMBER() OVER (ORDER BY requested_at DESC, r DESC), data"
                         f" FROM ({newest})")
            params += [pipeline_id, now, history]
            parts.append(f"SELECT * FROM (SELECT 5, '', '', 0, data FROM runs WHERE pipeline_id = ? AND {LIVE}"
                         " ORDER BY created_at DESC, rowid DESC LIMIT 1)")
            params += [pipeline_id, now]
            if wanted:
                rerun_pairs = " OR ".join("(json_extract(data, '$.originalDate') = ? AND "
                                          f"COALESCE(NULLIF(json_extract(data, '$.scheduleId'), ''), "
                                          f"'{DEFAULT_SCHEDULE_ID}') = ?)" for _ in wanted)
                named = (f"SELECT json_extract(data, '$.runId') FROM run_logs WHERE pipeline_id = ? AND ({pairs})"
                         f" AND {LIVE} UNION SELECT json_extract(data, '$.rerunRunId') FROM ({newest})"
                         f" WHERE {rerun_pairs}")
                parts.append(f"SELECT 6, '', '', 0, data FROM runs WHERE run_id IN ({named}) AND {LIVE}")
                params += [pipeline_id, *pair_values, now, pipeline_id, now, history, *pair_values, now]
        sql, args = " UNION ALL ".join(parts), tuple(params)
        rows = await self._db.read(lambda conn: conn.execute(sql, args).fetchall())
        traits: dict[str, TraitEvaluation] = {}
        cached: ReadinessResult | None = None
        run_logs: dict[tuple[str, str], RunLogEntry] = {}
        stored: PipelineConfig | None = None
        version: str | None = None
        reruns: list[RerunRecord] = []
        latest: RunState | None = None
        runs: dict[str, RunState] = {}
        for kind, first, second, _order, data in sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3])):
            if kind == 0 and (trait := _load(TraitEvaluation, data)) is not None:
                traits[first] = trait
            elif kind == 1:
                cached = _load(ReadinessResult, data)
            elif kind == 2 and (entry := _load(RunLogEntry, data)) is not None:
                run_logs[(first, second)] = entry
            elif kind == 3:
                version = config_version(data)
                if version != known_version:
                    stored = _load(PipelineConfig, data)
            elif kind == 4 and (rerun := _load(RerunRecord, data)) is not None:
                reruns.append(rerun)
            elif kind == 5:
                latest = _load(RunState, data)
            elif kind == 6 and (run := _load(RunState, data)) is not None:
                runs[run.run_id] = run
        return PipelineRecords(traits=traits, readiness=cached, run_logs=run_logs, pipeline=stored,
                               config_version=version, reruns=reruns, latest_run=latest, runs=runs)

    async def read_cycles(self, cycles: Sequence[CycleKey]) -> dict[CycleKey, RunLogEntry]:
        """One statement per 500 pipelines: their run logs of the dates and schedules asked for
        (``IN`` lists over the primary key), kept when asked."""
        asked = {(p, d, s or DEFAULT_SCHEDULE_ID): (p, d, s) for p, d, s in cycles}
        by_pipeline: dict[str, set[tuple[str, str]]] = {}
        for p, d, s in asked:
            by_pipeline.setdefault(p, set()).add((d, s))
        names = sorted(by_pipeline)
        statements = []
        for start in range(0, len(names), _IDS_PER_STATEMENT):
            chunk = names[start:start + _IDS_PER_STATEMENT]
            dates = sorted({d for p in chunk for d, _ in by_pipeline[p]})
            schedules = sorted({s for p in chunk for _, s in by_pipeline[p]})
            sql = (f"SELECT pipeline_id, date, schedule_id, data FROM run_logs WHERE pipeline_id IN"
                   f" ({', '.join('?' * len(chunk))}) AND date IN ({', '.join('?' * len(dates))}) AND schedule_id"
                   f" IN ({', '.join('?' * len(schedules))}) AND {LIVE}")
            statements.append((sql, (*chunk, *dates, *schedules, self._now())))

        def select(conn: sqlite3.Connection) -> list[Any]:
            return [row for sql, args in statements for row in conn.execute(sql, args).fetchall()]

        found: dict[CycleKey, RunLogEntry] = {}
        for pipeline_id, date, schedule_id, data in await self._db.read(select) if statements else ():
            key = asked.get((pipeline_id, date, schedule_id))
            if key is not None and (entry := _load(RunLogEntry, data)) is not None:
                found[key] = entry
        return found

    async def read_reruns(self, pipeline_ids: Sequence[str], limit: int = 20) -> dict[str, list[RerunRecord]]:
        """One statement per 500 pipelines: each pipeline's newest reruns ranked by a window function."""
        sql = ("SELECT pipeline_id, data FROM (SELECT pipeline_id, data, ROW_NUMBER() OVER (PARTITION BY"
               " pipeline_id ORDER BY requested_at DESC, rowid DESC) AS n FROM reruns WHERE pipeline_id IN ({ids})"
               f" AND {LIVE}) WHERE n <= ? ORDER BY pipeline_id, n")
        return _grouped(RerunRecord, await self._by_ids(sql, pipeline_ids, (self._now(), _limit(limit, 20))))

    async def read_traits(self, pipeline_ids: Sequence[str]) -> dict[str, list[TraitEvaluation]]:
        """One statement per 500 pipelines."""
        sql = (f"SELECT pipeline_id, data FROM traits WHERE pipeline_id IN ({{ids}}) AND {LIVE}"
               " ORDER BY pipeline_id, trait_type")
        return _grouped(TraitEvaluation, await self._by_ids(sql, pipeline_ids, (self._now(),)))

    async def read_runs(self, run_ids: Sequence[str]) -> dict[str, RunState]:
        """One statement per 500 runs."""
        sql = f"SELECT run_id, data FROM runs WHERE run_id IN ({{ids}}) AND {LIVE}"
        found = (_load(RunState, data) for _, data in await self._by_ids(sql, run_ids, (self._now(),)))
        return {run.run_id: run for run in found if run is not None}

    async def _by_ids(self, sql: str, ids: Sequence[str], args: tuple[Any, ...]) -> list[Any]:
        """The rows of ``sql`` (its ``{ids}`` a list of ids, then ``args``) for many ids, in one read
        of a statement per 500 of them."""
        wanted = sorted(set(ids))
        chunks = [wanted[start:start + _IDS_PER_STATEMENT] for start in range(0, len(wanted), _IDS_PER_STATEMENT)]

        def select(conn: sqlite3.Connection) -> list[Any]:
            return [row for chunk in chunks
                    for row in conn.execute(sql.format(ids=", ".join("?" * len(chunk))), (*chunk, *args)).fetchall()]

        return await self._db.read(select) if chunks else []

    async def commit(self, work: UnitOfWork) -> CommitResult:
        """One ``BEGIN IMMEDIATE`` transaction (synced to disk when it carries a claim or an alert):
        the stored pushes that may rule a trait row out, read in one statement per pipeline; the
        trait rows in one statement, each claim, the events in one statement, the alerts kept, the
        readiness row."""
        owner = uuid.uuid4().hex
        guarded = sorted({w.evaluation.pipeline_id for w in work.traits if w.unless_pushed_after is not None})

        def write(conn: sqlite3.Connection, now: float) -> CommitResult:
            pushed: dict[tuple[str, str], TraitEvaluation] = {}
            for pipeline_id in guarded:
                for trait_type, data in conn.execute(_PUSHED_SQL, (pipeline_id, now)).fetchall():
                    if (stored := _load(TraitEvaluation, data)) is not None:
                        pushed[(pipeline_id, trait_type)] = stored
            skipped: set[str] = set()
            rows: dict[tuple[str, str], tuple[Any, ...]] = {}  # one row per key (the last written wins)
            for item in work.traits:
                evaluation = item.evaluation
                key = (evaluation.pipeline_id, evaluation.trait_type)
                if not may_overwrite(pushed.get(key), item):
                    skipped.add(evaluation.trait_type)
                    continue
                rows[key] = (*key, evaluation.to_json(), _expiry(item.ttl, now))
            if rows:
                conn.execute(TRAITS.upsert_many(len(rows)), [v for row in rows.values() for v in row])
            claimed: list[bool] = []
            for entry in work.events:
                taken = True
                if entry.claim is not None:
                    expires = now + entry.claim.ttl if entry.claim.ttl > 0 else None
                    taken = conn.execute(_CLAIM_SQL, (entry.claim.lease_key, owner, expires, now)).rowcount == 1
                claimed.append(taken)
            if work.events:
                retained = self._retained(None, now)
                values = ", ".join("(?, ?, ?)" for _ in work.events)
                conn.execute(f"INSERT INTO events (pipeline_id, data, expires_at) VALUES {values}",
                             [v for e in work.events for v in (e.event.pipeline_id, e.event.to_json(), retained)])
            for entry, taken in zip(work.events, claimed, strict=True):
                if taken:
                    self._put_alerts(conn, now, entry.alerts)
            if work.readiness is not None:
                READINESS.put(conn, (work.readiness.pipeline_id, work.readiness.to_json()),
                              _expiry(work.readiness_ttl, now))
            return CommitResult(skipped=frozenset(skipped), claimed=tuple(claimed))

        return await self._write(write, durable=work.durable)

    # leases ------------------------------------------------------------------------------------
    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        sql = (
            "INSERT INTO leases (key, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
            " SET owner = excluded.owner, expires_at = excluded.expires_at"
            " WHERE leases.owner = excluded.owner OR leases.expires_at <= ?"
        )
        return await self._write(
            lambda conn, now: conn.execute(sql, (key, owner, _expiry(ttl, now), now)).rowcount == 1
        )

    async def release_lease(self, key: str, owner: str) -> bool:
        sql = f"DELETE FROM leases WHERE key = ? AND owner = ? AND {LIVE}"
        return await self._write(lambda conn, now: conn.execute(sql, (key, owner, now)).rowcount == 1)

    async def lease_owner(self, key: str) -> str | None:
        params = (key, self._now())
        sql = f"SELECT owner FROM leases WHERE key = ? AND {LIVE}"
        row = await self._db.read(lambda conn: conn.execute(sql, params).fetchone())
        return str(row[0]) if row else None

    # wake-ups between processes (``sqlite_notify``) ---------------------------------------------
    def wake_up_notifier(self) -> Notifier | None:
        """The notifier carrying wake-ups between the processes on this file (None in memory)."""
        if self.path == MEMORY:
            return None
        from .sqlite_notify import SQLiteNotifier

        return SQLiteNotifier(self)

    async def append_wake_up(self, origin: str, data: str) -> None:
        """Record a wake-up (``data``, published by notifier ``origin``) for the other processes."""
        from .sqlite_notify import WAKE_UP_TTL

        sql = "INSERT INTO wake_ups (origin, data, expires_at) VALUES (?, ?, ?)"
        await self._write(lambda conn, now: conn.execute(sql, (origin, data, now + WAKE_UP_TTL)), durable=False)

    # helpers -----------------------------------------------------------------------------------
    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _retained(self, status: RunStatus | None, now: float) -> float | None:
        """When a run, run log, rerun, event or cascade marker written now expires."""
        if self._retention is None:
            return None
        grace = UNFINISHED_GRACE if status is not None and not status.is_terminal else 0.0
        return now + self._retention + grace

    async def _write(self, body: Callable[[sqlite3.Connection, float], T], *, durable: bool = True) -> T:
        """One write transaction; expired rows are purged now and then along the way."""
        now, mono = self._now(), self._clock.monotonic()
        purge = self._last_purge is None or abs(mono - self._last_purge) >= PURGE_INTERVAL
        if purge:
            self._last_purge = mono

        def run(conn: sqlite3.Connection) -> T:
            if purge:
                purge_expired(conn, now)
            return body(conn, now)

        return await self._db.write(run, durable=durable)

    async def _put(self, table: Table, row: tuple[Any, ...], status: RunStatus) -> None:
        await self._write(lambda conn, now: table.put(conn, row, self._retained(status, now)))

    async def _claim(
        self, table: Table, row: tuple[Any, ...], status: RunStatus, expected: int | None
    ) -> bool:
        """Write iff the stored version is ``expected`` (``None``: iff nothing live is stored)."""

        def claim(conn: sqlite3.Connection, now: float) -> bool:
            expires = self._retained(status, now)
            if expected is None:
                return table.insert_if_absent(conn, row, expires, now)
            return table.swap(conn, row, expires, expected, now)

        return await self._write(claim)

    async def _get(self, model: type[M], sql: str, params: tuple[Any, ...], *, live: bool = True) -> M | None:
        args = (*params, self._now()) if live else params
        row = await self._db.read(lambda conn: conn.execute(sql, args).fetchone())
        return _load(model, row[0]) if row else None

    async def _list(
        self,
        model: type[M],
        sql: str,
        params: tuple[Any, ...],
        *,
        live: bool = True,
        limit: int | None = None,
    ) -> list[M]:
        args = (*params, self._now()) if live else params
        if limit is not None:
            sql, args = sql + " LIMIT ?", (*args, limit)
        rows = await self._db.read(lambda conn: conn.execute(sql, args).fetchall())
        return [item for item in (_load(model, row[0]) for row in rows) if item is not None]


def _run_row(run: RunState) -> tuple[Any, ...]:
    return (run.run_id, run.pipeline_id, run.version, run.created_at.timestamp(), run.to_json())


def _run_log_row(entry: RunLogEntry) -> tuple[Any, ...]:
    """An empty schedule is stored (and read back) as ``daily``."""
    if not entry.schedule_id:
        entry = entry.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})
    key = (entry.pipeline_id, entry.date, entry.schedule_id)
    return (*key, entry.version, entry.started_at.timestamp(), entry.to_json())


def _rerun_row(record: RerunRecord) -> tuple[Any, ...]:
    return (
        record.rerun_id,
        record.pipeline_id,
        record.version,
        record.requested_at.timestamp(),
        record.to_json(),
    )


def _expiry(ttl: float | None, now: float) -> float | None:
    return now + ttl if ttl is not None and ttl > 0 else None


def _limit(value: int, default: int) -> int:
    return value if value > 0 else default


def _event_cursor(cursor: str | None) -> int:
    if cursor is None or cursor in ("", "0", "0-0"):
        return 0
    try:
        value = int(cursor)
    except ValueError:
        value = -1
    if value < 0:
        raise ValidationError(
            f"invalid event cursor {cursor!r}: expected a stream id returned by the store", field="cursor"
        )
    return value


def _grouped(model: type[M], rows: Iterable[tuple[str, str]]) -> dict[str, list[M]]:
    """Rows of (pipeline id, data) as each pipeline's records, in the rows' order."""
    found: dict[str, list[M]] = {}
    for pipeline_id, data in rows:
        if (record := _load(model, data)) is not None:
            found.setdefault(pipeline_id, []).append(record)
    return found


def _load(model: type[M], data: str) -> M | None:
    try:
        return model.model_validate_json(data)
    except ModelError as exc:
        log.warning("skipping an unreadable %s row: %s", model.__name__, exc.errors()[:1])
        return None
