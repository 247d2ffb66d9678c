"""The WAL-index header as the SQLite store reads it (:mod:`interlock_plugins.stores.sqlite.wal_index`):
against real SQLite files, a commit by any connection changes it and nothing else does; a header
that says nothing (its two copies differ, not initialised, another format) is None."""

from __future__ import annotations

import sqlite3
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from interlock_plugins.stores.sqlite.wal_index import HEADER_SIZE, WAL_INDEX_VERSION, WalIndex


@pytest.fixture
def wal_file(tmp_path: Path) -> Iterator[tuple[str, sqlite3.Connection]]:
    path = str(tmp_path / "wal.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (v TEXT)")
    try:
        yield path, conn
    finally:
        conn.close()


def _opened(path: str) -> WalIndex:
    index = WalIndex.open(path)
    assert index is not None
    return index


@pytest.fixture
def index(wal_file: tuple[str, sqlite3.Connection]) -> Iterator[WalIndex]:
    opened = _opened(wal_file[0])
    try:
        yield opened
    finally:
        opened.close()


def test_a_commit_by_another_connection_changes_the_stamp_and_a_read_does_not(
        wal_file: tuple[str, sqlite3.Connection], index: WalIndex) -> None:
    path, conn = wal_file
    before = index.stamp()
    assert before is not None
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert index.stamp() == before
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("INSERT INTO t VALUES ('a')")
    other.close()
    after = index.stamp()
    assert after is not None and after != before


async def test_a_commit_by_another_process_changes_the_stamp(wal_file: tuple[str, sqlite3.Connection],
                                                            index: WalIndex) -> None:
    before = index.stamp()
    await anyio.run_process([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                             "c.execute(\"INSERT INTO t VALUES ('other')\"); c.commit()", wal_file[0]])
    assert index.stamp() not in (None, before)


def test_a_rolled_back_write_leaves_the_stamp(wal_file: tuple[str, sqlite3.Connection], index: WalIndex) -> None:
    conn = wal_file[1]
    before = index.stamp()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t VALUES ('never')")
    conn.execute("ROLLBACK")
    assert index.stamp() == before


def test_every_commit_of_many_is_seen(wal_file: tuple[str, sqlite3.Connection], index: WalIndex) -> None:
    """Commits past a checkpoint that starts the WAL again included (a new generation of frames)."""
    conn = wal_file[1]
    seen = {index.stamp()}
    for i in range(200):
        conn.execute("INSERT INTO t VALUES (?)", (str(i),))
        if i % 50 == 49:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stamp = index.stamp()
        assert stamp is not None and stamp not in seen
        seen.add(stamp)


def _header(*, version: int = WAL_INDEX_VERSION, initialised: int = 1, change: int = 7) -> bytes:
    header = bytearray(HEADER_SIZE)
    struct.pack_into("=III", header, 0, version, 0, change)
    header[12] = initialised
    return bytes(header)


@pytest.mark.parametrize(("first", "second", "says"), [
    (_header(), _header(), True),
    (_header(change=8), _header(change=7), False),  # a commit being published: the copies differ
    (_header(initialised=0), _header(initialised=0), False),
    (_header(version=3007001), _header(version=3007001), False),
], ids=["whole", "copies-differ", "not-initialised", "other-format"])
def test_a_header_that_says_nothing_is_none(tmp_path: Path, first: bytes, second: bytes, says: bool) -> None:
    (tmp_path / "x.db-shm").write_bytes(first + second + bytes(100))
    index = _opened(str(tmp_path / "x.db"))
    try:
        assert (index.stamp() == first) if says else index.stamp() is None
    finally:
        index.close()


def test_no_file_or_a_short_one_is_no_index(tmp_path: Path) -> None:
    assert WalIndex.open(str(tmp_path / "missing.db")) is None
    (tmp_path / "short.db-shm").write_bytes(bytes(HEADER_SIZE))
    assert WalIndex.open(str(tmp_path / "short.db")) is None
