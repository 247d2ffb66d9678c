"""The tables of the SQLite store and their migrations.

Every record is kept as its JSON (``data``) next to the columns that queries filter or sort on.
``expires_at`` is a Unix timestamp (seconds, UTC) or NULL for "never"; rows past it are absent on
read and deleted lazily. ``schema_version`` holds the version of the newest migration applied;
``store_meta`` holds facts about the store itself (its identity).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from interlock_core.errors import StoreMissing, StoreUnavailable

SCHEMA_VERSION = 5

_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"

_V1 = (
    """CREATE TABLE pipelines (
        name TEXT PRIMARY KEY,
        data TEXT NOT NULL)""",
    """CREATE TABLE traits (
        pipeline_id TEXT NOT NULL,
        trait_type TEXT NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL,
        PRIMARY KEY (pipeline_id, trait_type))""",
    """CREATE TABLE readiness (
        pipeline_id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        expires_at REAL)""",
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        pipeline_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at REAL NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL)""",
    "CREATE INDEX runs_by_pipeline ON runs (pipeline_id, created_at)",
    "CREATE INDEX runs_by_expiry ON runs (expires_at)",
    """CREATE TABLE run_logs (
        pipeline_id TEXT NOT NULL,
        date TEXT NOT NULL,
        schedule_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        started_at REAL NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL,
        PRIMARY KEY (pipeline_id, date, schedule_id))""",
    """CREATE TABLE reruns (
        rerun_id TEXT PRIMARY KEY,
        pipeline_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        requested_at REAL NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL)""",
    "CREATE INDEX reruns_by_pipeline ON reruns (pipeline_id, requested_at)",
    "CREATE INDEX reruns_by_time ON reruns (requested_at)",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pipeline_id TEXT NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL)""",
    "CREATE INDEX events_by_pipeline ON events (pipeline_id, id)",
    "CREATE INDEX events_by_expiry ON events (expires_at)",
    """CREATE TABLE cascade_markers (
        pipeline_id TEXT NOT NULL,
        date TEXT NOT NULL,
        schedule_id TEXT NOT NULL,
        source TEXT NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL,
        PRIMARY KEY (pipeline_id, date, schedule_id, source))""",
    """CREATE TABLE leases (
        key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at REAL)""",
)

_V2 = (
    """CREATE TABLE store_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
)

_V3 = (
    # wake-ups between the processes sharing the file (``sqlite_notify``): appended by the process
    # that wakes a pipeline, read by the others when ``PRAGMA data_version`` says the file changed
    """CREATE TABLE wake_ups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL)""",
)

_V4 = (
    # a dry-run pipeline's shadow record of each cycle (what it would have done, what the scheduler did)
    """CREATE TABLE shadow_cycles (
        pipeline_id TEXT NOT NULL,
        date TEXT NOT NULL,
        schedule_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL,
        PRIMARY KEY (pipeline_id, date, schedule_id))""",
)

_V5 = (
    # the alert outbox (``alerts.py``): one row per alert and sink; a pending row never expires
    """CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        sink TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        expires_at REAL)""",
    "CREATE INDEX alerts_by_status ON alerts (status, id)",
    "CREATE INDEX alerts_by_sink ON alerts (status, sink, id)",
    "CREATE INDEX alerts_by_expiry ON alerts (expires_at)",
)

# migration n takes a database at version n-1 to version n
MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5}

EXPIRING_TABLES = ("traits", "readiness", "runs", "run_logs", "reruns", "events", "cascade_markers", "leases",
                   "wake_ups", "shadow_cycles", "alerts")

LIVE = "(expires_at IS NULL OR expires_at > ?)"
"""The condition that keeps expired rows out of every read; its parameter is the current time."""


@dataclass(frozen=True)
class Table:
    """A table keyed by ``key`` whose other columns are ``columns`` plus ``expires_at``.

    Rows are tuples of the key values then the column values, in that order."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]

    def put(self, conn: sqlite3.Connection, row: tuple[Any, ...], expires: float | None) -> None:
        """Insert or replace the row."""
        conn.execute(self._upsert(), (*row, expires))

    def insert_if_absent(
        self, conn: sqlite3.Connection, row: tuple[Any, ...], expires: float | None, now: float
    ) -> bool:
        """Insert the row unless a live row has its key (an expired one is replaced)."""
        sql = self._upsert() + f" WHERE {self.name}.expires_at IS NOT NULL AND {self.name}.expires_at <= ?"
        return conn.execute(sql, (*row, expires, now)).rowcount == 1

    def swap(
        self, conn: sqlite3.Connection, row: tuple[Any, ...], expires: float | None, expected: int, now: float
    ) -> bool:
        """Replace the live row with this key iff its ``version`` column equals ``expected``."""
        assign = ", ".join(f"{c} = ?" for c in (*self.columns, "expires_at"))
        where = " AND ".join(f"{c} = ?" for c in self.key)
        sql = f"UPDATE {self.name} SET {assign} WHERE {where} AND version = ? AND {LIVE}"
        width = len(self.key)
        return conn.execute(sql, (*row[width:], expires, *row[:width], expected, now)).rowcount == 1

    def upsert_many(self, count: int) -> str:
        """Insert or replace ``count`` rows in one statement (parameters: the rows' values, then
        ``expires_at``, row after row)."""
        names = (*self.key, *self.columns, "expires_at")
        one = f"({', '.join('?' * len(names))})"
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*self.columns, "expires_at"))
        return (f"INSERT INTO {self.name} ({', '.join(names)}) VALUES {', '.join([one] * count)}"
                f" ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}")

    def _upsert(self) -> str:
        names = (*self.key, *self.columns, "expires_at")
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*self.columns, "expires_at"))
        return (
            f"INSERT INTO {self.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            f" ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}"
        )

TRAITS = Table("traits", ("pipeline_id", "trait_type"), ("data",))
READINESS = Table("readiness", ("pipeline_id",), ("data",))
RUNS = Table("runs", ("run_id",), ("pipeline_id", "version", "created_at", "data"))
RUN_LOGS = Table("run_logs", ("pipeline_id", "date", "schedule_id"), ("version", "started_at", "data"))
RERUNS = Table("reruns", ("rerun_id",), ("pipeline_id", "version", "requested_at", "data"))
CASCADE_MARKERS = Table("cascade_markers", ("pipeline_id", "date", "schedule_id", "source"), ("data",))
SHADOW_CYCLES = Table("shadow_cycles", ("pipeline_id", "date", "schedule_id"), ("version", "data"))


def ensure_schema(path: str) -> Callable[[sqlite3.Connection], None]:
    """A transaction body that creates or migrates the schema of the database at ``path``."""

    def migrate(conn: sqlite3.Connection) -> None:
        conn.execute(_VERSION_TABLE)
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"sqlite store {path} has schema version {current}, newer than this Interlock "
                f"supports ({SCHEMA_VERSION}); upgrade Interlock"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
        if current < SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    return migrate


def check_schema(path: str) -> Callable[[sqlite3.Connection], None]:
    """A transaction body that only checks the schema of an existing database (opening it to read:
    nothing is created or migrated)."""

    def check(conn: sqlite3.Connection) -> None:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
        if found is None:
            raise StoreMissing(f"{path} holds no Interlock store (no schema): nothing has been recorded there",
                               store="sqlite", path=path)
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current != SCHEMA_VERSION:
            side = "newer" if current > SCHEMA_VERSION else "older"
            fix = "upgrade Interlock" if current > SCHEMA_VERSION else \
                "a command that writes (`interlock run`, `interlock serve`) upgrades it"
            raise StoreUnavailable(f"sqlite store {path} has schema version {current}, {side} than this Interlock's "
                                   f"({SCHEMA_VERSION}); {fix}")

    return check


def purge_expired(conn: sqlite3.Connection, now: float) -> None:
    """Delete every row whose expiry has passed."""
    for table in EXPIRING_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
