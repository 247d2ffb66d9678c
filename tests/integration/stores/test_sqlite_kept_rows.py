"""The SQLite database's kept rows (``read_decoded``): a statement asked again with nothing committed
since and no row it answered expired is answered without running it; a commit by the store, by
another connection or by another process, an expiry, or a clock gone back runs it again. Against
real SQLite files, with a fake clock for expiry."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from interlock_core.clock import FakeClock
from interlock_core.model import TraitEvaluation
from interlock_plugins.stores.sqlite import SQLiteStore
from interlock_plugins.stores.sqlite.database import SQLiteDatabase
from tests.helpers.sqlite_database import opened_database

SQL = "SELECT v, expires_at FROM t WHERE (expires_at IS NULL OR expires_at > ?) ORDER BY v"


def _schema(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (v TEXT PRIMARY KEY, expires_at REAL)")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    async with opened_database(tmp_path / "kept.db", _schema) as opened:
        yield opened


class Traced:
    """The statements the loop's reader runs (``PRAGMA data_version`` left out)."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.statements: list[str] = []
        assert db._reader is not None
        db._reader.set_trace_callback(self._trace)

    def _trace(self, statement: str) -> None:
        if not statement.startswith("PRAGMA"):
            self.statements.append(statement)

    def runs(self) -> int:
        ran, self.statements = len(self.statements), []
        return ran


async def _rows(db: SQLiteDatabase, now: float) -> list[str]:
    return [v for v, _ in await db.read_decoded(("t",), SQL, (now,), now=now, expiry=1, decode=list)]


async def _insert(db: SQLiteDatabase, value: str, expires_at: float | None = None) -> None:
    await db.write(lambda conn: conn.execute("INSERT INTO t VALUES (?, ?)", (value, expires_at)), durable=False)


async def test_the_same_statement_with_nothing_committed_is_answered_without_running_it(db: SQLiteDatabase) -> None:
    await _insert(db, "a")
    traced = Traced(db)
    assert await _rows(db, 100.0) == ["a"]
    assert traced.runs() == 1
    assert await _rows(db, 101.0) == ["a"]
    assert await _rows(db, 5000.0) == ["a"]
    assert traced.runs() == 0


async def test_a_commit_on_either_write_connection_runs_it_again(db: SQLiteDatabase) -> None:
    traced = Traced(db)
    assert await _rows(db, 100.0) == []
    await _insert(db, "loop")  # the loop's write connection
    assert await _rows(db, 100.0) == ["loop"]
    await db.write(lambda conn: conn.execute("INSERT INTO t VALUES ('thread', NULL)"), durable=True)
    assert await _rows(db, 100.0) == ["loop", "thread"]
    assert traced.runs() == 3


async def test_a_commit_by_another_process_runs_it_again(db: SQLiteDatabase) -> None:
    assert await _rows(db, 100.0) == []
    await anyio.run_process([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                             "c.execute(\"INSERT INTO t VALUES ('other', NULL)\"); c.commit()", db.path])
    assert await _rows(db, 100.0) == ["other"]


async def test_a_rolled_back_write_keeps_the_rows(db: SQLiteDatabase) -> None:
    await _insert(db, "a")
    traced = Traced(db)
    assert await _rows(db, 100.0) == ["a"]
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES ('never', NULL)")
    other.execute("ROLLBACK")
    other.close()
    assert await _rows(db, 100.0) == ["a"]
    assert traced.runs() == 1


async def test_a_row_that_expires_runs_it_again_and_drops_out(db: SQLiteDatabase) -> None:
    await _insert(db, "lasting")
    await _insert(db, "brief", expires_at=200.0)
    traced = Traced(db)
    assert await _rows(db, 100.0) == ["brief", "lasting"]
    assert await _rows(db, 199.9) == ["brief", "lasting"]
    assert traced.runs() == 1
    assert await _rows(db, 200.0) == ["lasting"]
    assert traced.runs() == 1


async def test_a_clock_gone_back_runs_it_again_and_an_expired_row_is_live_again(db: SQLiteDatabase) -> None:
    await _insert(db, "brief", expires_at=200.0)
    assert await _rows(db, 300.0) == []
    assert await _rows(db, 150.0) == ["brief"]


async def test_a_reopened_database_forgets_the_rows_of_its_old_connection(db: SQLiteDatabase) -> None:
    """A new reader counts data versions anew: a kept version could come round again."""
    await _insert(db, "a")
    assert await _rows(db, 100.0) == ["a"]
    await db.close()
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("INSERT INTO t VALUES ('while closed', NULL)")
    other.close()
    await db.open(_schema)
    assert await _rows(db, 100.0) == ["a", "while closed"]


async def test_other_arguments_are_another_statement(db: SQLiteDatabase) -> None:
    await _insert(db, "a")
    await _insert(db, "b")
    sql = "SELECT v, expires_at FROM t WHERE v = ? AND (expires_at IS NULL OR expires_at > ?)"

    async def one(value: str) -> list[str]:
        return [v for v, _ in await db.read_decoded((sql, value), sql, (value, 100.0), now=100.0, expiry=1,
                                                     decode=list)]

    assert (await one("a"), await one("b"), await one("a")) == (["a"], ["b"], ["a"])


async def test_rows_answered_again_are_not_decoded_again(db: SQLiteDatabase) -> None:
    await _insert(db, "a")
    decoded: list[list[str]] = []

    def decode(rows: list[tuple[str, float | None]]) -> tuple[str, ...]:
        decoded.append([v for v, _ in rows])
        return tuple(v for v, _ in rows)

    async def read(now: float) -> tuple[str, ...]:
        return await db.read_decoded(("t",), SQL, (now,), now=now, expiry=1, decode=decode)

    assert (await read(100.0), await read(101.0)) == (("a",), ("a",))
    assert decoded == [["a"]]
    await _insert(db, "b")
    assert await read(101.0) == ("a", "b")
    assert decoded == [["a"], ["a", "b"]]


async def test_rows_a_statement_run_again_answers_unchanged_are_not_decoded_again(db: SQLiteDatabase) -> None:
    """A commit elsewhere in the file runs the statement again; rows it answers as they were keep
    what was made of them (the same value), rows that changed are decoded."""
    await db.write(lambda conn: conn.execute("CREATE TABLE other (x TEXT)"), durable=False)
    await _insert(db, "a")
    decoded: list[list[str]] = []

    def decode(rows: list[tuple[str, float | None]]) -> list[str]:
        decoded.append([v for v, _ in rows])
        return [v for v, _ in rows]

    async def read(now: float) -> list[str]:
        return await db.read_decoded(("t",), SQL, (now,), now=now, expiry=1, decode=decode)

    traced = Traced(db)
    first = await read(100.0)
    await db.write(lambda conn: conn.execute("INSERT INTO other VALUES ('x')"), durable=False)
    again = await read(101.0)
    assert traced.runs() == 2 and again is first and decoded == [["a"]]
    await _insert(db, "b")
    assert await read(102.0) == ["a", "b"] and decoded == [["a"], ["a", "b"]]


async def test_an_in_memory_database_reads_in_the_thread(tmp_path: Path) -> None:
    memory = SQLiteDatabase(":memory:", busy_timeout=1.0)
    await memory.open(_schema)
    try:
        await _insert(memory, "a")
        assert await _rows(memory, 100.0) == ["a"]
        assert memory._kept_rows == {}
    finally:
        await memory.close()


# ------------------------------------------------------------------------ through the store


async def test_a_readiness_read_sees_a_push_an_expiry_and_another_process(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "interlock.db", clock=clock)
    await store.start()
    try:
        def result(trait: str) -> TraitEvaluation:
            return TraitEvaluation(pipeline_id="orders", trait_type=trait, status="PASS", evaluated_at=clock.now())

        async def traits() -> list[str]:
            return sorted((await store.read_pipeline("orders", readiness=False)).traits)

        await store.put_trait(result("freshness"), ttl=60)
        assert await traits() == ["freshness"]
        assert await traits() == ["freshness"]
        await store.put_trait(result("volume"), ttl=None)
        assert await traits() == ["freshness", "volume"]
        clock.advance(timedelta(seconds=61))
        assert await traits() == ["volume"]
        other = sqlite3.connect(tmp_path / "interlock.db")
        other.execute("DELETE FROM traits WHERE trait_type = 'volume'")
        other.commit()
        other.close()
        assert await traits() == []
    finally:
        await store.close()


async def test_a_kept_read_hands_each_caller_records_of_its_own(tmp_path: Path) -> None:
    """Records decoded once and kept with their rows: what one caller changes in its records never
    reaches the next caller's."""
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "interlock.db", clock=clock)
    await store.start()
    try:
        await store.put_trait(TraitEvaluation(pipeline_id="orders", trait_type="freshness", status="PASS",
                                              evaluated_at=clock.now()), ttl=None)
        first = await store.read_pipeline("orders", readiness=False)
        mine = first.traits["freshness"]
        mine.status = "FAIL"  # type: ignore[assignment]
        first.traits.pop("freshness")  # type: ignore[attr-defined]
        second = await store.read_pipeline("orders", readiness=False)
        assert second.traits["freshness"].status == "PASS"
        assert second.traits["freshness"] is not mine
    finally:
        await store.close()


async def test_a_shared_read_answers_the_kept_records_until_their_rows_change(tmp_path: Path) -> None:
    """``read_pipeline(shared=True)``: the kept records themselves, the same objects while their
    rows stand (another pipeline's commit included), new ones once a row of theirs changes; a plain
    read still answers copies of the caller's own."""
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "interlock.db", clock=clock)
    await store.start()
    try:
        def result(pipeline: str, status: str = "PASS") -> TraitEvaluation:
            return TraitEvaluation(pipeline_id=pipeline, trait_type="freshness", status=status,
                                   evaluated_at=clock.now())

        await store.put_trait(result("orders"), ttl=None)
        first = await store.read_pipeline("orders", readiness=False, shared=True)
        again = await store.read_pipeline("orders", readiness=False, shared=True)
        assert again is first
        own = await store.read_pipeline("orders", readiness=False)
        assert own is not first and own.traits["freshness"] is not first.traits["freshness"]
        assert own.traits == first.traits
        await store.put_trait(result("payments"), ttl=None)  # another pipeline's row: these stand
        assert await store.read_pipeline("orders", readiness=False, shared=True) is first
        await store.put_trait(result("orders", "FAIL"), ttl=None)
        changed = await store.read_pipeline("orders", readiness=False, shared=True)
        assert changed is not first and changed.traits["freshness"].status == "FAIL"
        assert first.traits["freshness"].status == "PASS"  # what was answered before is never changed
    finally:
        await store.close()


# ------------------------------------------------------------------------ the WAL-index header


class AllTraced(Traced):
    """Every statement the loop's reader runs, ``PRAGMA data_version`` included."""

    def _trace(self, statement: str) -> None:
        self.statements.append(statement)


async def test_with_nothing_committed_not_even_a_pragma_runs(db: SQLiteDatabase) -> None:
    await _insert(db, "a")
    assert db._wal_index is not None
    traced = AllTraced(db)
    assert await _rows(db, 100.0) == ["a"]
    assert traced.runs() == 2  # PRAGMA data_version, then the statement
    assert await _rows(db, 101.0) == ["a"]
    assert await _rows(db, 102.0) == ["a"]
    assert traced.runs() == 0
    await _insert(db, "b")
    assert await _rows(db, 103.0) == ["a", "b"]
    assert traced.runs() == 2


class Silent:
    """A WAL-index whose header never says anything (copies that differ, another format)."""

    def stamp(self) -> None:
        return None

    def close(self) -> None:
        pass


async def test_a_header_that_says_nothing_falls_back_to_the_data_version(db: SQLiteDatabase) -> None:
    db._wal_index = Silent()  # type: ignore[assignment]
    await _insert(db, "a")
    traced = AllTraced(db)
    assert await _rows(db, 100.0) == ["a"]
    assert await _rows(db, 101.0) == ["a"]
    assert traced.statements.count("PRAGMA data_version") == 2
    assert traced.runs() == 3  # the statement once
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("INSERT INTO t VALUES ('other', NULL)")
    other.close()
    assert await _rows(db, 101.0) == ["a", "other"]


async def test_rows_kept_before_the_header_could_be_read_are_kept_once_it_can(db: SQLiteDatabase) -> None:
    """The data version finds nothing committed: the header read just before it is kept with the rows."""
    index = db._wal_index
    db._wal_index = Silent()  # type: ignore[assignment]
    await _insert(db, "a")
    assert await _rows(db, 100.0) == ["a"]
    db._wal_index = index
    traced = AllTraced(db)
    assert await _rows(db, 101.0) == ["a"]
    assert traced.runs() == 1  # PRAGMA data_version: unchanged
    assert await _rows(db, 102.0) == ["a"]
    assert traced.runs() == 0


async def test_a_closed_database_lets_its_mapping_go(db: SQLiteDatabase) -> None:
    assert db._wal_index is not None
    await db.close()
    assert db._wal_index is None
    await db.open(_schema)
    assert db._wal_index is not None
