"""The SQLite database's fast path for writes that need no sync: on the event loop when SQLite's
write lock is free at once, in the worker thread otherwise (a lock held by another connection or
process, a durable write, every ``THREAD_WRITE_EVERY``-th write so the WAL gets checkpointed).
Against real SQLite files."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from interlock_core.errors import StoreUnavailable
from interlock_plugins.stores.sqlite import database
from interlock_plugins.stores.sqlite.database import SQLiteDatabase
from tests.helpers.sqlite_database import opened_database


def _schema(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    async with opened_database(tmp_path / "loop.db", _schema) as opened:
        yield opened


def _insert(value: str) -> Callable[[sqlite3.Connection], str]:
    """A write of one row answering the name of the thread it ran in."""
    def body(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
        return threading.current_thread().name

    return body


def _size(path: str) -> int:
    return os.path.getsize(path)


async def _count(db: SQLiteDatabase) -> int:
    return int(await db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM t").fetchone()[0]))


async def test_a_write_without_sync_runs_on_the_loop_and_a_durable_one_in_the_thread(db: SQLiteDatabase) -> None:
    main = threading.current_thread().name
    tries = db._loop_writes
    assert await db.write(_insert("fast"), durable=False) == main
    assert await db.write(_insert("durable"), durable=True) != main
    assert db._loop_writes == tries + 1  # the durable write never tried the loop
    assert await _count(db) == 2


async def test_a_held_write_lock_sends_the_write_to_the_thread_which_waits_for_it(db: SQLiteDatabase) -> None:
    other = sqlite3.connect(db.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's writer, say
    main = threading.current_thread().name
    answers: list[str] = []

    async def write() -> None:
        answers.append(await db.write(_insert("waited"), durable=False))

    async with anyio.create_task_group() as tg:
        tg.start_soon(write)
        await anyio.sleep(0.2)  # the write is waiting in the thread, the loop is free to run this
        assert answers == []
        other.execute("COMMIT")
    other.close()
    assert answers and answers[0] != main
    assert await _count(db) == 1


async def test_a_failing_body_is_rolled_back_on_the_loop_too(db: SQLiteDatabase) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES ('half')")
        raise ValueError("no")

    with pytest.raises(ValueError):
        await db.write(broken, durable=False)

    def bad_sql(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO missing_table VALUES (1)")

    with pytest.raises(StoreUnavailable):
        await db.write(bad_sql, durable=False)
    assert await _count(db) == 0
    assert await db.write(_insert("after"), durable=False) == threading.current_thread().name


async def test_a_run_of_fast_writes_does_not_grow_the_wal_without_bound(db: SQLiteDatabase) -> None:
    row = "x" * 3000  # about a page per write
    for _ in range(3000):
        await db.write(_insert(row), durable=False)
    assert await _count(db) == 3000
    wal = db.path + "-wal"
    # without checkpoints the WAL would hold every page written (> 12 MB); the thread's writes
    # checkpoint it, so it stays near SQLite's automatic checkpoint size (1000 pages, ~4 MB)
    assert _size(wal) < 8 * 1024 * 1024
    assert database.THREAD_WRITE_EVERY > 1
