"""The batch operations of the Redis store: one script reads a pipeline's state, one pipelined
round trip reads many cycles' run logs (or runs; many pipelines' reruns or traits take two), one script
commits a unit of work (``scripts``)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import ValidationError as PydanticValidationError
from redis.commands.core import AsyncScript

from interlock_core.model import (
    DEFAULT_SCHEDULE_ID,
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    TraitEvaluation,
)
from interlock_core.model.parsed import TRAIT_ROWS, ParsedRecords
from interlock_core.unit_of_work import CommitResult, CycleKey, PipelineRecords, UnitOfWork

from . import scripts
from .client import translate_errors
from .keys import RedisKeys
from .multiplexed import MultiplexedReads, run_script

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .client import RedisConfig


_KEYS_PER_MGET = 1000


def _ms(seconds: float | None) -> int:
    if seconds is None or seconds <= 0 or not math.isfinite(seconds):
        return 0
    return max(1, round(seconds * 1000))


def _load(model: Any, raw: bytes | str | None, shared: bool = False) -> Any:
    """The record ``raw`` holds (through records kept by their text when ``model`` keeps them: the
    kept record itself when ``shared``); None for an unreadable one."""
    if raw is None:
        return None
    try:
        return model.load(raw, shared=shared) if isinstance(model, ParsedRecords) else model.model_validate_json(raw)
    except PydanticValidationError:
        return None


@lru_cache(maxsize=4096)
def _pipeline_keys(keys: RedisKeys, pipeline_id: str) -> tuple[str, ...]:
    """The names :meth:`RedisBatches.read_pipeline` sends for a pipeline, built once per pipeline:
    its trait set, readiness, trait key prefix, rerun and run indexes, rerun and run key prefixes."""
    return (keys.traits(pipeline_id), keys.readiness(pipeline_id), keys.trait(pipeline_id, ""),
            keys.reruns(pipeline_id), keys.runs(pipeline_id), keys.rerun(""), keys.run(""))


_READS_KEPT = 4096
"""How many askings of :meth:`RedisBatches.read_pipeline` keep their keys and last shared answer."""


class _ReadRequest(NamedTuple):
    """What :meth:`RedisBatches.read_pipeline` sends for one asking: the cycles it reads (distinct,
    schedule ids filled in), the script's keys and arguments."""

    wanted: list[tuple[str, str]]
    keys: list[str]
    args: list[Any]


def _records(wanted: list[tuple[str, str]], answer: list[Any], readiness: bool, shared: bool) -> PipelineRecords:
    """The records of the read script's ``answer`` (:meth:`RedisBatches.read_pipeline`)."""
    _types, rows, cached, logs = answer[:4]
    traits: dict[str, TraitEvaluation] = {}
    for raw in rows or ():
        trait = _load(TRAIT_ROWS, raw, shared)  # shared: the same object while its row's text is the same
        if trait is not None:
            traits[trait.trait_type] = trait
    run_logs: dict[tuple[str, str], RunLogEntry] = {}
    for cycle, raw in zip(wanted, logs or (), strict=False):
        entry = _load(RunLogEntry, raw)
        if entry is not None:
            run_logs[cycle] = entry
    traits = dict(sorted(traits.items()))
    kept = _load(ReadinessResult, cached) if readiness else None
    if len(answer) < 5:
        return PipelineRecords(traits=traits, readiness=kept, run_logs=run_logs)
    stored, version, reruns, latest, runs = answer[4:]
    found_runs = (_load(RunState, raw) for raw in runs or ())
    return PipelineRecords(traits=traits, readiness=kept, run_logs=run_logs,
                           pipeline=_load(PipelineConfig, stored) if stored else None,
                           config_version=_text(version) if version else None,
                           reruns=[r for r in (_load(RerunRecord, raw) for raw in reruns or ()) if r is not None],
                           latest_run=_load(RunState, latest) if latest else None,
                           runs={run.run_id: run for run in found_runs if run is not None})


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _instant(at: datetime) -> str:
    """As the commit script compares instants: UTC, six fractional digits."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


class RedisBatches:
    """The batch methods of :class:`~interlock_plugins.stores.redis.RedisStore`."""

    keys: RedisKeys
    config: RedisConfig
    _redis: aioredis.Redis
    _reads: MultiplexedReads | None

    if TYPE_CHECKING:
        async def list_reruns(self, pipeline_id: str | None, limit: int = 20) -> list[RerunRecord]: ...

    def _register_batch_scripts(self) -> None:
        self._read_requests: dict[tuple[Any, ...], _ReadRequest] = {}
        self._read_answers: dict[tuple[Any, ...], tuple[Any, PipelineRecords]] = {}  # the last shared read's
        self._commit_script: AsyncScript = self._redis.register_script(scripts.COMMIT)
        self._read_pipeline_script: AsyncScript = self._redis.register_script(scripts.READ_PIPELINE)

    @translate_errors
    async def read_pipeline(self, pipeline_id: str, cycles: Sequence[tuple[str, str]] = (), *,
                            readiness: bool = True, config: bool = False, known_version: str | None = None,
                            history: int = 0, shared: bool = False) -> PipelineRecords:
        """One script call (one round trip), its keys and arguments worked out once per asking.
        ``shared``: each trait row is the record kept for its text
        (:data:`~interlock_core.model.parsed.TRAIT_ROWS`), the same object while the row is
        unchanged, and when the script answers what it answered the last shared read of the same
        asking, the records of that read are answered again (the same object); otherwise the rest
        is decoded anew."""
        asked = (pipeline_id, tuple(map(tuple, cycles)), readiness, config, known_version, history)
        request = self._read_requests.get(asked)
        if request is None:
            request = self._read_request(pipeline_id, cycles, readiness, config, known_version, history)
            if len(self._read_requests) >= _READS_KEPT:
                self._read_requests.clear()
            self._read_requests[asked] = request
        wanted, keys, args = request
        answer = await run_script(self._reads, self._read_pipeline_script, keys, args)
        if shared:
            kept = self._read_answers.get(asked)
            if kept is not None and kept[0] == answer:
                return kept[1]
        records = _records(wanted, answer, readiness, shared)
        if shared:
            if len(self._read_answers) >= _READS_KEPT:
                self._read_answers.clear()
            self._read_answers[asked] = (answer, records)
        return records

    def _read_request(self, pipeline_id: str, cycles: Sequence[tuple[str, str]], readiness: bool, config: bool,
                      known_version: str | None, history: int) -> _ReadRequest:
        """The cycles :meth:`read_pipeline` reads, and its script's keys and arguments."""
        wanted = list(dict.fromkeys((date, schedule or DEFAULT_SCHEDULE_ID) for date, schedule in cycles))
        names = _pipeline_keys(self.keys, pipeline_id)
        keys = [names[0], names[1] if readiness else "",
                *(self.keys.run_log(pipeline_id, date, schedule) for date, schedule in wanted)]
        args: list[Any] = [names[2]]
        if config or history > 0:
            args += [self.keys.pipelines if config else "", pipeline_id, known_version or "", max(history, 0),
                     *names[3:], *(f"{date}\n{schedule}" for date, schedule in wanted)]
        return _ReadRequest(wanted, keys, args)


    @translate_errors
    async def read_cycles(self, cycles: Sequence[CycleKey]) -> dict[CycleKey, RunLogEntry]:
        asked = list(dict.fromkeys(cycles))
        if not asked:
            return {}
        raws = await self._values([self.keys.run_log(p, d, s or DEFAULT_SCHEDULE_ID) for p, d, s in asked])
        found = ((key, _load(RunLogEntry, raw)) for key, raw in zip(asked, raws, strict=True))
        return {key: entry for key, entry in found if entry is not None}

    @translate_errors
    async def read_reruns(self, pipeline_ids: Sequence[str], limit: int = 20) -> dict[str, list[RerunRecord]]:
        """One pipelined round trip for the indexes, one for the records they name; a pipeline whose
        page held an expired record is read again alone (to fill its page as ``list_reruns`` does)."""
        asked, most = list(dict.fromkeys(pipeline_ids)), limit if limit > 0 else 20
        if not asked:
            return {}
        async with self._redis.pipeline(transaction=False) as batch:
            for pipeline_id in asked:
                batch.zrevrange(self.keys.reruns(pipeline_id), 0, most - 1)
            pages = [[_text(m) for m in members or ()] for members in await batch.execute()]
        named = [member for page in pages for member in page]
        if not named:
            return {}
        records = iter([_load(RerunRecord, raw) for raw in await self._values([self.keys.rerun(m) for m in named])])
        found: dict[str, list[RerunRecord]] = {}
        for pipeline_id, page in zip(asked, pages, strict=True):
            live = [r for r in (next(records) for _ in page) if r is not None]
            if len(live) < len(page) == most:
                live = await self.list_reruns(pipeline_id, most)
            if live:
                found[pipeline_id] = live
        return found

    @translate_errors
    async def read_traits(self, pipeline_ids: Sequence[str]) -> dict[str, list[TraitEvaluation]]:
        """One pipelined round trip for the pipelines' sets of trait types, one for the rows."""
        asked = list(dict.fromkeys(pipeline_ids))
        if not asked:
            return {}
        async with self._redis.pipeline(transaction=False) as batch:
            for pipeline_id in asked:
                batch.smembers(self.keys.traits(pipeline_id))
            types = [sorted(_text(t) for t in members or ()) for members in await batch.execute()]
        if not any(types):
            return {}
        rows = iter(await self._values([self.keys.trait(p, name) for p, names in zip(asked, types, strict=True)
                                        for name in names]))
        found: dict[str, list[TraitEvaluation]] = {}
        for pipeline_id, names in zip(asked, types, strict=True):
            live = [e for e in (_load(TraitEvaluation, next(rows)) for _ in names) if e is not None]
            if live:
                found[pipeline_id] = live
        return found

    @translate_errors
    async def read_runs(self, run_ids: Sequence[str]) -> dict[str, RunState]:
        asked = list(dict.fromkeys(run_ids))
        if not asked:
            return {}
        found = (_load(RunState, raw) for raw in await self._values([self.keys.run(run_id) for run_id in asked]))
        return {run.run_id: run for run in found if run is not None}

    async def _values(self, keys: list[str]) -> list[bytes | None]:
        """The values of many string keys in one round trip: an ``MGET`` per 1,000 keys, pipelined
        (far less client work than a ``GET`` each; the store connects to one primary)."""
        if not keys:
            return []
        async with self._redis.pipeline(transaction=False) as batch:
            for start in range(0, len(keys), _KEYS_PER_MGET):
                batch.mget(keys[start:start + _KEYS_PER_MGET])
            return [value for chunk in await batch.execute() for value in chunk]

    @translate_errors
    async def commit(self, work: UnitOfWork) -> CommitResult:
        keys: list[str] = []
        index: dict[str, int] = {}

        def key(name: str) -> int:
            if name not in index:
                keys.append(name)
                index[name] = len(keys)  # Lua indexes from 1
            return index[name]

        retention = _ms(self.config.retention_ttl.total_seconds())
        plan: dict[str, Any] = {"owner": uuid.uuid4().hex, "maxlen": self.config.event_stream_max,
                                "retention": retention, "all": key(self.keys.all_alerts), "traits": [],
                                "events": [], "readiness": None}
        for item in work.traits:
            evaluation = item.evaluation
            after = _instant(item.unless_pushed_after) if item.unless_pushed_after is not None else ""
            plan["traits"].append({
                "k": key(self.keys.trait(evaluation.pipeline_id, evaluation.trait_type)),
                "set": key(self.keys.traits(evaluation.pipeline_id)), "type": evaluation.trait_type,
                "json": evaluation.to_json(), "ttl": _ms(item.ttl), "after": after})
        for entry in work.events:
            claim = {"k": key(self.keys.lease(entry.claim.lease_key)), "ttl": _ms(entry.claim.ttl)} \
                if entry.claim is not None else None
            alerts = [{"k": key(self.keys.alert(r.id)), "status_k": key(self.keys.alerts_in(r.status.value)),
                       "pending_k": key(self.keys.pending_alerts(r.sink)), "id": r.id, "json": r.to_json(),
                       "status": r.status.value, "ttl": 0 if r.status.value == "pending" else retention}
                      for r in entry.alerts]
            plan["events"].append({"stream": key(self.keys.events(entry.event.pipeline_id)),
                                   "kind": entry.event.kind.value, "json": entry.event.to_json(),
                                   "claim": claim, "alerts": alerts})
        if work.readiness is not None:
            plan["readiness"] = {"k": key(self.keys.readiness(work.readiness.pipeline_id)),
                                 "json": work.readiness.to_json(), "ttl": _ms(work.readiness_ttl)}
        skipped, claimed = await self._commit_script(keys, [json.dumps(plan)])
        return CommitResult(skipped=frozenset(t.decode() if isinstance(t, bytes) else str(t) for t in skipped or ()),
                            claimed=tuple(bool(int(c)) for c in claimed or ()))
