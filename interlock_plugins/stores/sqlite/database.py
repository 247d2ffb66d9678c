"""The connection under the SQLite store.

One ``sqlite3`` connection per store for writes, used from a worker thread (one at a time) so the
event loop never blocks on disk or on another process's lock. Reads take a fast path: a second,
query-only connection used directly on the event loop (WAL readers never wait for writers, so a
read is a few dozen microseconds); when that connection reports busy or locked — WAL recovery or
a checkpoint by another process — the read falls back to the worker thread and its busy timeout.
A statement asked again and again (a readiness GET's read) is answered with the rows of its last
run while nothing was committed to the file since and none of them expired, and so is what the
caller decoded them into (:meth:`SQLiteDatabase.read_decoded`): a look at the file's WAL-index header
(:mod:`.wal_index`), or when it says nothing one ``PRAGMA data_version``, instead of the statement
and the decoding.
Writes that need no sync to disk (trait results, events, the readiness cache, an evaluation's
unit of work without a claim or an alert) take a fast path too: a second write connection used on
the event loop with no busy wait and no automatic WAL checkpoint, so it never waits for a lock and
never syncs; when SQLite's write lock is held (by the worker thread, or by another process) the
write goes to the worker thread as every durable one does, and so does every
:data:`THREAD_WRITE_EVERY`-th of them, whose commit checkpoints the WAL when it has grown.
Every write is one ``BEGIN IMMEDIATE`` transaction: it takes SQLite's write lock before reading,
so a read-modify-write (CAS, claim, lease) is atomic across coroutines, threads and processes
sharing the file. A lock still held by someone else after the busy timeout, a missing or corrupt
file, a full disk: all become :class:`~interlock_core.errors.StoreUnavailable`, naming the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from interlock_core.errors import StoreMissing, StoreUnavailable

from .wal_index import WalIndex

T = TypeVar("T")

MEMORY = ":memory:"

KEPT_STATEMENTS = 1024
"""The statements :meth:`SQLiteDatabase.read_decoded` keeps the rows of (then it starts again)."""

THREAD_WRITE_EVERY = 64
"""Every this-many-th write that could take the event loop's fast path goes to the worker thread
instead: its connection checkpoints the WAL automatically (the loop's never does, to stay off the
disk), so a run of fast writes cannot grow the WAL without bound."""


@dataclass(frozen=True, slots=True)
class _KeptRows:
    version: int
    """The reader's ``PRAGMA data_version`` before the statement ran."""
    stamp: bytes | None
    """The WAL-index header before the statement ran, or before a ``PRAGMA data_version`` found
    nothing committed since (None: not known)."""
    read_at: float
    until: float
    """The earliest expiry of a row answered (infinity: none expires)."""
    rows: list[Any]
    decoded: Any
    """What the caller's ``decode`` made of ``rows``."""


def _busy(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another event loop library (anyio's trio backend)
        return False
    return True


class SQLiteDatabase:
    def __init__(self, path: str, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._wal_index: WalIndex | None = None
        self._kept_rows: dict[Hashable, _KeptRows] = {}
        self._loop_writer: sqlite3.Connection | None = None
        self._loop_writer_lock = threading.Lock()
        self._loop_writes = 0
        self._lock = threading.Lock()
        self._durable = True
        self._limiter: anyio.CapacityLimiter | None = None
        self._on_asyncio = False
        """Opened under asyncio: a read's checkpoint is asyncio's ``sleep(0)`` (what anyio's is
        there), without looking the event loop's library up on every read."""

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def open(self, init: Callable[[sqlite3.Connection], None], *, create: bool = True) -> None:
        """Open the file (creating its directory), switch to WAL and run ``init`` in a transaction.
        Without ``create``, a file that does not exist is :class:`StoreMissing` (never created)."""
        if self._conn is not None:
            return
        self._limiter = anyio.CapacityLimiter(1)
        self._on_asyncio = _on_asyncio()
        await anyio.to_thread.run_sync(self._open, init, create, limiter=self._limiter)

    async def close(self) -> None:
        if self._conn is None:
            return
        await anyio.to_thread.run_sync(self._close, limiter=self._limiter)

    async def read(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``body`` outside an explicit transaction (each statement sees committed data)."""
        served, result = self._read_on_loop(body)
        if served:
            await self._checkpoint()
            return result  # type: ignore[return-value]
        return await anyio.to_thread.run_sync(self._call, body, False, limiter=self._limiter)

    async def read_decoded(self, key: Hashable, sql: str, args: Sequence[Any], *, now: float, expiry: int,
                           decode: Callable[[list[Any]], T]) -> T:
        """What ``decode`` makes of the rows of one statement (``args`` holding ``now`` where its
        rows' expiry is compared).

        On the event loop's reader, the rows of the last run of the same ``key`` (the statement and
        its arguments but ``now``) are answered again without running it while all of these hold:
        nothing was committed to the file since, by this process or another (the file's WAL-index
        header unchanged since it was read before the statement ran, :mod:`.wal_index`; when the
        header says nothing, the reader's ``PRAGMA data_version``); ``now`` is not before that run (an
        expired row could be live again); and no row it answered has expired (column ``expiry`` of
        each row: its expiry time, None for none). Rows left out as expired stay out as time goes
        on, so those rows are exactly what running the statement again would answer. Rows answered
        so return at once, as a value kept in memory would (no yield to the event loop: a readiness
        GET answered from them runs in one step); a statement run yields as :meth:`read` does.

        What ``decode`` made of the rows is kept with them and answered with them, so rows answered
        again are not decoded again — nor rows the statement, run again, answers equal to the kept
        ones: the value is shared by every caller answered from those rows, which must treat it as
        read-only (and hand out copies of their own of what they change)."""

        def run(conn: sqlite3.Connection) -> tuple[bool, T]:
            stamp = self._wal_index.stamp() if self._wal_index is not None else None
            kept = self._kept_rows.get(key)
            if kept is not None and kept.read_at <= now < kept.until:
                if stamp is not None and stamp == kept.stamp:  # nothing committed since: no statement at all
                    return True, kept.decoded
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if kept.version == version:
                    if stamp is not None:  # the header read before the PRAGMA: nothing committed since
                        self._kept_rows[key] = dataclasses.replace(kept, stamp=stamp)
                    return True, kept.decoded
            else:
                version = conn.execute("PRAGMA data_version").fetchone()[0]
            rows = conn.execute(sql, args).fetchall()
            until = min((row[expiry] for row in rows if row[expiry] is not None), default=math.inf)
            # a commit elsewhere in the file (another pipeline's, a lease) left these rows as they were:
            # what was made of them stands (the same value, so its readers' own caches of it stand too)
            decoded = kept.decoded if kept is not None and kept.rows == rows else decode(rows)
            if len(self._kept_rows) >= KEPT_STATEMENTS:
                self._kept_rows.clear()
            self._kept_rows[key] = _KeptRows(version, stamp, now, until, rows, decoded)
            return False, decoded

        served, result = self._read_on_loop(run)
        if served and result is not None:
            kept, decoded = result
            if not kept:
                await self._checkpoint()
            return decoded
        return decode(await self.read(lambda conn: conn.execute(sql, args).fetchall()))

    def _read_on_loop(self, body: Callable[[sqlite3.Connection], T]) -> tuple[bool, T | None]:
        """``body`` on the loop's query-only connection: ``(True, result)``, or ``(False, None)`` when
        that connection is missing, in use or busy (the caller reads in the worker thread)."""
        reader = self._reader
        if reader is None or not self._reader_lock.acquire(blocking=False):
            return False, None
        try:
            return True, body(reader)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise self._unavailable(exc) from exc
            return False, None
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        finally:
            self._reader_lock.release()  # before yielding: other reads may use the fast path

    def _checkpoint(self) -> Awaitable[None]:
        """The yield after a served read or write on the loop."""
        return asyncio.sleep(0) if self._on_asyncio else anyio.lowlevel.checkpoint()

    async def write(self, body: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run ``body`` in one ``BEGIN IMMEDIATE`` transaction; rolled back if it raises.

        ``durable`` writes (claims, runs, leases) are synced to disk before they return
        (``synchronous=FULL``); others (trait results, events, the readiness cache) survive a crash of
        this process but may be lost with the machine's power (``synchronous=NORMAL`` in WAL mode), and
        are written on the event loop when SQLite's write lock is free at once."""
        if not durable and self._loop_writer is not None:
            self._loop_writes += 1
            if self._loop_writes % THREAD_WRITE_EVERY and self._loop_writer_lock.acquire(blocking=False):
                try:
                    served, result = self._write_on_loop(body)
                finally:
                    self._loop_writer_lock.release()
                if served:
                    await self._checkpoint()
                    return result  # type: ignore[return-value]
        return await anyio.to_thread.run_sync(self._call, body, True, durable, limiter=self._limiter)

    def _write_on_loop(self, body: Callable[[sqlite3.Connection], T]) -> tuple[bool, T | None]:
        """``body`` in one transaction of the loop's write connection: ``(True, result)``, or
        ``(False, None)`` when SQLite's write lock is not free at once (nothing was written)."""
        conn = self._loop_writer
        if conn is None:
            return False, None
        try:
            return True, self._transaction(conn, body)
        except sqlite3.OperationalError as exc:
            if _busy(exc) and not conn.in_transaction:  # rolled back: the thread writes it, waiting
                return False, None
            raise self._unavailable(exc) from exc
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc

    # ------------------------------------------------------------------------------ in the thread

    def _open(self, init: Callable[[sqlite3.Connection], None], create: bool = True) -> None:
        with self._lock:
            if self._conn is not None:
                return
            existing = not create and self.path != MEMORY
            if existing and not Path(self.path).exists():
                raise self._missing()
            try:
                if self.path != MEMORY and create:
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                # an existing file only: mode=rw never creates one (not even if it vanished just now)
                target = Path(self.path).absolute().as_uri() + "?mode=rw" if existing else self.path
                conn = sqlite3.connect(
                    target, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False, uri=existing
                )
            except (OSError, sqlite3.Error) as exc:
                if existing and not Path(self.path).exists():
                    raise self._missing() from exc
                raise self._unavailable(exc) from exc
            try:
                if self.path != MEMORY:
                    self._use_wal(conn)
                conn.execute("PRAGMA synchronous = FULL")
                self._transaction(conn, init)
            except sqlite3.Error as exc:
                conn.close()
                raise self._unavailable(exc) from exc
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            if self.path != MEMORY:
                with contextlib.suppress(sqlite3.Error):
                    reader = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
                    reader.execute("PRAGMA query_only = ON")
                    with self._reader_lock:  # a new connection counts data versions anew
                        self._kept_rows.clear()
                        self._reader = reader
                        # mapped while this process's connections hold the -shm file (see .wal_index)
                        self._wal_index = WalIndex.open(self.path)
                with contextlib.suppress(sqlite3.Error):  # without it, every write takes the thread
                    writer = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
                    writer.execute("PRAGMA synchronous = NORMAL")
                    writer.execute("PRAGMA wal_autocheckpoint = 0")
                    self._loop_writer = writer

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a fresh file to WAL needs a moment of exclusive access, which the busy handler
        # does not always wait for when several processes open the file at once: retry briefly.
        mode: str | None = None
        for _ in range(max(1, int(self.busy_timeout * 20))):
            try:
                row = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            else:
                mode = str(row[0]).lower() if row else None
                if mode == "wal":
                    return
            time.sleep(0.05)
        raise sqlite3.OperationalError(f"could not switch to WAL journal mode (mode {mode or 'unknown'})")

    def _close(self) -> None:
        with self._reader_lock:  # unmapped before the connections holding the -shm file close
            wal_index, self._wal_index = self._wal_index, None
            if wal_index is not None:
                wal_index.close()
        for lock, name in ((self._reader_lock, "_reader"), (self._loop_writer_lock, "_loop_writer")):
            with lock:
                extra: sqlite3.Connection | None = getattr(self, name)
                setattr(self, name, None)
                if extra is not None:
                    with contextlib.suppress(sqlite3.Error):
                        extra.close()
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def _call(self, body: Callable[[sqlite3.Connection], T], write: bool, durable: bool = True) -> T:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreUnavailable(f"sqlite store {self.path} is not started (or already closed)")
            try:
                if write and durable != self._durable:
                    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                    self._durable = durable
                return self._transaction(conn, body) if write else body(conn)
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc

    @staticmethod
    def _transaction(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        return result

    def _missing(self) -> StoreMissing:
        return StoreMissing(f"no sqlite store at {self.path} yet: nothing has been recorded (reading never "
                            "creates it; `interlock run`, `interlock evaluate` or `interlock serve` do)",
                            store="sqlite", path=self.path)

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        detail = str(exc) or type(exc).__name__
        if "locked" in detail or "busy" in detail:
            detail += f" (still held by another connection after {self.busy_timeout:g}s)"
        return StoreUnavailable(f"sqlite store {self.path} is unavailable: {detail}")
