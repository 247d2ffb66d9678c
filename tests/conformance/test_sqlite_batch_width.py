"""The SQLite store's batch reads past one statement's width (500 pipelines or runs per statement):
each answers as its single-record read does, for every pipeline asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from interlock_core.clock import FakeClock
from interlock_core.model import RunStatus
from interlock_plugins.stores.sqlite import SQLiteStore

from .records import at, rerun, run, run_log, trait

WIDE = 620


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    sqlite_store = SQLiteStore(tmp_path / "interlock.db", clock=FakeClock())
    await sqlite_store.start()
    try:
        yield sqlite_store
    finally:
        await sqlite_store.close()


async def test_batch_reads_answer_past_one_statement(store: SQLiteStore) -> None:
    names = [f"ct-wide-{n:04d}" for n in range(WIDE)]
    for n, name in enumerate(names):
        if n % 2:
            assert await store.cas_run_log(run_log(name, "2026-03-02", run_id=f"{name}-run"), None)
            assert await store.create_run(run(f"{name}-run", name, RunStatus.COMPLETED))
        if n % 3 == 0:
            await store.put_trait(trait(name, "a"), None)
            assert await store.cas_rerun(rerun(f"{name}-r", name).model_copy(update={"requested_at": at(n)}), None)
    cycles = [(name, day, "daily") for name in names for day in ("2026-03-01", "2026-03-02")]
    assert await store.read_cycles(cycles) == {
        (name, "2026-03-02", "daily"): entry for name in names
        if (entry := await store.get_run_log(name, "2026-03-02", "daily")) is not None}
    assert await store.read_runs([f"{name}-run" for name in names]) == {
        run_id: found for name in names if (found := await store.get_run(run_id := f"{name}-run")) is not None}
    assert await store.read_reruns(names) == {name: rs for name in names if (rs := await store.list_reruns(name))}
    assert await store.read_traits(names) == {name: ts for name in names if (ts := await store.list_traits(name))}
    assert len(await store.read_traits(names)) == len(range(0, WIDE, 3))
