"""Read-modify-CAS loops over runs, run logs and reruns: the only way the lifecycle writes them."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import VersionConflict
from ..model import RerunRecord, RunLogEntry, RunState
from ..ports import Store

MAX_CAS_ATTEMPTS = 20


async def update_run(store: Store, run_id: str, change: Callable[[RunState], RunState | None]) -> RunState | None:
    """Apply ``change`` to the current run until the CAS sticks. ``change`` returns the new record
    (without bumping the version) or None to leave the run as it is. Returns the stored result."""
    for _ in range(MAX_CAS_ATTEMPTS):
        current = await store.get_run(run_id)
        if current is None:
            return None
        updated = change(current.model_copy(deep=True))
        if updated is None:
            return current
        updated.version = current.version + 1
        if await store.cas_run(updated, current.version):
            return updated
    raise VersionConflict(f"run {run_id} kept changing underneath; gave up after {MAX_CAS_ATTEMPTS} attempts")


async def update_run_log(
    store: Store, pipeline_id: str, date: str, schedule_id: str,
    change: Callable[[RunLogEntry], RunLogEntry | None],
) -> RunLogEntry | None:
    for _ in range(MAX_CAS_ATTEMPTS):
        current = await store.get_run_log(pipeline_id, date, schedule_id)
        if current is None:
            return None
        updated = change(current.model_copy(deep=True))
        if updated is None:
            return current
        updated.version = current.version + 1
        if await store.cas_run_log(updated, current.version):
            return updated
    raise VersionConflict(f"run log {pipeline_id}/{date}/{schedule_id} kept changing; gave up")


async def update_rerun(store: Store, rerun_id: str,
                       change: Callable[[RerunRecord], RerunRecord | None]) -> RerunRecord | None:
    for _ in range(MAX_CAS_ATTEMPTS):
        current = await store.get_rerun(rerun_id)
        if current is None:
            return None
        updated = change(current.model_copy(deep=True))
        if updated is None:
            return current
        updated.version = current.version + 1
        if await store.cas_rerun(updated, current.version):
            return updated
    raise VersionConflict(f"rerun {rerun_id} kept changing underneath; gave up")
