"""Idle cycles: which of a watcher pass's due cycles have nothing to do, found in a few batch reads.

A cycle is *completed and idle* when its run log for today is COMPLETED, every day in view is
settled (no run log in view still open) and no rerun of its schedule is under way — and the
watcher has nothing else to look after for it (no wake-up, past day, catch-up, SLA, window, dry
run: the watcher judges that before asking). The one thing a pass still does for such a cycle is
the late-data check of today's newest run, and only when that run completed with its inputs
recorded (with none there is nothing to compare). Everything this needs is read for all the
candidates at once: the run logs in view (``read_cycles``), the pipelines' reruns
(``read_reruns``), the runs of today's cycles (``read_runs``) and the trait rows of the cycles to
check (``read_traits``) — at most four batch reads per pass, none per cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .engine.inputs import belongs_to, cycle_run_ids, newest_run
from .engine.rerun_slot import RERUN_SCAN_LIMIT
from .model import PipelineConfig, RerunRecord, RunLogEntry, RunState, RunStatus, ScheduleConfig, TraitEvaluation
from .ports import Store

CycleId = tuple[str, str]

IDLE_RERUN_SCAN = 50
"""A pipeline's newest reruns looked at for one under way (which keeps a completed cycle leased)."""


@dataclass(frozen=True)
class Candidate:
    """A due cycle that may be idle, with today's cycle and the days in view it is judged by
    (oldest first, ending with today's)."""

    pipeline: PipelineConfig
    schedule: ScheduleConfig
    today: str
    days: Sequence[str]
    cid: CycleId = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cid", (self.pipeline.name, self.schedule.name))


@dataclass(frozen=True)
class LateCheck:
    """The late-data check of an idle cycle's completed run, with the cycle's stored trait rows."""

    date: str
    run: RunState
    evaluations: list[TraitEvaluation]


async def read_idle(store: Store, candidates: Sequence[Candidate], *,
                    late_data: bool) -> dict[CycleId, LateCheck | None]:
    """The candidates found completed and idle, each with the late-data check to make (None: none,
    or ``late_data`` is off)."""
    wanted = [(c.pipeline.name, day, c.schedule.name) for c in candidates for day in c.days]
    if not wanted:
        return {}
    logs = await store.read_cycles(wanted)
    completed = [c for c in candidates if _completed(c, logs)]
    if not completed:
        return {}
    reruns = await store.read_reruns(list(dict.fromkeys(c.pipeline.name for c in completed)), RERUN_SCAN_LIMIT)
    idle = [c for c in completed if not _rerun_under_way(c, reruns.get(c.pipeline.name, ()))]
    if not late_data:
        return dict.fromkeys((c.cid for c in idle), None)
    ranked = {c.cid: cycle_run_ids(logs.get((c.pipeline.name, c.today, c.schedule.name)),
                                   reruns.get(c.pipeline.name, []), c.schedule.name, c.today) for c in idle}
    named = [run_id for runs_of in ranked.values() for run_id in runs_of]
    runs = await store.read_runs(named) if named else {}
    checked: dict[CycleId, RunState] = {}
    for c in idle:
        run = newest_run(ranked[c.cid], runs)
        if run is not None and run.status is RunStatus.COMPLETED and run.inputs is not None:
            checked[c.cid] = run
    names = list(dict.fromkeys(c.pipeline.name for c in idle if c.cid in checked))
    traits = await store.read_traits(names) if names else {}
    return {c.cid: _late_check(c, checked.get(c.cid), traits) for c in idle}


def _completed(c: Candidate, logs: Mapping[tuple[str, str, str], RunLogEntry]) -> bool:
    """Today's run log COMPLETED and every run log in view settled."""
    if not c.days or c.days[-1] != c.today:
        return False
    current = logs.get((c.pipeline.name, c.today, c.schedule.name))
    if current is None or current.status is not RunStatus.COMPLETED:
        return False
    return all(e.status.is_terminal for day in c.days if (e := logs.get((c.pipeline.name, day, c.schedule.name))))


def _rerun_under_way(c: Candidate, reruns: Sequence[RerunRecord]) -> bool:
    return any(r.schedule_id == c.schedule.name and not r.status.is_terminal for r in reruns[:IDLE_RERUN_SCAN])


def _late_check(c: Candidate, run: RunState | None,
                traits: Mapping[str, list[TraitEvaluation]]) -> LateCheck | None:
    if run is None:
        return None
    stored = [e for e in traits.get(c.pipeline.name, ()) if belongs_to(e, c.schedule.name, c.today)]
    return LateCheck(c.today, run, stored)
