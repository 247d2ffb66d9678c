"""Events and the alert outbox of the DynamoDB store.

An event is numbered by its pipeline's counter item, advanced in the same ``TransactWriteItems``
as the event is written; the alerts the event raised and the "alert once" claim guarding them
ride in that same transaction (all written, or none). Outbox records are items
``ALERT#<id>``/``ALERT`` indexed by status in GSI1 (``ALERTS#<status>``, sorted by id); the index
is eventually consistent, so what it names is read again, strongly, before it is answered.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from interlock_core.model import AlertClaim, AlertRecord, AlertStatus, Event

from . import _dynamodb_items as items
from . import _dynamodb_keys as keys
from ._dynamodb_client import TableClient, backoff
from ._dynamodb_items import Item
from ._dynamodb_table import ConditionFailed, unavailable

if TYPE_CHECKING:
    from interlock_core.clock import Clock

APPEND_ATTEMPTS = 200
"""How often an event append retries after another append took its sequence number."""

APPEND_LOCKS = 64
"""Appends to one pipeline's log from this process take turns (a lock per hash bucket), so they
never race each other for a sequence number; appends from other processes still may."""

_STATUSES = tuple(AlertStatus)


def alert_item(record: AlertRecord, ttl: int | None) -> Item:
    return items.record_item(
        keys.alert_pk(record.id), keys.ALERT, record.to_json(), ttl,
        version=items.number(record.version), status=items.text(record.status.value),
        sink=items.text(record.sink), GSI1PK=items.text(keys.alerts_in(record.status.value)),
        GSI1SK=items.text(record.id),
    )


def _sequence(counter: Item | None) -> int:
    return int(items.number_of(counter or {}, items.SEQUENCE) or 0)


def _failed_at(failed: ConditionFailed, index: int) -> dict[str, Any] | None:
    """The cancellation reason of action ``index`` when its condition failed, else None."""
    if index >= len(failed.reasons):
        return None
    reason = failed.reasons[index]
    return reason if reason.get("Code") == "ConditionalCheckFailed" else None


class DynamoDBEventsAndAlerts:
    """The event log and the outbox methods of :class:`~interlock_plugins.stores.dynamodb.DynamoDBStore`."""

    table: str
    _db: TableClient
    _clock: Clock
    _last_event: dict[str, int]
    _append_locks: list[anyio.Lock]

    if TYPE_CHECKING:  # provided by the store
        def _now(self) -> float: ...

        def _retained(self, status: Any) -> int | None: ...

    # events -------------------------------------------------------------------------------------
    async def append_event(self, event: Event, alerts: Sequence[AlertRecord] = ()) -> str:
        """Advance the pipeline's counter and write the event (and its alerts) in one transaction.
        When another process took the number first, the cancelled transaction returns the counter
        as it is now, and the append tries the next number."""
        cursor = await self._write(event, alerts, None)
        assert cursor is not None
        return cursor

    async def record_alerts(self, alerts: Sequence[AlertRecord], *, event: Event | None = None,
                            claim: AlertClaim | None = None) -> bool:
        return await self._write(event, alerts, claim) is not None

    async def _write(self, event: Event | None, alerts: Sequence[AlertRecord], claim: AlertClaim | None) -> str | None:
        if event is None:
            return await self._transact(None, alerts, claim)
        async with self._append_locks[hash(event.pipeline_id) % APPEND_LOCKS]:
            return await self._transact(event, alerts, claim)

    def _alert_put(self, record: AlertRecord) -> dict[str, Any]:
        ttl = None if record.status is AlertStatus.PENDING else self._retained(None)
        return {"Put": self._db.put_params(alert_item(record, ttl), items.new_item())}

    async def _transact(self, event: Event | None, alerts: Sequence[AlertRecord],
                        claim: AlertClaim | None) -> str | None:
        """One transaction: the claim (its failure: None, nothing written), the event's counter and
        item, the alerts (one already stored is left as it is). The event's cursor, or ""."""
        now = self._now()
        pending = list(alerts)
        claim_put = None
        if claim is not None:
            owner = uuid.uuid4().hex
            lease = items.lease_item(claim.lease_key, owner, items.expiry(claim.ttl, now))
            claim_put = {"Put": self._db.put_params(lease, items.lease_free(owner, now))}
        pk = keys.pipeline_pk(event.pipeline_id) if event else ""
        last = self._last_event.get(event.pipeline_id) if event else None
        for attempt in range(APPEND_ATTEMPTS):
            actions: list[dict[str, Any]] = [claim_put] if claim_put else []
            sequence = 0
            if event is not None:
                if last is None:
                    last = _sequence(await self._db.get(pk, keys.EVENT_SEQUENCE))
                sequence = last + 1
                actions += self._event_actions(event, pk, last, sequence)
            first_alert = len(actions)
            actions += [self._alert_put(record) for record in pending]
            if not actions:
                return ""
            try:
                await self._db.call("transact_write_items", TransactItems=actions)
            except ConditionFailed as failed:
                if claim_put is not None and _failed_at(failed, 0) is not None:
                    return None
                stored = {i - first_alert for i in range(first_alert, len(actions)) if _failed_at(failed, i)}
                if stored:  # written by an earlier try whose answer was lost: keep them as they are
                    pending = [r for i, r in enumerate(pending) if i not in stored]
                if event is not None:
                    bump = _failed_at(failed, 1 if claim_put else 0)
                    last = _sequence(bump.get("Item")) if bump is not None else None
                if not stored:
                    await backoff(attempt)
                continue
            if event is None:
                return ""
            self._last_event[event.pipeline_id] = sequence
            return str(sequence)
        what = f"the event log of {event.pipeline_id!r}" if event else "the alert outbox"
        raise unavailable(self.table, f"could not append to {what} (contention)")

    def _event_actions(self, event: Event, pk: str, last: int, sequence: int) -> list[dict[str, Any]]:
        guard = items.sequence_is(last)
        bump = {
            "TableName": self.table,
            "Key": items.key(pk, keys.EVENT_SEQUENCE),
            "UpdateExpression": "SET #seq = :next",
            **guard.params(),
            "ExpressionAttributeValues": {**guard.values, ":next": items.number(sequence)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        put = self._db.put_params(items.event_item(event, sequence, self._retained(None)), items.new_item())
        return [{"Update": bump}, {"Put": put}]

    # the outbox ---------------------------------------------------------------------------------
    async def get_alert(self, alert_id: str) -> AlertRecord | None:
        return items.decode(AlertRecord, await self._db.get(keys.alert_pk(alert_id), keys.ALERT), self._now())

    async def list_alerts(self, status: AlertStatus | None = None, *, limit: int = 50,
                          before: str | None = None) -> list[AlertRecord]:
        if limit <= 0:
            return []
        found: list[AlertRecord] = []
        for each in [status] if status is not None else list(_STATUSES):
            found += await self._indexed(each, limit, before=before, forward=False)
        found.sort(key=lambda r: r.id, reverse=True)
        return found[:limit]

    async def pending_alerts(self, sink: str, limit: int = 100) -> list[AlertRecord]:
        if limit <= 0:
            return []
        return await self._indexed(AlertStatus.PENDING, limit, sink=sink, forward=True)

    async def cas_alert(self, record: AlertRecord, expected_version: int, *, event: Event | None = None) -> bool:
        condition = items.version_is(expected_version, self._now())
        ttl = None if record.status is AlertStatus.PENDING else self._retained(None)
        if event is None:
            return await self._db.put(alert_item(record, ttl), condition)
        put = self._db.put_params(alert_item(record, ttl), condition)
        async with self._append_locks[hash(event.pipeline_id) % APPEND_LOCKS]:
            pk = keys.pipeline_pk(event.pipeline_id)
            last = self._last_event.get(event.pipeline_id)
            for attempt in range(APPEND_ATTEMPTS):
                if last is None:
                    last = _sequence(await self._db.get(pk, keys.EVENT_SEQUENCE))
                actions = [{"Put": put}, *self._event_actions(event, pk, last, last + 1)]
                try:
                    await self._db.call("transact_write_items", TransactItems=actions)
                except ConditionFailed as failed:
                    if _failed_at(failed, 0) is not None:
                        return False
                    bump = _failed_at(failed, 1)
                    last = _sequence(bump.get("Item")) if bump is not None else None
                    await backoff(attempt)
                    continue
                self._last_event[event.pipeline_id] = last + 1
                return True
        raise unavailable(self.table, f"could not append to the event log of {event.pipeline_id!r} (contention)")

    async def _indexed(self, status: AlertStatus, limit: int, *, sink: str | None = None,
                       before: str | None = None, forward: bool) -> list[AlertRecord]:
        """Up to ``limit`` records the status index names (after a strongly consistent read of each:
        the index may lag behind a change of state)."""
        values = {":pk": items.text(keys.alerts_in(status.value))}
        condition = "GSI1PK = :pk"
        if before:
            condition += " AND GSI1SK < :before"
            values[":before"] = items.text(before)
        out: list[AlertRecord] = []
        query = self._db.query(condition, values, index=keys.GSI1, forward=forward, page=max(limit, 25))
        async with contextlib.aclosing(query) as found:
            async for item in found:
                if sink is not None and items.string_of(item, "sink") != sink:
                    continue
                alert_id = (items.string_of(item, "PK") or "").removeprefix(keys.ALERT_PREFIX)
                record = await self.get_alert(alert_id)
                if record is None or record.status is not status:
                    continue
                out.append(record)
                if len(out) >= limit:
                    break
        return out
