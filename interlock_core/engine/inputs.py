"""A cycle's inputs: what its traits said and which upstream runs they depended on, as digests.

Every run records the inputs it was launched with (:class:`~interlock_core.model.RunInputs`, on the
run record itself: no extra write). Comparing them with what the store says later answers two
questions with one rule:

* the no-new-data breaker (:mod:`.budgets`): a rerun of a completed cycle whose inputs did not
  change since the run it would replace would only reproduce that run;
* late data (:mod:`.late_data`): a trait whose value changed after the cycle's run completed.

A trait's digest covers its status and its value (never its reason or its time: a re-evaluation
that finds the same data is no new data). A trait with no current result (a pushed result that
expired, one evaluated for another cycle) is *unknown*, never a change: only a result that differs
from the one the run was launched with counts. A trait that names an upstream pipeline
(``upstreamPipeline``) also records the upstream's run that last completed the cycle: when the
upstream re-runs, that run changes, and so do the inputs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime
from typing import Any

from ..archetypes import ResolvedTrait
from ..model import (
    PipelineConfig,
    RerunRecord,
    RunInputs,
    RunLogEntry,
    RunState,
    RunStatus,
    TraitEvaluation,
    TraitStatus,
)
from ..ports import Store
from .context import EngineContext
from .rerun_slot import RERUN_SCAN_LIMIT

S = RunStatus
UPSTREAM_RERUN_SCAN = 50


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trait_digest(evaluation: TraitEvaluation) -> str | None:
    """The digest of what a trait result says (status and value); None when it says nothing (STALE)."""
    if evaluation.status == TraitStatus.STALE:
        return None
    return _digest({"status": str(evaluation.status), "value": evaluation.value})


def fingerprint(traits: Mapping[str, str], upstream_runs: Mapping[str, str]) -> str:
    return _digest({"traits": dict(traits), "upstreamRuns": dict(upstream_runs)})


@dataclass(frozen=True)
class InputChange:
    """One input that differs from what a run was launched with."""

    trait_type: str
    kind: str
    """``value`` (the trait's result changed) or ``upstream`` (the upstream it names ran again)."""
    before: str | None
    after: str
    """Digests for ``value``; run ids for ``upstream``."""

    def to_json(self) -> dict[str, Any]:
        return {"traitType": self.trait_type, "kind": self.kind, "before": self.before, "after": self.after}


def changes(launched: RunInputs, now: RunInputs) -> list[InputChange]:
    """What differs in ``now`` from ``launched``, trait by trait (unknown now is never a change)."""
    out: list[InputChange] = []
    for trait, digest in sorted(now.traits.items()):
        if launched.traits.get(trait) != digest:
            out.append(InputChange(trait, "value", launched.traits.get(trait), digest))
    for trait, run_id in sorted(now.upstream_runs.items()):
        if launched.upstream_runs.get(trait) != run_id:
            out.append(InputChange(trait, "upstream", launched.upstream_runs.get(trait), run_id))
    return out


def _config_text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if isinstance(value, Date):
        return value.isoformat()
    return value.strip() if isinstance(value, str) and value.strip() else None


async def completed_run_id(store: Store, pipeline_id: str, schedule_id: str, date: str) -> str | None:
    """The run that last completed the cycle: its scheduled run, or a rerun that completed later
    (at the same instant, a rerun is the later one, and the newer of two reruns)."""
    candidates: list[tuple[datetime, int, str]] = []
    entry = await store.get_run_log(pipeline_id, date, schedule_id)
    if entry is not None and entry.status is S.COMPLETED and entry.run_id:
        candidates.append((entry.completed_at or entry.updated_at, 0, entry.run_id))
    reruns = await store.list_reruns(pipeline_id, UPSTREAM_RERUN_SCAN)  # newest first
    for index, record in enumerate(reruns):
        if (record.original_date == date and record.schedule_id == schedule_id and record.status is S.COMPLETED
                and record.rerun_run_id):
            candidates.append((record.completed_at or record.requested_at, len(reruns) - index, record.rerun_run_id))
    return max(candidates)[2] if candidates else None


async def upstream_runs(store: Store, traits: Iterable[ResolvedTrait], schedule_id: str,
                        date: str) -> dict[str, str]:
    """Trait type -> the upstream run that last completed the cycle, for traits naming an upstream
    (its ``upstreamSchedule`` and ``date`` as ``builtin:upstream-job-log`` reads them)."""
    out: dict[str, str] = {}
    for trait in traits:
        upstream = _config_text(trait.config, "upstreamPipeline")
        if upstream is None:
            continue
        schedule = _config_text(trait.config, "upstreamSchedule") or schedule_id
        run_id = await completed_run_id(store, upstream, schedule, _config_text(trait.config, "date") or date)
        if run_id is not None:
            out[trait.type] = run_id
    return out


def belongs_to(evaluation: TraitEvaluation, schedule_id: str, date: str) -> bool:
    """Whether a stored result speaks for the cycle: pushed results (no cycle) and results
    evaluated for this very cycle do; one evaluated for another cycle does not."""
    if evaluation.date is None and evaluation.schedule_id is None:
        return True
    return evaluation.date == date and evaluation.schedule_id == schedule_id


class Inputs:
    """Captures and reads the inputs of cycles."""

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    async def capture(self, pipeline: PipelineConfig, schedule_id: str, date: str,
                      evaluations: Iterable[TraitEvaluation]) -> RunInputs:
        """The inputs of an evaluation (a launch records them on its run)."""
        traits = {e.trait_type: d for e in evaluations if (d := trait_digest(e)) is not None}
        upstream = await upstream_runs(self.ctx.store, self.ctx.traits_of(pipeline), schedule_id, date)
        return RunInputs(fingerprint=fingerprint(traits, upstream), traits=traits, upstream_runs=upstream,
                         captured_at=self.ctx.clock.now())

    async def current(self, pipeline: PipelineConfig, schedule_id: str, date: str) -> RunInputs:
        """The cycle's inputs as the store holds them now (nothing is evaluated)."""
        stored = [e for e in await self.ctx.store.list_traits(pipeline.name) if belongs_to(e, schedule_id, date)]
        return await self.capture(pipeline, schedule_id, date, stored)

    async def latest_run(self, pipeline_id: str, schedule_id: str, date: str) -> RunState | None:
        """The cycle's newest run (its scheduled run or a rerun's): the one a rerun would replace."""
        entry = await self.ctx.store.get_run_log(pipeline_id, date, schedule_id)
        reruns = await self.ctx.store.list_reruns(pipeline_id, RERUN_SCAN_LIMIT)  # newest first
        ranked = cycle_run_ids(entry, reruns, schedule_id, date)
        runs = {run_id: run for run_id in ranked if (run := await self.ctx.store.get_run(run_id)) is not None}
        return newest_run(ranked, runs)


def cycle_run_ids(entry: RunLogEntry | None, reruns: Sequence[RerunRecord], schedule_id: str,
                  date: str) -> dict[str, int]:
    """The runs of a cycle by id, each with its rank among runs created at the same instant (a
    rerun's run is the later one): the run its run log names and the runs of its reruns
    (``reruns`` newest first, as :meth:`~interlock_core.ports.Store.list_reruns` answers them)."""
    ranked: dict[str, int] = {}
    if entry is not None and entry.run_id:
        ranked[entry.run_id] = 0
    for index, record in enumerate(reruns):
        if record.original_date == date and record.schedule_id == schedule_id and record.rerun_run_id:
            ranked.setdefault(record.rerun_run_id, len(reruns) - index)
    return ranked


def newest_run(ranked: Mapping[str, int], runs: Mapping[str, RunState]) -> RunState | None:
    """The newest of a cycle's runs (:func:`cycle_run_ids`) found in ``runs``."""
    newest: tuple[datetime, int, RunState] | None = None
    for run_id, rank in ranked.items():
        run = runs.get(run_id)
        if run is not None and (newest is None or (run.created_at, rank) > newest[:2]):
            newest = (run.created_at, rank, run)
    return newest[2] if newest is not None else None
