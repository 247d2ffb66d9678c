"""Key names of the ``dynamodb`` store's single table.

Every item has a partition key ``PK`` and a sort key ``SK`` (both strings); pipelines and reruns
also carry ``GSI1PK``/``GSI1SK`` for the one global secondary index ``GSI1``::

    PIPELINE#<id>   CONFIG                                   pipeline (GSI1: TYPE#pipeline, PIPELINE#<id>)
    PIPELINE#<id>   TRAIT#<type>                             trait evaluation
    PIPELINE#<id>   READINESS                                readiness cache
    RUN#<runId>     RUN#<runId>                              run (the truth, with ``version``)
    PIPELINE#<id>   RUN#<createdAt>#<runId>                  run (list copy, newest first)
    PIPELINE#<id>   RUNLOG#<date>#<schedule>                 run log (with ``version``)
    RERUN#<id>      RERUN#<id>                               rerun (truth; GSI1: TYPE#rerun, <requestedAt>#<id>)
    PIPELINE#<id>   RERUN#<requestedAt>#<rerunId>            rerun (list copy)
    PIPELINE#<id>   EVENTSEQ                                 the pipeline's last event sequence number
    PIPELINE#<id>   EVENT#<20-digit sequence>                event; the sequence number is its cursor
    PIPELINE#<id>   MARKER#cascade#<date>#<schedule>#<src>   cascade marker (top-level scheduleID, date, source)
    PIPELINE#<id>   SHADOW#<date>#<schedule>                 shadow record of a dry-run cycle (with ``version``)
    LOCK#<key>      LOCK                                     lease (``owner``)
    ALERT#<id>      ALERT                                    alert outbox record (``version``, ``status``,
                                                             ``sink``; GSI1: ALERTS#<status>, <id>)
    STORE           IDENTITY                                 the store identity (``identity``), written once

Times in sort keys are fixed-width UTC (``2026-03-02T12:00:00.123456Z``) so they sort as text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from interlock_core.errors import ValidationError

GSI1 = "GSI1"

PIPELINE_PREFIX = "PIPELINE#"
CONFIG = "CONFIG"
PIPELINES_TYPE = "TYPE#pipeline"
TRAIT_PREFIX = "TRAIT#"
READINESS = "READINESS"
RUN_PREFIX = "RUN#"
RUN_LOG_PREFIX = "RUNLOG#"
RERUN_PREFIX = "RERUN#"
RERUNS_TYPE = "TYPE#rerun"
EVENT_PREFIX = "EVENT#"
EVENT_SEQUENCE = "EVENTSEQ"
MARKER_PREFIX = "MARKER#"
CASCADE_PREFIX = MARKER_PREFIX + "cascade#"
SHADOW_PREFIX = "SHADOW#"
STORE = "STORE"
IDENTITY = "IDENTITY"
LEASE_PREFIX = "LOCK#"
LEASE = "LOCK"
ALERT_PREFIX = "ALERT#"
ALERT = "ALERT"
ALERTS_TYPE = "ALERTS#"

EVENT_DIGITS = 20
LAST_EVENT = 10**EVENT_DIGITS - 1
_START_CURSORS = frozenset({"", "0", "0-0"})


def sortable_time(when: datetime) -> str:
    """Fixed-width UTC text: lexicographic order is time order."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pipeline_pk(pipeline_id: str) -> str:
    return PIPELINE_PREFIX + pipeline_id


def trait_sk(trait_type: str) -> str:
    return TRAIT_PREFIX + trait_type


def run_key(run_id: str) -> str:
    """Both ``PK`` and ``SK`` of a run's truth item."""
    return RUN_PREFIX + run_id


def run_copy_sk(created_at: datetime, run_id: str) -> str:
    return f"{RUN_PREFIX}{sortable_time(created_at)}#{run_id}"


def run_log_sk(date: str, schedule_id: str) -> str:
    return f"{RUN_LOG_PREFIX}{date}#{schedule_id}"


def rerun_key(rerun_id: str) -> str:
    """Both ``PK`` and ``SK`` of a rerun's truth item."""
    return RERUN_PREFIX + rerun_id


def rerun_copy_sk(requested_at: datetime, rerun_id: str) -> str:
    return f"{RERUN_PREFIX}{sortable_time(requested_at)}#{rerun_id}"


def rerun_gsi_sk(requested_at: datetime, rerun_id: str) -> str:
    return f"{sortable_time(requested_at)}#{rerun_id}"


def event_sk(sequence: int) -> str:
    return f"{EVENT_PREFIX}{sequence:0{EVENT_DIGITS}d}"


def event_sequence(sort_key: str) -> int | None:
    """The sequence number of an ``EVENT#`` sort key (None for anything else)."""
    digits = sort_key[len(EVENT_PREFIX):]
    if not sort_key.startswith(EVENT_PREFIX) or len(digits) != EVENT_DIGITS or not digits.isdigit():
        return None
    return int(digits)


def event_cursor(cursor: str | None) -> int:
    """The sequence number after which to read; ``None``, ``""``, ``"0"`` and ``"0-0"`` mean the start."""
    if cursor is None or cursor in _START_CURSORS:
        return 0
    text = cursor.strip()
    if not text.isdigit() or len(text) > EVENT_DIGITS or not text.isascii():
        raise ValidationError(
            f"invalid event cursor {cursor!r}: expected a stream id returned by the store", field="cursor"
        )
    return int(text)


def cascade_prefix(date: str, schedule_id: str) -> str:
    return f"{CASCADE_PREFIX}{date}#{schedule_id}#"


def cascade_sk(date: str, schedule_id: str, source: str) -> str:
    return cascade_prefix(date, schedule_id) + source


def shadow_sk(date: str, schedule_id: str) -> str:
    return f"{SHADOW_PREFIX}{date}#{schedule_id}"


def shadow_range(since: str, until: str) -> tuple[str, str]:
    """The sort keys (inclusive) between which the shadow records dated ``since`` to ``until`` lie."""
    return f"{SHADOW_PREFIX}{since}#", f"{SHADOW_PREFIX}{until}#\uffff"


def lease_pk(key: str) -> str:
    return LEASE_PREFIX + key


def alert_pk(alert_id: str) -> str:
    return ALERT_PREFIX + alert_id


def alerts_in(status: str) -> str:
    """The GSI1 partition of the outbox records in ``status``."""
    return ALERTS_TYPE + status
