"""Read-modify-CAS loops over runs, run logs, reruns and shadow records: the only way the lifecycle
writes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from ..errors import VersionConflict
from ..model import RerunRecord, RunLogEntry, RunState, ShadowCycle
from ..store_roles import RerunStore, RunStore, ShadowStore

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


async def update_run(store: RunStore, run_id: str, change: Callable[[RunState], RunState | None]) -> RunState | None:
    return await _update(lambda: store.get_run(run_id), store.cas_run, change, f"run {run_id}")


async def update_run_log(
    store: RunStore, pipeline_id: str, date: str, schedule_id: str,
    change: Callable[[RunLogEntry], RunLogEntry | None],
) -> RunLogEntry | None:
    return await _update(lambda: store.get_run_log(pipeline_id, date, schedule_id), store.cas_run_log, change,
                         f"run log {pipeline_id}/{date}/{schedule_id}")


async def update_rerun(store: RerunStore, rerun_id: str,
                       change: Callable[[RerunRecord], RerunRecord | None]) -> RerunRecord | None:
    return await _update(lambda: store.get_rerun(rerun_id), store.cas_rerun, change, f"rerun {rerun_id}")


async def update_shadow_cycle(store: ShadowStore, pipeline_id: str, date: str, schedule_id: str, now: datetime,
                              change: Callable[[ShadowCycle], ShadowCycle | None]) -> ShadowCycle | None:
    """As the others, for a dry-run cycle's shadow record, which is created (version 1) when there
    is none yet: ``change`` then gets an empty record. Returns the stored result (None: nothing
    stored and nothing to write)."""
    for _ in range(MAX_CAS_ATTEMPTS):
        current = await store.get_shadow_cycle(pipeline_id, date, schedule_id)
        base = current.model_copy(deep=True) if current is not None else \
            ShadowCycle(pipeline_id=pipeline_id, date=date, schedule_id=schedule_id, updated_at=now, version=0)
        updated = change(base)
        if updated is None:
            return current
        updated.version = current.version + 1 if current is not None else 1
        updated.updated_at = now
        if await store.cas_shadow_cycle(updated, current.version if current is not None else None):
            return updated
    raise VersionConflict(f"shadow record {pipeline_id}/{date}/{schedule_id} kept changing underneath; gave up "
                          f"after {MAX_CAS_ATTEMPTS} attempts")
