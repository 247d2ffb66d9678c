"""Read-modify-CAS loops over runs, run logs and reruns: the only way the lifecycle writes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import VersionConflict
from ..model import RerunRecord, RunLogEntry, RunState
from ..ports import Store

MAX_CAS_ATTEMPTS = 20


V = TypeVar("V", RunState, RunLogEntry, RerunRecord)


async def _update(read: Callable[[], Awaitable[V | None]], cas: Callable[[V, int], Awaitable[bool]],
                  change: Callable[[V], V | None], what: str) -> V | None:
    """Apply ``change`` to the current record until the CAS sticks. ``change`` returns the new
    record (without bumping the version) or None to leave it as it is. Returns the stored result."""
    for _ in range(MAX_CAS_ATTEMPTS):
        current = await read()
        if current is None:
            return None
        updated = change(current.model_copy(deep=True))
        if updated is None:
            return current
        updated.version = current.version + 1
        if await cas(updated, current.version):
            return updated
    raise VersionConflict(f"{what} kept changing underneath; gave up after {MAX_CAS_ATTEMPTS} attempts")


async def update_run(store: Store, run_id: str, change: Callable[[RunState], RunState | None]) -> RunState | None:
    return await _update(lambda: store.get_run(run_id), store.cas_run, change, f"run {run_id}")


async def update_run_log(
    store: Store, pipeline_id: str, date: str, schedule_id: str,
    change: Callable[[RunLogEntry], RunLogEntry | None],
) -> RunLogEntry | None:
    return await _update(lambda: store.get_run_log(pipeline_id, date, schedule_id), store.cas_run_log, change,
                         f"run log {pipeline_id}/{date}/{schedule_id}")


async def update_rerun(store: Store, rerun_id: str,
                       change: Callable[[RerunRecord], RerunRecord | None]) -> RerunRecord | None:
    return await _update(lambda: store.get_rerun(rerun_id), store.cas_rerun, change, f"rerun {rerun_id}")
