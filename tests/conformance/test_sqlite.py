"""The SQLite store: the conformance suite on a temp file, with a fake clock for TTLs."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from pydantic import ValidationError as PydanticError

from interlock_core.clock import FakeClock
from interlock_core.errors import ConfigError, StoreUnavailable, ValidationError
from interlock_core.launch_keys import is_store_identity
from interlock_core.model import RunStatus
from interlock_core.plugins import PluginContext
from interlock_plugins.stores import interlock_register_stores
from interlock_plugins.stores.sqlite import SQLiteConfig, SQLiteStore
from interlock_plugins.stores.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

from .records import Advance, OpenStore, event, marker, pipeline, rerun, run, run_log, trait
from .suite import StoreConformance


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SQLiteStore]:
    sqlite_store = SQLiteStore(tmp_path / "interlock.db", clock=clock)
    await sqlite_store.start()
    try:
        yield sqlite_store
    finally:
        await sqlite_store.close()


@pytest.fixture
async def open_store(tmp_path: Path, clock: FakeClock, store: SQLiteStore) -> AsyncIterator[OpenStore]:
    opened: list[SQLiteStore] = []

    async def open_store(fresh: bool = False) -> SQLiteStore:
        path = tmp_path / f"fresh-{len(opened)}.db" if fresh else Path(store.path)
        other = SQLiteStore(path, clock=clock)
        opened.append(other)
        await other.start()
        return other

    try:
        yield open_store
    finally:
        for other in opened:
            await other.close()


@pytest.fixture
def advance(clock: FakeClock) -> Advance:
    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    return advance


class TestSQLiteStore(StoreConformance):
    """Every conformance case, against a real SQLite file."""


# ----------------------------------------------------------------------- beyond the common suite


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_config_model_and_create(tmp_path: Path, clock: FakeClock) -> None:
    default = SQLiteConfig()
    assert (default.path, default.busy_timeout, default.retention) == (
        "./interlock.db",
        timedelta(seconds=10),
        timedelta(days=7),
    )
    config = SQLiteConfig.model_validate({"path": "data/state.db", "busyTimeout": "2s", "retention": "1d"})
    store = SQLiteStore.create(config, PluginContext(project_dir=tmp_path, clock=clock))
    assert store.path == str(tmp_path / "data" / "state.db")
    await store.start()
    try:
        assert (tmp_path / "data" / "state.db").is_file()
        assert await store.ping() is True
    finally:
        await store.close()
    absolute = SQLiteStore.create(
        {"path": str(tmp_path / "abs.db")}, PluginContext(project_dir=Path("/nowhere"))
    )
    assert absolute.path == str(tmp_path / "abs.db")
    with pytest.raises(PydanticError):
        SQLiteConfig.model_validate({"pathh": "x.db"})
    with pytest.raises(PydanticError):
        SQLiteConfig.model_validate({"busyTimeout": "-1s"})
    with pytest.raises(ConfigError, match="retention"):
        SQLiteStore.create({"retention": "soon"}, PluginContext(project_dir=tmp_path))


def test_registered_as_the_sqlite_store() -> None:
    assert SQLiteStore in interlock_register_stores()
    assert SQLiteStore.name == "sqlite" and SQLiteStore.config_model is SQLiteConfig


async def test_schema_is_versioned_and_in_wal_mode(store: SQLiteStore) -> None:
    with closing(_raw(Path(store.path))) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_version_1_database_is_migrated_gets_an_identity_and_the_wake_up_table(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with closing(_raw(path)) as conn:  # a database as the first schema version left it
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute("INSERT INTO pipelines (name, data) VALUES (?, ?)",
                     ("ct-old", pipeline("ct-old").model_dump_json(by_alias=True, exclude_none=True)))
        conn.commit()
    store = SQLiteStore(path)
    await store.start()
    try:
        identity = await store.store_identity()
        assert is_store_identity(identity) and await store.store_identity() == identity
        assert [p.name for p in await store.list_pipelines()] == ["ct-old"]
        await store.append_wake_up("origin", '{"pipelineId":"ct-old","reason":"test"}')
    finally:
        await store.close()
    with closing(_raw(path)) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("SELECT value FROM store_meta WHERE key = 'identity'").fetchone() == (identity,)
        assert conn.execute("SELECT origin FROM wake_ups").fetchall() == [("origin",)]


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    first = SQLiteStore(path)
    await first.start()
    await first.close()
    with closing(_raw(path)) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreUnavailable, match="newer"):
        await SQLiteStore(path).start()


async def test_retention_expires_history_but_not_configuration(store: SQLiteStore, clock: FakeClock) -> None:
    await store.put_pipeline(pipeline("ct-keep"))
    await store.put_trait(trait("ct-keep", "freshness"), None)
    await store.put_run(run("ct-done", "ct-keep", RunStatus.COMPLETED))
    await store.put_run(run("ct-open", "ct-keep", RunStatus.RUNNING))
    await store.put_run_log(run_log("ct-keep", "2026-03-01", status=RunStatus.COMPLETED))
    await store.put_rerun(rerun("ct-rr", "ct-keep", RunStatus.COMPLETED))
    await store.append_event(event("ct-keep"))
    await store.write_cascade_marker(marker("ct-keep", "2026-03-01", "up"))
    clock.advance(timedelta(days=7, seconds=1))
    assert await store.get_run("ct-done") is None
    assert await store.get_run_log("ct-keep", "2026-03-01", "daily") is None
    assert await store.get_rerun("ct-rr") is None
    assert await store.list_events("ct-keep") == []
    assert await store.list_cascade_markers("ct-keep", "2026-03-01", "daily") == []
    assert [r.run_id for r in await store.list_runs("ct-keep")] == ["ct-open"]
    assert await store.create_run(run("ct-done", "ct-keep")) is True
    clock.advance(timedelta(days=1))
    assert await store.get_run("ct-open") is None
    assert await store.get_pipeline("ct-keep") is not None
    assert await store.get_trait("ct-keep", "freshness") is not None
    with closing(_raw(Path(store.path))) as conn:  # the write above purged the expired rows
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert conn.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall() == [
            ("ct-done",),
            ("ct-open",),
        ]


async def test_zero_retention_keeps_history(tmp_path: Path, clock: FakeClock) -> None:
    store = SQLiteStore(tmp_path / "keep.db", clock=clock, retention=0)
    await store.start()
    try:
        await store.put_run(run("ct-done", status=RunStatus.COMPLETED))
        await store.append_event(event("ct-pipe"))
        clock.advance(timedelta(days=365))
        assert await store.get_run("ct-done") is not None
        assert len(await store.list_events("ct-pipe")) == 1
    finally:
        await store.close()


async def test_event_cursors_survive_purged_events(store: SQLiteStore, clock: FakeClock) -> None:
    last = await store.append_event(event("ct-ev", message="old"))
    clock.advance(timedelta(days=8))
    await store.put_pipeline(pipeline("ct-purge"))  # a write: purges the expired event
    await store.append_event(event("ct-ev", message="new"))
    assert [r.event.message for r in await store.read_events_since("ct-ev", last)] == ["new"]


async def test_bad_event_cursor_is_a_validation_error(store: SQLiteStore) -> None:
    for cursor in ("abc", "-5", "1-0"):
        with pytest.raises(ValidationError, match="cursor"):
            await store.read_events_since("ct-ev", cursor)


async def test_unreadable_rows_are_skipped(store: SQLiteStore) -> None:
    await store.put_run(run("ct-bad"))
    await store.put_run(run("ct-good", created=1))
    with closing(_raw(Path(store.path))) as conn:
        conn.execute("UPDATE runs SET data = '{not json' WHERE run_id = 'ct-bad'")
    assert await store.get_run("ct-bad") is None
    assert [r.run_id for r in await store.list_runs("ct-pipe")] == ["ct-good"]


async def test_not_started_or_closed_is_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "closed.db")
    assert await store.ping() is False
    with pytest.raises(StoreUnavailable, match="not started"):
        await store.get_run("ct-x")
    await store.start()
    await store.close()
    assert await store.ping() is False
    with pytest.raises(StoreUnavailable):
        await store.put_pipeline(pipeline("ct-x"))


async def test_unusable_files_are_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(StoreUnavailable, match="a-directory"):
        await SQLiteStore(tmp_path / "a-directory").start()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database file" * 100)
    with pytest.raises(StoreUnavailable, match=r"garbage\.db"):
        await SQLiteStore(garbage).start()


async def test_write_lock_held_too_long_is_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "locked.db", busy_timeout=0.1)
    await store.start()
    try:
        with closing(_raw(Path(store.path))) as other:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreUnavailable, match="locked"):
                await store.put_pipeline(pipeline("ct-locked"))
            assert await store.get_pipeline("ct-locked") is None  # WAL: reads go on
            other.execute("ROLLBACK")
        await store.put_pipeline(pipeline("ct-locked"))
        assert await store.get_pipeline("ct-locked") is not None
    finally:
        await store.close()


async def test_in_memory_database(clock: FakeClock) -> None:
    store = SQLiteStore(":memory:", clock=clock)
    await store.start()
    try:
        assert await store.create_run(run("ct-mem")) is True
        assert await store.create_run(run("ct-mem")) is False
    finally:
        await store.close()


async def test_two_stores_on_one_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "shared.db"
    a, b = SQLiteStore(path, clock=clock), SQLiteStore(path, clock=clock)
    await a.start()
    await b.start()
    try:
        winners: list[str] = []

        async def claim(store: SQLiteStore, name: str) -> None:
            if await store.cas_run_log(run_log("ct-shared", "2026-03-02", run_id=name), None):
                winners.append(name)

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(claim, a, f"a-{i}")
                tg.start_soon(claim, b, f"b-{i}")
        assert len(winners) == 1
        got = await b.get_run_log("ct-shared", "2026-03-02", "daily")
        assert got is not None and got.run_id == winners[0]

        assert await a.acquire_lease("ct-shared-lease", "owner-a", 30) is True
        assert await b.acquire_lease("ct-shared-lease", "owner-b", 30) is False
        assert await b.lease_owner("ct-shared-lease") == "owner-a"

        cursors = [
            await store.append_event(event("ct-shared", message=f"m{i}")) for i, store in enumerate([a, b, a])
        ]
        records = await b.read_events_since("ct-shared", None)
        assert [r.stream_id for r in records] == cursors
        assert [r.event.message for r in await a.read_events_since("ct-shared", cursors[0])] == ["m1", "m2"]
    finally:
        await a.close()
        await b.close()
