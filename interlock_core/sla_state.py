"""A cycle's SLA state as people read it: on time, at risk, breached, or no SLA.

:func:`cycle_sla` is the one place it is worked out, with no I/O; pipeline state
(:func:`interlock_core.pipeline_state.cycle_state`, so the API's ``/state`` and ``interlock status``)
and the dashboard's overview show what it says. The engine's SLA checks
(:mod:`interlock_core.engine.sla`) decide when to warn and alert; this says where a cycle stands.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from .model import Record, RunLogEntry, RunStatus, Timestamp
from .schedule import Deadlines

__all__ = ["AT_RISK_WINDOW", "SLA_SEVERITY", "CycleSla", "SlaState", "cycle_sla", "sla_state", "worst"]

AT_RISK_WINDOW = timedelta(minutes=30)
"""A cycle not done this close to its deadline is at risk."""


class SlaState(StrEnum):
    ON_TIME = "on time"
    AT_RISK = "at risk"
    BREACHED = "breached"
    NONE = "no SLA"


SLA_SEVERITY = {SlaState.NONE: 0, SlaState.ON_TIME: 1, SlaState.AT_RISK: 2, SlaState.BREACHED: 3}


class CycleSla(Record):
    """Where one cycle stands against its SLA, and the deadline that decides it."""

    state: SlaState
    deadline: Timestamp | None = None
    deadline_label: str | None = None


def sla_state(deadlines: Deadlines, entry: RunLogEntry | None, now: datetime, *, ready: bool,
              excluded: bool = False) -> tuple[SlaState, datetime | None, str | None]:
    """The cycle's SLA state from its run log alone, and the deadline that decides it.

    Done: on time when completed by the completion deadline, else breached. Not done: breached
    past the completion deadline (or, still not ready, past the evaluation deadline); at risk
    within ``AT_RISK_WINDOW`` of that deadline."""
    if excluded or (deadlines.completion is None and deadlines.evaluation is None):
        return SlaState.NONE, None, None
    completion, label = deadlines.completion, deadlines.completion_label
    if entry is not None and entry.status.is_done:
        finished = entry.completed_at or entry.updated_at
        if completion is not None and finished > completion:
            return SlaState.BREACHED, completion, label
        return SlaState.ON_TIME, completion or deadlines.evaluation, label or deadlines.evaluation_label
    started = entry is not None and entry.status is not RunStatus.FAILED
    pending: list[tuple[datetime, str | None]] = []
    if completion is not None:
        pending.append((completion, label))
    if deadlines.evaluation is not None and not ready and not started:
        pending.append((deadlines.evaluation, deadlines.evaluation_label))
    if not pending:
        return SlaState.ON_TIME, None, None
    deadline, deadline_label = min(pending, key=lambda item: item[0])
    if now > deadline:
        return SlaState.BREACHED, deadline, deadline_label
    if now >= deadline - AT_RISK_WINDOW:
        return SlaState.AT_RISK, deadline, deadline_label
    return SlaState.ON_TIME, deadline, deadline_label


def cycle_sla(deadlines: Deadlines, entry: RunLogEntry | None, now: datetime, *, ready: bool, excluded: bool,
              gave_up: bool) -> CycleSla:
    """The cycle's SLA state (:func:`sla_state`), where a cycle that gave up (failed for good,
    cancelled, skipped) is at least at risk: nothing runs before its deadline unless someone acts."""
    state, deadline, label = sla_state(deadlines, entry, now, ready=ready, excluded=excluded)
    if gave_up and state is SlaState.ON_TIME:
        state = SlaState.AT_RISK
    return CycleSla(state=state, deadline=deadline, deadline_label=label)


def worst(states: Iterable[SlaState]) -> SlaState:
    """The most severe of ``states`` (a pipeline's SLA is its worst cycle's); NONE when there are none."""
    return max(states, key=SLA_SEVERITY.__getitem__, default=SlaState.NONE)
