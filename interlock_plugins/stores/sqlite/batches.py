"""The batch operations of the SQLite store (:class:`~interlock_core.store_roles.BatchStore`): one
statement reads a pipeline's state (answered again without running it while nothing changed), one
per 100 cycles reads their run logs, one transaction commits a unit of work."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache, partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from interlock_core.model import (
    DEFAULT_SCHEDULE_ID,
    AlertRecord,
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    TraitEvaluation,
)
from interlock_core.model.parsed import TRAIT_ROWS, shallow_copy
from interlock_core.unit_of_work import (
    CommitResult,
    CycleKey,
    PipelineRecords,
    UnitOfWork,
    config_version,
    may_overwrite,
)

from .alerts import _CLAIM_SQL
from .base import M, SQLiteStoreBase, _expiry, _limit, _load
from .schema import LIVE, READINESS, TRAITS

_IDS_PER_STATEMENT = 500

_ROW_ORDER = itemgetter(0, 1, 2, 3)
"""The order :meth:`SQLiteBatches.read_pipeline` reads its rows in: by part, then each part's keys."""

_EXPIRY = 5
"""The column of a row's expiry in :func:`_read_pipeline_sql`'s rows."""

_PUSHED_SQL = (
    "SELECT trait_type, data FROM traits WHERE pipeline_id = ? AND data LIKE '%\"source\":\"pushed\"%'"
    f" AND {LIVE}"
)


_LIVE_NOW = LIVE.replace("?", "?2")
""":data:`LIVE` with the statement's second parameter (now)."""


@lru_cache(maxsize=256)
def _read_pipeline_sql(readiness: bool, cycles: int, config: bool, history: bool) -> str:
    """The statement of :meth:`SQLiteBatches.read_pipeline` for one shape of read (built once per
    shape: a readiness GET asks the same shape every time). Its parameters are numbered, each bound
    once: ``?1`` the pipeline, ``?2`` now, ``?3`` the limit of reruns, then each cycle's date and
    schedule (``?4`` and ``?5`` for the first). Each row's last column is its expiry (None: none),
    for :meth:`~.database.SQLiteDatabase.read_decoded`."""
    parts = [f"SELECT 0, trait_type, '', 0, data, expires_at FROM traits WHERE pipeline_id = ?1 AND {_LIVE_NOW}"]
    if readiness:
        parts.append(f"SELECT 1, '', '', 0, data, expires_at FROM readiness WHERE pipeline_id = ?1 AND {_LIVE_NOW}")
    pairs = " OR ".join(f"(date = ?{4 + 2 * i} AND schedule_id = ?{5 + 2 * i})" for i in range(cycles))
    if cycles:
        parts.append(f"SELECT 2, date, schedule_id, 0, data, expires_at FROM run_logs WHERE pipeline_id = ?1 AND"
                     f" ({pairs}) AND {_LIVE_NOW}")
    if config:
        parts.append("SELECT 3, '', '', 0, data, NULL FROM pipelines WHERE name = ?1")
    if history:
        newest = ("SELECT rowid AS r, requested_at, data, expires_at FROM reruns WHERE pipeline_id = ?1 AND"
                  f" {_LIVE_NOW} ORDER BY requested_at DESC, rowid DESC LIMIT ?3")
        parts.append(f"SELECT 4, '', '', ROW_NUMBER() OVER (ORDER BY requested_at DESC, r DESC), data, expires_at"
                     f" FROM ({newest})")
        parts.append(f"SELECT * FROM (SELECT 5, '', '', 0, data, expires_at FROM runs WHERE pipeline_id = ?1 AND"
                     f" {_LIVE_NOW} ORDER BY created_at DESC, rowid DESC LIMIT 1)")
        if cycles:
            rerun_pairs = " OR ".join(f"(json_extract(data, '$.originalDate') = ?{4 + 2 * i} AND "
                                      f"COALESCE(NULLIF(json_extract(data, '$.scheduleId'), ''), "
                                      f"'{DEFAULT_SCHEDULE_ID}') = ?{5 + 2 * i})" for i in range(cycles))
            named = (f"SELECT json_extract(data, '$.runId') FROM run_logs WHERE pipeline_id = ?1 AND ({pairs})"
                     f" AND {_LIVE_NOW} UNION SELECT json_extract(data, '$.rerunRunId') FROM ({newest})"
                     f" WHERE {rerun_pairs}")
            parts.append(f"SELECT 6, '', '', 0, data, expires_at FROM runs WHERE run_id IN ({named}) AND {_LIVE_NOW}")
    return " UNION ALL ".join(parts)


def _records(rows: list[Any], known_version: str | None) -> PipelineRecords:
    """The records :meth:`SQLiteBatches.read_pipeline`'s rows hold (kept with them: read-only)."""
    traits: dict[str, TraitEvaluation] = {}
    cached: ReadinessResult | None = None
    run_logs: dict[tuple[str, str], RunLogEntry] = {}
    stored: PipelineConfig | None = None
    version: str | None = None
    reruns: list[RerunRecord] = []
    latest: RunState | None = None
    runs: dict[str, RunState] = {}
    for kind, first, second, _order, data, _expires in sorted(rows, key=_ROW_ORDER):
        if kind == 0 and (trait := _load(TRAIT_ROWS, data)) is not None:
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


class _Statement(NamedTuple):
    """What :meth:`SQLiteBatches.read_pipeline` runs for one asking: the key its rows are kept by,
    the statement, its arguments after the pipeline and the instant, and the decoding of its rows."""

    key: tuple[Any, ...]
    sql: str
    rest: tuple[Any, ...]
    decode: Callable[[list[Any]], PipelineRecords]


_STATEMENTS: dict[tuple[Any, ...], _Statement] = {}
""":meth:`SQLiteBatches.read_pipeline`'s statements by asking (the same asked again and again)."""
_STATEMENTS_KEPT = 4096


def _statement(pipeline_id: str, cycles: Sequence[tuple[str, str]], readiness: bool, config: bool,
               known_version: str | None, history: int) -> _Statement:
    wanted = sorted({(date, schedule or DEFAULT_SCHEDULE_ID) for date, schedule in cycles})
    rest: tuple[Any, ...] = ()
    if wanted or history > 0:  # the statement numbers the cycles' dates and schedules from ?4
        rest = (max(history, 0), *(v for pair in wanted for v in pair))
    sql = _read_pipeline_sql(readiness, len(wanted), config, history > 0)
    return _Statement((sql, pipeline_id, rest, known_version), sql, rest,
                      partial(_records, known_version=known_version))


def _own(kept: PipelineRecords) -> PipelineRecords:
    """A copy of ``kept`` of the caller's own: its mappings and lists new, each record a copy (its
    nested values shared, as every stored record read through :data:`TRAIT_ROWS` shares them), the
    configuration a deep copy (a caller may keep it and change it)."""
    return PipelineRecords(
        traits={name: shallow_copy(trait) for name, trait in kept.traits.items()},
        readiness=None if kept.readiness is None else shallow_copy(kept.readiness),
        run_logs={cycle: shallow_copy(entry) for cycle, entry in kept.run_logs.items()},
        pipeline=None if kept.pipeline is None else kept.pipeline.model_copy(deep=True),
        config_version=kept.config_version,
        reruns=[shallow_copy(rerun) for rerun in kept.reruns],
        latest_run=None if kept.latest_run is None else shallow_copy(kept.latest_run),
        runs={run_id: shallow_copy(run) for run_id, run in kept.runs.items()})


class SQLiteBatches(SQLiteStoreBase):
    """Batch reads and the unit-of-work commit."""

    if TYPE_CHECKING:  # the alert outbox's (``alerts.py``)
        def _put_alerts(self, conn: sqlite3.Connection, now: float, alerts: Sequence[AlertRecord]) -> None: ...

    async def read_pipeline(self, pipeline_id: str, cycles: Sequence[tuple[str, str]] = (), *,
                            readiness: bool = True, config: bool = False, known_version: str | None = None,
                            history: int = 0, shared: bool = False) -> PipelineRecords:
        """One statement (a consistent snapshot): trait rows, the readiness cache, the run logs asked
        for; with ``config`` the pipeline's row; with ``history`` its newest reruns, its newest run and
        the runs the run logs and the cycles' reruns name. ``shared``: the records kept with the
        statement's rows (the same objects while those rows stand), not copies of the caller's own."""
        asked = (pipeline_id, tuple(map(tuple, cycles)), readiness, config, known_version, history)
        statement = _STATEMENTS.get(asked)
        if statement is None:
            statement = _statement(pipeline_id, cycles, readiness, config, known_version, history)
            if len(_STATEMENTS) >= _STATEMENTS_KEPT:
                _STATEMENTS.clear()
            _STATEMENTS[asked] = statement
        key, sql, rest, decode = statement
        now = self._now()
        # a readiness GET asks the same again and again: answered without the statement (and its
        # rows without decoding them again) until a commit or an expiry changes what it would answer
        records = await self._db.read_decoded(key, sql, (pipeline_id, now, *rest), now=now, expiry=_EXPIRY,
                                              decode=decode)
        return records if shared else _own(records)

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


def _grouped(model: type[M], rows: Iterable[tuple[str, str]]) -> dict[str, list[M]]:
    """Rows of (pipeline id, data) as each pipeline's records, in the rows' order."""
    found: dict[str, list[M]] = {}
    for pipeline_id, data in rows:
        if (record := _load(model, data)) is not None:
            found.setdefault(pipeline_id, []).append(record)
    return found
