"""The batch operations of the DynamoDB store.

``read_pipeline`` is a query of the pipeline's trait items and a ``BatchGetItem`` of its readiness
and the run logs asked for, sent together; ``read_cycles`` and ``read_runs`` are ``BatchGetItem``
by 100 keys, ``read_reruns`` and ``read_traits`` a query per pipeline sent together.
``commit`` is one ``TransactWriteItems``: the trait items (a verdict's condition: the stored item
is not a push evaluated after the evaluation started, read from the item's ``source`` and ``at``
attributes), each event's claim, the pipeline's event counter and the events, the alerts and the
readiness item. A condition that fails cancels the transaction; its reasons say which, and the
commit is sent again without what they ruled out (a held claim and its alerts, a skipped trait
row, an alert already stored) or with the counter as it is now. A unit larger than one
transaction takes (100 actions) is written in its parts, each as the single-record calls write it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from interlock_core.model import (
    DEFAULT_SCHEDULE_ID,
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    TraitEvaluation,
)
from interlock_core.unit_of_work import (
    CommitResult,
    CycleKey,
    PipelineRecords,
    TraitWrite,
    UnitOfWork,
    config_version,
)

from . import _dynamodb_items as items
from . import _dynamodb_keys as keys
from ._dynamodb_client import TableClient, backoff
from ._dynamodb_items import Condition, Item
from ._dynamodb_table import ConditionFailed, unavailable

if TYPE_CHECKING:
    from interlock_core.model import AlertRecord, Event

MAX_ACTIONS = 100
"""What one ``TransactWriteItems`` may hold."""

BATCH_GET = 100
R = TypeVar("R")
SOURCE = "source"
AT = "at"


def trait_item(evaluation: TraitEvaluation, ttl: int | None) -> Item:
    """A trait item: its JSON, and its source and time as attributes a condition can test."""
    extra: dict[str, dict[str, str]] = {AT: items.number(evaluation.evaluated_at.timestamp())}
    if evaluation.source:
        extra[SOURCE] = items.text(evaluation.source)
    return items.record_item(keys.pipeline_pk(evaluation.pipeline_id), keys.trait_sk(evaluation.trait_type),
                             evaluation.to_json(), ttl, **extra)


def not_a_newer_push(write: TraitWrite, now: float) -> Condition | None:
    if write.unless_pushed_after is None:
        return None
    return Condition(
        "attribute_not_exists(PK) OR attribute_not_exists(#src) OR #src <> :pushed OR #at <= :after"
        " OR (#ttl > :zero AND #ttl < :now)",
        {"#src": SOURCE, "#at": AT, "#ttl": items.TTL},
        {":pushed": items.text("pushed"), ":after": items.number(write.unless_pushed_after.timestamp()),
         ":zero": items.number(0), ":now": items.number(now)})


def _failed(failed: ConditionFailed, index: int) -> dict[str, Any] | None:
    if index >= len(failed.reasons):
        return None
    reason = failed.reasons[index]
    return reason if reason.get("Code") == "ConditionalCheckFailed" else None


class DynamoDBBatches:
    """The batch methods of :class:`~interlock_plugins.stores.dynamodb.DynamoDBStore`."""

    table: str
    _db: TableClient
    _last_event: dict[str, int]
    _append_locks: list[anyio.Lock]

    if TYPE_CHECKING:  # provided by the store
        def _now(self) -> float: ...

        def _retained(self, status: Any) -> int | None: ...

        def _alert_put(self, record: AlertRecord) -> dict[str, Any]: ...

        def _event_actions(self, event: Event, pk: str, last: int, sequence: int) -> list[dict[str, Any]]: ...

        async def _write(self, event: Event | None, alerts: Sequence[AlertRecord],
                         claim: Any) -> str | None: ...

        async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]: ...

        async def list_traits(self, pipeline_id: str) -> list[TraitEvaluation]: ...

        async def list_runs(self, pipeline_id: str, limit: int = 20) -> list[RunState]: ...

    # reads --------------------------------------------------------------------------------------
    async def _batch_get(self, wanted: list[Item]) -> list[Item]:
        found: list[Item] = []

        async def chunk(part: list[Item]) -> None:
            request: dict[str, Any] = {self.table: {"Keys": part, "ConsistentRead": True}}
            for attempt in range(20):
                response = await self._db.call("batch_get_item", RequestItems=request)
                found.extend((response.get("Responses") or {}).get(self.table) or [])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    return
                await backoff(attempt)
            raise unavailable(self.table, "batch read kept being throttled")

        unique = list({(k["PK"]["S"], k["SK"]["S"]): k for k in wanted}.values())
        async with anyio.create_task_group() as tg:
            for start in range(0, len(unique), BATCH_GET):
                tg.start_soon(chunk, unique[start:start + BATCH_GET])
        return found

    async def read_pipeline(self, pipeline_id: str, cycles: Sequence[tuple[str, str]] = (), *,
                            readiness: bool = True, config: bool = False, known_version: str | None = None,
                            history: int = 0, shared: bool = False) -> PipelineRecords:
        """The trait query, one ``BatchGetItem`` (readiness, run logs, the configuration) and, with
        ``history``, the reruns and newest run queries, sent together; then one ``BatchGetItem`` of the
        runs those name. Every record is decoded anew (``shared`` changes nothing)."""
        pk = keys.pipeline_pk(pipeline_id)
        wanted = [items.key(pk, keys.READINESS)] if readiness else []
        wanted += [items.key(pk, keys.run_log_sk(date, schedule or DEFAULT_SCHEDULE_ID)) for date, schedule in cycles]
        if config:
            wanted.append(items.key(pk, keys.CONFIG))
        trait_items: list[Item] = []
        got: list[Item] = []
        reruns: list[RerunRecord] = []
        latest: list[RunState] = []

        async def traits() -> None:
            async with contextlib.aclosing(self._db.prefix_query(pk, keys.TRAIT_PREFIX)) as query:
                trait_items.extend([item async for item in query])

        async def others() -> None:
            if wanted:
                got.extend(await self._batch_get(wanted))

        async def newest() -> None:
            reruns.extend(await self.list_reruns(pipeline_id, history))

        async def last() -> None:
            latest.extend(await self.list_runs(pipeline_id, 1))

        async with anyio.create_task_group() as tg:
            tg.start_soon(traits)
            tg.start_soon(others)
            if history > 0:
                tg.start_soon(newest)
                tg.start_soon(last)
        now = self._now()
        found = (items.decode(TraitEvaluation, item, now) for item in trait_items)
        by_type = {t.trait_type: t for t in found if t is not None}
        cached: ReadinessResult | None = None
        run_logs: dict[tuple[str, str], RunLogEntry] = {}
        stored: PipelineConfig | None = None
        version: str | None = None
        for item in got:
            sk = items.string_of(item, "SK")
            if sk == keys.READINESS:
                cached = items.decode(ReadinessResult, item, now)
            elif sk == keys.CONFIG:
                raw = items.string_of(item, items.DATA)
                version = config_version(raw) if raw is not None else None
                if version is not None and version != known_version:
                    stored = items.decode(PipelineConfig, item, now)
            elif (entry := items.decode(RunLogEntry, item, now)) is not None:
                run_logs[(entry.date, entry.schedule_id or DEFAULT_SCHEDULE_ID)] = entry
        runs: dict[str, RunState] = {}
        if history > 0:
            asked = {(date, schedule or DEFAULT_SCHEDULE_ID) for date, schedule in cycles}
            named = [e.run_id for e in run_logs.values() if e.run_id]
            named += [r.rerun_run_id for r in reruns if r.rerun_run_id
                      and (r.original_date, r.schedule_id or DEFAULT_SCHEDULE_ID) in asked]
            run_keys = [items.key(keys.run_key(run_id), keys.run_key(run_id)) for run_id in dict.fromkeys(named)]
            for item in await self._batch_get(run_keys) if run_keys else []:
                if (run := items.decode(RunState, item, now)) is not None:
                    runs[run.run_id] = run
        return PipelineRecords(traits=dict(sorted(by_type.items())), readiness=cached, run_logs=run_logs,
                               pipeline=stored, config_version=version, reruns=reruns,
                               latest_run=latest[0] if latest else None, runs=runs)

    async def read_cycles(self, cycles: Sequence[CycleKey]) -> dict[CycleKey, RunLogEntry]:
        if not cycles:
            return {}
        wanted = [items.key(keys.pipeline_pk(p), keys.run_log_sk(d, s or DEFAULT_SCHEDULE_ID)) for p, d, s in cycles]
        now = self._now()
        by_key: dict[tuple[str, str, str], RunLogEntry] = {}
        for item in await self._batch_get(wanted):
            entry = items.decode(RunLogEntry, item, now)
            if entry is not None:
                by_key[(entry.pipeline_id, entry.date, entry.schedule_id or DEFAULT_SCHEDULE_ID)] = entry
        out: dict[CycleKey, RunLogEntry] = {}
        for p, d, s in cycles:
            entry = by_key.get((p, d, s or DEFAULT_SCHEDULE_ID))
            if entry is not None:
                out[(p, d, s)] = entry
        return out

    async def read_reruns(self, pipeline_ids: Sequence[str], limit: int = 20) -> dict[str, list[RerunRecord]]:
        """A query per pipeline (DynamoDB has no batch query), sent together, 16 at a time."""
        return await self._per_pipeline(pipeline_ids, lambda p: self.list_reruns(p, limit if limit > 0 else 20))

    async def _per_pipeline(self, pipeline_ids: Sequence[str],
                            read: Callable[[str], Awaitable[list[R]]]) -> dict[str, list[R]]:
        found: dict[str, list[R]] = {}
        gate = anyio.CapacityLimiter(16)

        async def one(pipeline_id: str) -> None:
            async with gate:
                if records := await read(pipeline_id):
                    found[pipeline_id] = records

        async with anyio.create_task_group() as tg:
            for pipeline_id in dict.fromkeys(pipeline_ids):
                tg.start_soon(one, pipeline_id)
        return found

    async def read_traits(self, pipeline_ids: Sequence[str]) -> dict[str, list[TraitEvaluation]]:
        """A query per pipeline, sent together, 16 at a time."""
        return await self._per_pipeline(pipeline_ids, self.list_traits)

    async def read_runs(self, run_ids: Sequence[str]) -> dict[str, RunState]:
        if not run_ids:
            return {}
        now = self._now()
        wanted = [items.key(keys.run_key(run_id), keys.run_key(run_id)) for run_id in dict.fromkeys(run_ids)]
        found = (items.decode(RunState, item, now) for item in await self._batch_get(wanted))
        return {run.run_id: run for run in found if run is not None}

    # the unit of work ---------------------------------------------------------------------------
    async def commit(self, work: UnitOfWork) -> CommitResult:
        pipelines = sorted({e.event.pipeline_id for e in work.events})
        size = len(work.traits) + len(pipelines) + (work.readiness is not None) + sum(
            1 + (e.claim is not None) + len(e.alerts) for e in work.events)
        if size > MAX_ACTIONS:
            return await self._commit_in_parts(work)
        buckets = sorted({hash(p) % len(self._append_locks) for p in pipelines})
        async with contextlib.AsyncExitStack() as stack:
            for bucket in buckets:  # in one order, so two commits never wait for each other
                await stack.enter_async_context(self._append_locks[bucket])
            return await self._commit(work, pipelines)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _commit(self, work: UnitOfWork, pipelines: list[str]) -> CommitResult:
        owner = uuid.uuid4().hex
        skipped: set[str] = set()
        held: set[int] = set()  # events whose claim is held by someone else
        stored_alerts: set[str] = set()  # alerts already in the outbox (an earlier try's answer lost)
        last: dict[str, int | None] = {p: self._last_event.get(p) for p in pipelines}
        for attempt in range(200):
            now = self._now()
            actions: list[dict[str, Any]] = []
            roles: list[tuple[str, Any]] = []
            for write in work.traits:
                if write.evaluation.trait_type in skipped:
                    continue
                condition = not_a_newer_push(write, now)
                item = trait_item(write.evaluation, items.expiry(write.ttl, now))
                actions.append({"Put": self._db.put_params(item, condition)})
                roles.append(("trait", write.evaluation.trait_type))
            sequences: dict[str, list[int]] = {}
            for pipeline in pipelines:
                if last[pipeline] is None:
                    counter = await self._db.get(keys.pipeline_pk(pipeline), keys.EVENT_SEQUENCE)
                    last[pipeline] = int(items.number_of(counter or {}, items.SEQUENCE) or 0)
                count = sum(1 for e in work.events if e.event.pipeline_id == pipeline)
                first = (last[pipeline] or 0) + 1
                sequences[pipeline] = list(range(first, first + count))
                guard = items.sequence_is(last[pipeline] or 0)
                actions.append({"Update": {
                    "TableName": self.table, "Key": items.key(keys.pipeline_pk(pipeline), keys.EVENT_SEQUENCE),
                    "UpdateExpression": "SET #seq = :next", **guard.params(),
                    "ExpressionAttributeValues": {**guard.values, ":next": items.number(first + count - 1)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
                roles.append(("counter", pipeline))
            for index, entry in enumerate(work.events):
                sequence = sequences[entry.event.pipeline_id].pop(0)
                put = self._db.put_params(items.event_item(entry.event, sequence, self._retained(None)),
                                          items.new_item())
                actions.append({"Put": put})
                roles.append(("event", index))
                if index in held:
                    continue
                if entry.claim is not None:
                    lease = items.lease_item(entry.claim.lease_key, owner, items.expiry(entry.claim.ttl, now))
                    actions.append({"Put": self._db.put_params(lease, items.lease_free(owner, now))})
                    roles.append(("claim", index))
                for record in entry.alerts:
                    if record.id not in stored_alerts:
                        actions.append(self._alert_put(record))
                        roles.append(("alert", record.id))
            if work.readiness is not None:
                item = items.record_item(keys.pipeline_pk(work.readiness.pipeline_id), keys.READINESS,
                                         work.readiness.to_json(), items.expiry(work.readiness_ttl, now))
                actions.append({"Put": self._db.put_params(item)})
                roles.append(("readiness", None))
            if not actions:
                return CommitResult()
            try:
                await self._db.call("transact_write_items", TransactItems=actions)
            except ConditionFailed as failed:
                retry_now = False
                for position, (role, what) in enumerate(roles):
                    reason = _failed(failed, position)
                    if reason is None:
                        continue
                    retry_now = True
                    if role == "trait":
                        skipped.add(what)
                    elif role == "claim":
                        held.add(what)
                    elif role == "alert":
                        stored_alerts.add(what)
                    elif role == "counter":
                        current = reason.get("Item")
                        last[what] = int(items.number_of(current, items.SEQUENCE) or 0) if current else None
                        retry_now = False
                if not retry_now:
                    await backoff(attempt)
                continue
            for pipeline in pipelines:
                self._last_event[pipeline] = (last[pipeline] or 0) + sum(
                    1 for e in work.events if e.event.pipeline_id == pipeline)
            return CommitResult(skipped=frozenset(skipped),
                                claimed=tuple(i not in held for i in range(len(work.events))))
        raise unavailable(self.table, "could not commit (contention on the event log)")

    async def _commit_in_parts(self, work: UnitOfWork) -> CommitResult:
        """A unit too large for one transaction: trait rows, then each event with its alerts, then
        the readiness item (each part atomic on its own)."""
        skipped: set[str] = set()
        for write in work.traits:
            now = self._now()
            if not await self._db.put(trait_item(write.evaluation, items.expiry(write.ttl, now)),
                                      not_a_newer_push(write, now)):
                skipped.add(write.evaluation.trait_type)
        claimed: list[bool] = []
        for entry in work.events:
            if entry.claim is None:
                await self._write(entry.event, entry.alerts, None)
                claimed.append(True)
            elif await self._write(entry.event, entry.alerts, entry.claim) is not None:
                claimed.append(True)
            else:
                await self._write(entry.event, (), None)
                claimed.append(False)
        if work.readiness is not None:
            item = items.record_item(keys.pipeline_pk(work.readiness.pipeline_id), keys.READINESS,
                                     work.readiness.to_json(), items.expiry(work.readiness_ttl, self._now()))
            await self._db.put(item)
        return CommitResult(skipped=frozenset(skipped), claimed=tuple(claimed))
