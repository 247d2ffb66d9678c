"""The archive's schema, as numbered migrations applied in order and recorded in
``schema_migrations``. Append a migration to change the schema; never edit an applied one.

Every table keeps the record's whole JSON document in ``record`` beside the queried columns, so a
later migration can add a column and fill it from what was archived before.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    ddl: str


SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""

_INITIAL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id           TEXT PRIMARY KEY,
    pipeline_id      TEXT NOT NULL,
    status           TEXT NOT NULL,
    version          INTEGER NOT NULL,
    schedule_id      TEXT NOT NULL DEFAULT 'daily',
    date             TEXT,
    attempt          INTEGER NOT NULL DEFAULT 1,
    trigger_type     TEXT,
    rerun_id         TEXT,
    failure_message  TEXT,
    failure_category TEXT,
    metadata         JSONB,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    completed_at     TIMESTAMPTZ,
    record           JSONB NOT NULL,
    archived_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS runs_pipeline_status ON runs (pipeline_id, status);
CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at);

CREATE TABLE IF NOT EXISTS run_logs (
    pipeline_id      TEXT NOT NULL,
    date             TEXT NOT NULL,
    schedule_id      TEXT NOT NULL DEFAULT 'daily',
    status           TEXT NOT NULL,
    attempt_number   INTEGER NOT NULL DEFAULT 0,
    run_id           TEXT,
    failure_message  TEXT,
    failure_category TEXT,
    alert_sent       BOOLEAN NOT NULL DEFAULT false,
    version          INTEGER NOT NULL DEFAULT 1,
    started_at       TIMESTAMPTZ NOT NULL,
    completed_at     TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL,
    record           JSONB NOT NULL,
    archived_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, date, schedule_id)
);
CREATE INDEX IF NOT EXISTS run_logs_status ON run_logs (status);
CREATE INDEX IF NOT EXISTS run_logs_date ON run_logs (date);

CREATE TABLE IF NOT EXISTS reruns (
    rerun_id        TEXT PRIMARY KEY,
    pipeline_id     TEXT NOT NULL,
    original_date   TEXT NOT NULL,
    schedule_id     TEXT NOT NULL DEFAULT 'daily',
    original_run_id TEXT,
    reason          TEXT NOT NULL,
    description     TEXT,
    status          TEXT NOT NULL,
    rerun_run_id    TEXT,
    metadata        JSONB,
    version         INTEGER NOT NULL DEFAULT 1,
    requested_at    TIMESTAMPTZ NOT NULL,
    completed_at    TIMESTAMPTZ,
    record          JSONB NOT NULL,
    archived_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS reruns_pipeline_status ON reruns (pipeline_id, status);

CREATE TABLE IF NOT EXISTS events (
    id          BIGSERIAL PRIMARY KEY,
    stream_id   TEXT,
    kind        TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    run_id      TEXT,
    trait_type  TEXT,
    status      TEXT,
    message     TEXT,
    details     JSONB,
    schedule_id TEXT,
    date        TEXT,
    timestamp   TIMESTAMPTZ NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS events_pipeline_stream ON events (pipeline_id, stream_id)
    WHERE stream_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_pipeline_kind ON events (pipeline_id, kind);
CREATE INDEX IF NOT EXISTS events_timestamp ON events (timestamp);

CREATE TABLE IF NOT EXISTS trait_evaluations (
    id               BIGSERIAL PRIMARY KEY,
    pipeline_id      TEXT NOT NULL,
    stream_id        TEXT NOT NULL,
    trait_type       TEXT NOT NULL,
    status           TEXT NOT NULL,
    value            JSONB,
    reason           TEXT,
    failure_category TEXT,
    source           TEXT,
    evaluated_at     TIMESTAMPTZ NOT NULL,
    archived_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (pipeline_id, stream_id)
);
CREATE INDEX IF NOT EXISTS trait_evaluations_pipeline_trait ON trait_evaluations (pipeline_id, trait_type);
CREATE INDEX IF NOT EXISTS trait_evaluations_evaluated_at ON trait_evaluations (evaluated_at);

CREATE TABLE IF NOT EXISTS archive_cursors (
    pipeline_id  TEXT NOT NULL,
    data_type    TEXT NOT NULL,
    cursor_value TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, data_type)
);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, run logs, reruns, events, trait evaluations, cursors", _INITIAL),
)
LATEST_VERSION = MIGRATIONS[-1].version

TABLES = ("runs", "run_logs", "reruns", "events", "trait_evaluations", "archive_cursors", "schema_migrations")
