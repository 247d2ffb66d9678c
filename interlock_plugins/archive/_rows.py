"""Records to archive rows, and the statements that write them.

PostgreSQL refuses NUL characters in TEXT and JSONB; an evaluator that printed one must not
block the archive forever, so every string is cleaned on the way in.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from interlock_core.archiver import ArchivedTraitEvaluation
from interlock_core.model import DEFAULT_SCHEDULE_ID, EventRecord, RerunRecord, RunLogEntry, RunState

Row = tuple[Any, ...]


def clean(value: Any) -> Any:
    """``value`` with every NUL character in its strings (and mapping keys) replaced."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(clean(value))


def _enum(value: Any) -> str | None:
    return None if value is None else str(value.value if hasattr(value, "value") else value)


UPSERT_RUN = """
INSERT INTO runs (run_id, pipeline_id, status, version, schedule_id, date, attempt, trigger_type, rerun_id,
                  failure_message, failure_category, metadata, created_at, updated_at, completed_at, record)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id) DO UPDATE SET
    status = excluded.status, version = excluded.version, schedule_id = excluded.schedule_id,
    date = excluded.date, attempt = excluded.attempt, trigger_type = excluded.trigger_type,
    rerun_id = excluded.rerun_id, failure_message = excluded.failure_message,
    failure_category = excluded.failure_category, metadata = excluded.metadata,
    updated_at = excluded.updated_at, completed_at = excluded.completed_at, record = excluded.record,
    archived_at = now()
WHERE excluded.version >= runs.version
"""


def run_row(run: RunState) -> Row:
    return (
        clean(run.run_id), clean(run.pipeline_id), run.status.value, run.version,
        clean(run.schedule_id or DEFAULT_SCHEDULE_ID), clean(run.date), run.attempt, clean(run.trigger_type),
        clean(run.rerun_id), clean(run.failure_message), _enum(run.failure_category), _json(run.metadata),
        run.created_at, run.updated_at, run.completed_at, _json(run.to_json_dict()),
    )


UPSERT_RUN_LOG = """
INSERT INTO run_logs (pipeline_id, date, schedule_id, status, attempt_number, run_id, failure_message,
                      failure_category, alert_sent, version, started_at, completed_at, updated_at, record)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (pipeline_id, date, schedule_id) DO UPDATE SET
    status = excluded.status, attempt_number = excluded.attempt_number, run_id = excluded.run_id,
    failure_message = excluded.failure_message, failure_category = excluded.failure_category,
    alert_sent = excluded.alert_sent, version = excluded.version, started_at = excluded.started_at,
    completed_at = excluded.completed_at, updated_at = excluded.updated_at, record = excluded.record,
    archived_at = now()
WHERE excluded.version >= run_logs.version
"""


def run_log_row(entry: RunLogEntry) -> Row:
    schedule_id = entry.schedule_id or DEFAULT_SCHEDULE_ID
    record = entry.model_copy(update={"schedule_id": schedule_id}).to_json_dict()
    return (
        clean(entry.pipeline_id), clean(entry.date), clean(schedule_id), entry.status.value,
        entry.attempt_number, clean(entry.run_id), clean(entry.failure_message),
        _enum(entry.failure_category), entry.alert_sent, entry.version, entry.started_at,
        entry.completed_at, entry.updated_at, _json(record),
    )


UPSERT_RERUN = """
INSERT INTO reruns (rerun_id, pipeline_id, original_date, schedule_id, original_run_id, reason, description,
                    status, rerun_run_id, metadata, version, requested_at, completed_at, record)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (rerun_id) DO UPDATE SET
    status = excluded.status, rerun_run_id = excluded.rerun_run_id, metadata = excluded.metadata,
    version = excluded.version, completed_at = excluded.completed_at, description = excluded.description,
    record = excluded.record, archived_at = now()
WHERE excluded.version >= reruns.version
"""


def rerun_row(record: RerunRecord) -> Row:
    return (
        clean(record.rerun_id), clean(record.pipeline_id), clean(record.original_date),
        clean(record.schedule_id or DEFAULT_SCHEDULE_ID), clean(record.original_run_id), clean(record.reason),
        clean(record.description), record.status.value, clean(record.rerun_run_id), _json(record.metadata),
        record.version, record.requested_at, record.completed_at, _json(record.to_json_dict()),
    )


INSERT_EVENT = """
INSERT INTO events (stream_id, kind, pipeline_id, run_id, trait_type, status, message, details,
                    schedule_id, date, timestamp)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (pipeline_id, stream_id) WHERE stream_id IS NOT NULL DO NOTHING
"""


def event_row(pipeline_id: str, record: EventRecord) -> Row:
    event = record.event
    return (
        clean(record.stream_id), event.kind.value, clean(pipeline_id), clean(event.run_id),
        clean(event.trait_type), clean(event.status), clean(event.message), _json(event.details),
        clean(event.schedule_id), clean(event.date), event.timestamp,
    )


INSERT_TRAIT_EVALUATION = """
INSERT INTO trait_evaluations (pipeline_id, stream_id, trait_type, status, value, reason, failure_category,
                               source, evaluated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (pipeline_id, stream_id) DO NOTHING
"""


def trait_evaluation_row(pipeline_id: str, archived: ArchivedTraitEvaluation) -> Row:
    evaluation = archived.evaluation
    return (
        clean(pipeline_id), clean(archived.stream_id), clean(evaluation.trait_type), clean(evaluation.status),
        _json(evaluation.value), clean(evaluation.reason), _enum(evaluation.failure_category),
        clean(evaluation.source), evaluation.evaluated_at,
    )
