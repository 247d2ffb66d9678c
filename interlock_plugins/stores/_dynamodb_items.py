"""Items of the ``dynamodb`` store: records in, records out, expiry.

Items are written in the low-level attribute-value form (``{"S": ...}``, ``{"N": ...}``). Every
record item keeps the record's JSON in the string attribute ``data``; lease items have ``owner``
instead. The numeric attribute ``ttl`` (epoch seconds, rounded up) is DynamoDB's TTL attribute:
DynamoDB deletes expired items lazily (moto never does), so reads treat ``ttl > 0 and now > ttl``
as absent, with ``now`` from the store's clock.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as ModelError

from interlock_core.model import (
    DEFAULT_SCHEDULE_ID,
    CascadeMarker,
    Event,
    PipelineConfig,
    RerunRecord,
    RunLogEntry,
    RunState,
    ShadowCycle,
)

from . import _dynamodb_keys as keys

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

Item = dict[str, Any]
"""One item as the low-level client sends and returns it."""

TTL = "ttl"
DATA = "data"
VERSION = "version"
OWNER = "owner"
SEQUENCE = "seq"
IDENTITY = "identity"


def text(value: str) -> dict[str, str]:
    return {"S": value}


def number(value: int | float) -> dict[str, str]:
    if isinstance(value, float):
        return {"N": f"{value:.6f}"}
    return {"N": str(value)}


def key(pk: str, sk: str) -> Item:
    return {"PK": text(pk), "SK": text(sk)}


def string_of(item: Item, name: str) -> str | None:
    value = item.get(name)
    return value.get("S") if isinstance(value, dict) else None


def number_of(item: Item, name: str) -> float | None:
    value = item.get(name)
    raw = value.get("N") if isinstance(value, dict) else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def expiry(seconds: float | None, now: float) -> int | None:
    """The ``ttl`` of an item written at ``now`` that lives ``seconds`` (None: it never expires)."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return None
    return math.ceil(now + seconds)


def is_live(item: Item, now: float) -> bool:
    ttl = number_of(item, TTL)
    return not (ttl is not None and ttl > 0 and now > ttl)


def record_item(pk: str, sk: str, data: str, ttl: int | None, **attributes: dict[str, str]) -> Item:
    item = {**key(pk, sk), DATA: text(data), **attributes}
    if ttl is not None:
        item[TTL] = number(ttl)
    return item


def decode(model: type[M], item: Item | None, now: float) -> M | None:
    """The record in a live item's ``data``; None when absent, expired or unreadable."""
    if not item or not is_live(item, now):
        return None
    raw = string_of(item, DATA)
    if raw is None:
        log.warning("skipping a dynamodb item without data: %s/%s", string_of(item, "PK"), string_of(item, "SK"))
        return None
    try:
        return model.model_validate_json(raw)
    except ModelError as exc:
        log.warning("skipping an unreadable %s item in the dynamodb store: %s", model.__name__, exc.errors()[:1])
        return None


# ----------------------------------------------------------------------------------- records


def pipeline_item(pipeline: PipelineConfig) -> Item:
    data = pipeline.model_dump_json(by_alias=True, exclude_none=True)
    return record_item(
        keys.pipeline_pk(pipeline.name),
        keys.CONFIG,
        data,
        None,
        GSI1PK=text(keys.PIPELINES_TYPE),
        GSI1SK=text(keys.pipeline_pk(pipeline.name)),
    )


def run_items(run: RunState, ttl: int | None) -> tuple[Item, Item]:
    """The truth item (with ``version``) and the list copy in the pipeline's partition."""
    data = run.to_json()
    truth = record_item(keys.run_key(run.run_id), keys.run_key(run.run_id), data, ttl, version=number(run.version))
    copy = record_item(keys.pipeline_pk(run.pipeline_id), keys.run_copy_sk(run.created_at, run.run_id), data, ttl)
    return truth, copy


def with_default_schedule(entry: RunLogEntry) -> RunLogEntry:
    if entry.schedule_id:
        return entry
    return entry.model_copy(update={"schedule_id": DEFAULT_SCHEDULE_ID})


def run_log_item(entry: RunLogEntry, ttl: int | None) -> Item:
    return record_item(
        keys.pipeline_pk(entry.pipeline_id),
        keys.run_log_sk(entry.date, entry.schedule_id),
        entry.to_json(),
        ttl,
        version=number(entry.version),
    )


def shadow_item(record: ShadowCycle, ttl: int | None) -> Item:
    return record_item(
        keys.pipeline_pk(record.pipeline_id),
        keys.shadow_sk(record.date, record.schedule_id),
        record.to_json(),
        ttl,
        version=number(record.version),
    )


def rerun_items(record: RerunRecord, ttl: int | None) -> tuple[Item, Item]:
    """The truth item (``version``, GSI1 for the cross-pipeline list) and the pipeline's list copy."""
    data = record.to_json()
    truth = record_item(
        keys.rerun_key(record.rerun_id),
        keys.rerun_key(record.rerun_id),
        data,
        ttl,
        version=number(record.version),
        GSI1PK=text(keys.RERUNS_TYPE),
        GSI1SK=text(keys.rerun_gsi_sk(record.requested_at, record.rerun_id)),
    )
    copy = record_item(
        keys.pipeline_pk(record.pipeline_id), keys.rerun_copy_sk(record.requested_at, record.rerun_id), data, ttl
    )
    return truth, copy


def event_item(event: Event, sequence: int, ttl: int | None) -> Item:
    return record_item(
        keys.pipeline_pk(event.pipeline_id), keys.event_sk(sequence), event.to_json(), ttl, kind=text(event.kind.value)
    )


def marker_item(marker: CascadeMarker, ttl: int | None) -> Item:
    """A cascade marker: the stream router reads the top-level ``scheduleID``, ``date`` and ``source``."""
    return record_item(
        keys.pipeline_pk(marker.pipeline_id),
        keys.cascade_sk(marker.date, marker.schedule_id, marker.source),
        marker.to_json(),
        ttl,
        pipelineID=text(marker.pipeline_id),
        scheduleID=text(marker.schedule_id),
        date=text(marker.date),
        source=text(marker.source),
    )


def identity_item(identity: str) -> Item:
    return {**key(keys.STORE, keys.IDENTITY), IDENTITY: text(identity)}


def lease_item(lease_key: str, owner: str, ttl: int | None) -> Item:
    item = {**key(keys.lease_pk(lease_key), keys.LEASE), OWNER: text(owner)}
    if ttl is not None:
        item[TTL] = number(ttl)
    return item


# -------------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Condition:
    """A ``ConditionExpression`` with exactly the names and values it uses (DynamoDB refuses extras)."""

    expression: str
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ConditionExpression": self.expression}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


_LIVE = "(attribute_not_exists(#ttl) OR #ttl <= :zero OR #ttl >= :now)"
_EXPIRED = "(#ttl > :zero AND #ttl < :now)"


def _clock_values(now: float) -> dict[str, dict[str, str]]:
    return {":zero": number(0), ":now": number(now)}


def new_item() -> Condition:
    return Condition("attribute_not_exists(PK)")


def absent(now: float) -> Condition:
    """No item with this key, or only an expired one."""
    return Condition(f"attribute_not_exists(PK) OR {_EXPIRED}", {"#ttl": TTL}, _clock_values(now))


def version_is(expected: int, now: float) -> Condition:
    """A live item whose ``version`` is ``expected``."""
    return Condition(
        f"#version = :expected AND {_LIVE}",
        {"#version": VERSION, "#ttl": TTL},
        {":expected": number(expected), **_clock_values(now)},
    )


def lease_free(owner: str, now: float) -> Condition:
    """The lease is not held, has expired, or is ``owner``'s already (a renewal)."""
    return Condition(
        f"attribute_not_exists(PK) OR #owner = :owner OR {_EXPIRED}",
        {"#owner": OWNER, "#ttl": TTL},
        {":owner": text(owner), **_clock_values(now)},
    )


def lease_held(owner: str, now: float) -> Condition:
    """``owner`` holds a live lease."""
    return Condition(
        f"#owner = :owner AND {_LIVE}",
        {"#owner": OWNER, "#ttl": TTL},
        {":owner": text(owner), **_clock_values(now)},
    )


def sequence_is(last: int) -> Condition:
    """The event sequence counter still reads ``last`` (0: it does not exist yet)."""
    if last == 0:
        return Condition("attribute_not_exists(#seq)", {"#seq": SEQUENCE})
    return Condition("#seq = :last", {"#seq": SEQUENCE}, {":last": number(last)})
