"""The run lifecycle state machine.

The table extends the predecessor's (reference §3.1) with every edge the lifecycle really takes:
a ``command`` trigger that finished goes TRIGGERING → COMPLETED directly; a callback may arrive
before the launch outcome was recorded (TRIGGERING → COMPLETED/FAILED); a run that never
launched may be failed or cancelled from PENDING.
"""

from __future__ import annotations

from .errors import InvalidTransition
from .model import RunStatus

S = RunStatus

TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    S.PENDING: frozenset({S.TRIGGERING, S.FAILED, S.CANCELLED}),
    S.TRIGGERING: frozenset({S.RUNNING, S.COMPLETED, S.COMPLETED_MONITORING, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.COMPLETED, S.COMPLETED_MONITORING, S.FAILED, S.CANCELLED}),
    S.COMPLETED_MONITORING: frozenset({S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.SKIPPED: frozenset(),
}


def can_transition(current: RunStatus, target: RunStatus) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: RunStatus, target: RunStatus) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(
            f"invalid transition from {current.value} to {target.value}",
            currentStatus=current.value,
            requestedStatus=target.value,
        )

