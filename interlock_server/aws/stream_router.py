"""The stream-router Lambda: DynamoDB Stream records of ``MARKER#`` items → state machine executions.

A marker (a cascade marker the lifecycle writes for a downstream pipeline, or one an external
system writes when data lands) means "look at this cycle again". For every ``INSERT``/``MODIFY``
record of an item with ``PK = PIPELINE#<id>`` and ``SK = MARKER#<source>#...`` one execution is
started with input ``{"pipelineId", "scheduleId", "date"?, "markerSource", "marker"}``:

* schedule: the item's ``scheduleID`` (or ``scheduleId``), else ``daily``;
* date: the item's own ``date`` when it has one (a cascade for yesterday's cycle runs
  yesterday's cycle); otherwise the execution resolves the date in the schedule's time zone.

Execution names: ``<pipeline>_<date>_<schedule>_<hash>`` with every character outside
``[A-Za-z0-9_-]`` replaced by ``_`` (the date is today in UTC when the marker has none), cut to
80 characters with the 8-character hash always kept. The hash is of the record's table key and
its stream sequence number, so:

* a redelivered record (the Lambda retries a failed batch) gets the same name: Step Functions
  answers with the running execution (same name and input), or ``ExecutionAlreadyExists`` once it
  has finished — counted as deduplicated, not an error;
* every new marker, and every change of a marker, starts its own execution, even for a cycle an
  earlier execution found NOT_READY the same day. Double triggering is prevented inside the
  execution by the cycle lease and the run-log gate, not by the name.

Records of other items (traits, runs, events …), ``REMOVE`` records and malformed keys are
skipped.

Partial batch failures (the event source mapping has ``ReportBatchItemFailures``): every record is
tried, and the reply ``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}, ...]}`` names
only the records whose execution could not be started (any other StartExecution error, or an
unexpected error while routing one record). Lambda retries the shard from the first one named
(records after it that did start deduplicate by name) and, once the retries or the record age are
spent, hands the failed range to the on-failure destination, the stream dead-letter queue. One
poisoned record therefore neither blocks the markers beside it nor replays the whole batch. A failed
record without a sequence number cannot be named: the batch is then failed as a whole (raised).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .init import env_value, require_env

log = logging.getLogger("interlock.aws.stream_router")

NAME_LIMIT = 80
HASH_LENGTH = 8
DEFAULT_SCHEDULE = "daily"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def sanitize(name: str, limit: int = NAME_LIMIT) -> str:
    return _UNSAFE.sub("_", name)[:limit]


def execution_name(pipeline_id: str, date: str, schedule_id: str, identity: str) -> str:
    digest = hashlib.sha256(identity.encode()).hexdigest()[:HASH_LENGTH]
    head = sanitize(f"{pipeline_id}:{date}:{schedule_id}", NAME_LIMIT - HASH_LENGTH - 1)
    return f"{head}_{digest}"


@dataclass(frozen=True)
class MarkerRoute:
    pipeline_id: str
    schedule_id: str
    date: str | None
    source: str
    name: str
    sort_key: str

    def execution_input(self) -> dict[str, Any]:
        data: dict[str, Any] = {"pipelineId": self.pipeline_id, "scheduleId": self.schedule_id,
                                "markerSource": self.source, "marker": self.sort_key}
        if self.date:
            data["date"] = self.date
        return data


def _string(image: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = image.get(name)
        if isinstance(value, Mapping) and isinstance(value.get("S"), str) and value["S"].strip():
            return str(value["S"]).strip()
    return None


def _image(change: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = change.get(name)
    return value if isinstance(value, Mapping) else {}


def route(record: Mapping[str, Any], today: str) -> MarkerRoute | None:
    """Where a stream record goes, or None when it is not a marker to route."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    change = record.get("dynamodb")
    if not isinstance(change, Mapping):
        return None
    keys, image = _image(change, "Keys"), _image(change, "NewImage")
    pk, sk = _string(keys, "PK") or _string(image, "PK"), _string(keys, "SK") or _string(image, "SK")
    if not pk or not sk or not sk.startswith("MARKER#"):
        return None
    if not pk.startswith("PIPELINE#") or not pk[len("PIPELINE#"):]:
        log.warning("marker %s has a partition key that names no pipeline: %s", sk, pk)
        return None
    pipeline_id = pk[len("PIPELINE#"):]
    schedule_id = _string(image, "scheduleID", "scheduleId") or DEFAULT_SCHEDULE
    date = _string(image, "date")
    parts = sk.split("#")
    source = parts[1] if len(parts) > 1 and parts[1] else "marker"
    identity = f"{pk}|{sk}|{change.get('SequenceNumber') or _string(image, 'timestamp') or ''}"
    name = execution_name(pipeline_id, date or today, schedule_id, identity)
    return MarkerRoute(pipeline_id, schedule_id, date, source, name, sk)


_client: Any = None
_client_lock = threading.Lock()


def _sfn() -> Any:
    global _client
    with _client_lock:
        if _client is None:
            _client = boto3.client("stepfunctions", region_name=env_value(os.environ, "AWS_REGION"),
                                   endpoint_url=env_value(os.environ, "AWS_ENDPOINT_URL"))
        return _client


def _sequence_number(record: Any) -> str | None:
    change = record.get("dynamodb") if isinstance(record, Mapping) else None
    number = change.get("SequenceNumber") if isinstance(change, Mapping) else None
    return number if isinstance(number, str) and number else None


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    state_machine = require_env(os.environ, "STATE_MACHINE_ARN", "the state machine that runs a cycle")
    records = event.get("Records") if isinstance(event, Mapping) else None
    started, deduplicated, skipped = [], [], 0
    failed: list[dict[str, str]] = []
    unnamed: list[str] = []
    today = datetime.now(UTC).date().isoformat()

    def fail(record: Any, what: str, exc: BaseException) -> None:
        number = _sequence_number(record)
        log.error("stream record %s: %s: %s", number or "(no sequence number)", what, exc,
                  exc_info=not isinstance(exc, (ClientError, BotoCoreError)))
        if number is None:
            unnamed.append(f"{what}: {exc}")
        else:
            failed.append({"itemIdentifier": number})

    for record in records if isinstance(records, list) else []:
        try:
            target = route(record, today) if isinstance(record, Mapping) else None
        except Exception as exc:  # a record the router cannot read: only this one fails
            fail(record, "routing the record", exc)
            continue
        if target is None:
            skipped += 1
            continue
        try:
            _sfn().start_execution(stateMachineArn=state_machine, name=target.name,
                                   input=json.dumps(target.execution_input()))
            started.append(target.name)
            log.info("started %s for marker %s of %s", target.name, target.sort_key, target.pipeline_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                deduplicated.append(target.name)
                log.info("execution %s already exists (marker seen before)", target.name)
                continue
            fail(record, f"starting execution for {target.pipeline_id}", exc)
        except Exception as exc:
            fail(record, f"starting execution for {target.pipeline_id}", exc)
    if unnamed:
        raise RuntimeError("; ".join(unnamed))
    return {"batchItemFailures": failed, "started": started, "deduplicated": deduplicated, "skipped": skipped}
