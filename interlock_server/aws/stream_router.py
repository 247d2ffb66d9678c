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
skipped. Any other StartExecution failure is raised after every record was tried, so the batch is
retried (records already started deduplicate by name).
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


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    state_machine = require_env(os.environ, "STATE_MACHINE_ARN", "the state machine that runs a cycle")
    records = event.get("Records") if isinstance(event, Mapping) else None
    started, deduplicated, skipped = [], [], 0
    failures: list[str] = []
    today = datetime.now(UTC).date().isoformat()
    for record in records if isinstance(records, list) else []:
        target = route(record, today) if isinstance(record, Mapping) else None
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
            failures.append(f"starting execution for {target.pipeline_id}: {exc}")
        except BotoCoreError as exc:
            failures.append(f"starting execution for {target.pipeline_id}: {exc}")
    if failures:
        raise RuntimeError("; ".join(failures))
    return {"started": started, "deduplicated": deduplicated, "skipped": skipped}
