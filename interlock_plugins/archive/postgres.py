"""The PostgreSQL archive: long-term history of runs, run logs, reruns, events and trait
evaluations, written by the archiver and queried by reports.

One connection (psycopg 3, async), opened lazily and reopened after a failure; every operation is
one transaction with a timeout. A connection problem is :class:`StoreUnavailable`; any other
database error is an :class:`InterlockError` saying which operation failed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date as Date
from datetime import datetime
from typing import Any, ClassVar

import anyio
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from interlock_core.archiver import trait_evaluations_from_events
from interlock_core.errors import ConfigError, InterlockError, StoreUnavailable, ValidationError
from interlock_core.model import (
    ArchiverConfig,
    EventRecord,
    FailureCategory,
    RerunRecord,
    RunLogEntry,
    RunState,
    TraitEvaluation,
)

from . import _rows
from ._schema import LATEST_VERSION, MIGRATIONS, SCHEMA_MIGRATIONS

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MAX_QUERY_LIMIT = 10_000
APPLICATION_NAME = "interlock-archiver"


class PostgresArchive:
    """Implements :class:`interlock_core.archiver.Archive`, plus the report queries."""

    name: ClassVar[str] = "postgres"

    def __init__(
        self, dsn: str, *, schema: str | None = None, timeout: float = 30.0, connect_timeout: float = 10.0
    ) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValidationError(f"invalid archive schema name {schema!r}", field="schema")
        self.dsn = dsn
        self.schema = schema
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = anyio.Lock()
        self._closed = False

    @classmethod
    def from_dsn(cls, dsn: str, *, schema: str | None = None, timeout: float = 30.0) -> PostgresArchive:
        """Check the DSN's syntax (without connecting) and build the archive."""
        if not dsn or not dsn.strip():
            raise ConfigError("a PostgreSQL DSN is required", key="archiver.dsn")
        try:
            conninfo_to_dict(dsn)
        except psycopg.Error:
            raise ConfigError(
                "invalid PostgreSQL DSN (expected postgresql://user@host:port/database or key=value pairs)",
                key="archiver.dsn",
            ) from None
        return cls(dsn, schema=schema, timeout=timeout)

    @classmethod
    def from_config(cls, config: ArchiverConfig) -> PostgresArchive:
        return cls.from_dsn(config.dsn or "")

    def __repr__(self) -> str:
        return f"PostgresArchive({self.where!r}, schema={self.schema!r})"

    @property
    def where(self) -> str:
        """host:port/database of the DSN, never its password."""
        try:
            info = conninfo_to_dict(self.dsn)
        except psycopg.Error:
            return "?"
        return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"

    # connection --------------------------------------------------------------------------------
    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._closed:
            raise StoreUnavailable("the PostgreSQL archive is closed")
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        await self._drop()
        try:
            with anyio.fail_after(self.connect_timeout + 1):
                conn = await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, connect_timeout=max(1, round(self.connect_timeout)),
                    application_name=APPLICATION_NAME,
                )
        except TimeoutError:
            raise StoreUnavailable(f"PostgreSQL archive at {self.where}: connect timed out") from None
        except psycopg.Error as exc:
            message = f"PostgreSQL archive at {self.where} unreachable: {_first_line(exc)}"
            raise StoreUnavailable(message) from None
        self._conn = conn
        if self.schema:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await conn.close()
                except psycopg.Error:
                    pass

    @asynccontextmanager
    async def _transaction(self, what: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with self._lock:
            try:
                conn = await self._connection()
                with anyio.fail_after(self.timeout):
                    async with conn.transaction():
                        yield conn
            except TimeoutError:
                await self._drop()
                message = f"PostgreSQL archive: {what} timed out after {self.timeout:g}s"
                raise StoreUnavailable(message) from None
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                await self._drop()
                raise StoreUnavailable(f"PostgreSQL archive: {what} failed: {_first_line(exc)}") from None
            except psycopg.Error as exc:
                raise InterlockError(f"PostgreSQL archive: {what} failed: {_first_line(exc)}") from None
            except anyio.get_cancelled_exc_class():
                await self._drop()  # a query cut short leaves the connection in an unknown state
                raise

    async def ping(self) -> bool:
        try:
            async with self._transaction("ping") as conn:
                await conn.execute("SELECT 1")
        except InterlockError:
            return False
        return True

    async def close(self) -> None:
        """Release the connection. Idempotent; the archive refuses work afterwards."""
        self._closed = True
        async with self._lock:
            await self._drop()

    # schema ------------------------------------------------------------------------------------
    async def migrate(self) -> None:
        """Create the schema or bring it up to date. Idempotent and safe to run concurrently."""
        async with self._transaction("migrating the schema") as conn:
            lock_key = f"interlock-archive:{self.schema}"
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock_key,))
            if self.schema:
                create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                await conn.execute(create)
            await conn.execute(SCHEMA_MIGRATIONS)
            current = await _schema_version(conn)
            if current > LATEST_VERSION:
                raise StoreUnavailable(
                    f"PostgreSQL archive schema is at version {current}, newer than this Interlock"
                    f" knows ({LATEST_VERSION}); upgrade Interlock"
                )
            for migration in MIGRATIONS:
                if migration.version > current:
                    await conn.execute(migration.ddl)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                        (migration.version, migration.description),
                    )

    async def schema_version(self) -> int:
        async with self._transaction("reading the schema version") as conn:
            return await _schema_version(conn)

    # writes ------------------------------------------------------------------------------------
    async def _write_many(self, what: str, statement: str, rows: Sequence[_rows.Row]) -> None:
        if not rows:
            return
        async with self._transaction(what) as conn, conn.cursor() as cur:
            await cur.executemany(statement, rows)

    async def upsert_runs(self, runs: Sequence[RunState]) -> None:
        await self._write_many("archiving runs", _rows.UPSERT_RUN, [_rows.run_row(r) for r in runs])

    async def upsert_run_logs(self, entries: Sequence[RunLogEntry]) -> None:
        rows = [_rows.run_log_row(e) for e in entries]
        await self._write_many("archiving run logs", _rows.UPSERT_RUN_LOG, rows)

    async def upsert_reruns(self, records: Sequence[RerunRecord]) -> None:
        await self._write_many("archiving reruns", _rows.UPSERT_RERUN, [_rows.rerun_row(r) for r in records])

    async def insert_events(self, pipeline_id: str, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        events = [_rows.event_row(pipeline_id, r) for r in records]
        carried = trait_evaluations_from_events(pipeline_id, records)
        traits = [_rows.trait_evaluation_row(pipeline_id, t) for t in carried]
        async with self._transaction(f"archiving events of {pipeline_id}") as conn, conn.cursor() as cur:
            await cur.executemany(_rows.INSERT_EVENT, events)
            if traits:
                await cur.executemany(_rows.INSERT_TRAIT_EVALUATION, traits)

    async def get_cursor(self, pipeline_id: str, kind: str) -> str | None:
        async with self._transaction("reading a cursor") as conn:
            cur = await conn.execute(
                "SELECT cursor_value FROM archive_cursors WHERE pipeline_id = %s AND data_type = %s",
                (_rows.clean(pipeline_id), kind),
            )
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def set_cursor(self, pipeline_id: str, kind: str, value: str) -> None:
        async with self._transaction("saving a cursor") as conn:
            await conn.execute(
                "INSERT INTO archive_cursors (pipeline_id, data_type, cursor_value) VALUES (%s, %s, %s)"
                " ON CONFLICT (pipeline_id, data_type)"
                " DO UPDATE SET cursor_value = excluded.cursor_value, updated_at = now()",
                (_rows.clean(pipeline_id), kind, _rows.clean(value)),
            )

    # queries -----------------------------------------------------------------------------------
    async def _rows(self, what: str, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._transaction(what) as conn:
            return await (await conn.execute(query, params)).fetchall()

    async def failed_pipelines(self, date: str | Date) -> list[str]:
        """The pipelines with a FAILED run log on ``date`` (YYYY-MM-DD), sorted."""
        day = date.isoformat() if isinstance(date, Date) else date
        rows = await self._rows(
            "listing failed pipelines",
            "SELECT DISTINCT pipeline_id FROM run_logs WHERE date = %s AND status = 'FAILED' ORDER BY 1",
            (day,),
        )
        return [str(r[0]) for r in rows]

    async def run_history(self, pipeline_id: str, limit: int = 20) -> list[RunLogEntry]:
        """The pipeline's archived run logs, newest start first."""
        rows = await self._rows(
            "reading run history",
            "SELECT record FROM run_logs WHERE pipeline_id = %s ORDER BY started_at DESC, date DESC LIMIT %s",
            (pipeline_id, _limit(limit, 20)),
        )
        return [RunLogEntry.model_validate(r[0]) for r in rows]

    async def trait_history(
        self, pipeline_id: str, since: datetime, limit: int = 100
    ) -> list[TraitEvaluation]:
        """The pipeline's trait evaluations at or after ``since``, newest first."""
        rows = await self._rows(
            "reading trait history",
            "SELECT trait_type, status, value, reason, failure_category, source, evaluated_at"
            " FROM trait_evaluations WHERE pipeline_id = %s AND evaluated_at >= %s"
            " ORDER BY evaluated_at DESC, id DESC LIMIT %s",
            (pipeline_id, since, _limit(limit, 100)),
        )
        return [
            TraitEvaluation(
                pipeline_id=pipeline_id, trait_type=trait_type, status=status, value=value, reason=reason,
                failure_category=FailureCategory.__members__.get(category or ""),
                source=source, evaluated_at=evaluated_at,
            )
            for trait_type, status, value, reason, category, source, evaluated_at in rows
        ]


async def _schema_version(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await (await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")).fetchone()
    return int(row[0]) if row else 0


def _limit(limit: int, default: int) -> int:
    return default if limit <= 0 else min(limit, MAX_QUERY_LIMIT)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
