"""Wake-ups between the processes sharing one SQLite file.

``interlock rerun``, ``run``, ``complete`` (or a pushed trait, a cascade) in a shell next to a
running ``interlock serve`` wake the affected pipeline's evaluation in ``serve`` within a fraction
of a second, as Redis pub/sub does between replicas. The waking process appends the wake-up to the
store's ``wake_ups`` table; every subscriber watches the file through ``PRAGMA data_version`` — a
counter SQLite bumps when another connection commits, read without touching a table — and reads the
rows it has not seen only when the counter moved. Rows expire after ``WAKE_UP_TTL`` seconds and are
purged with the store's other expired rows.

Wake-ups published in this process reach this notifier's subscribers at once, in memory (as with
:class:`~interlock_core.notify.LocalNotifier`); from the table a subscriber reads only the other
processes' ones. A wake-up is a hint: one missed while the file could not be read is harmless, since
every pipeline is still evaluated at its interval.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from interlock_core.ports import WakeUp

from ._wake_codec import decode_wake_up, encode_wake_up

if TYPE_CHECKING:
    from .sqlite import SQLiteStore

__all__ = ["POLL_INTERVAL", "WAKE_UP_TTL", "SQLiteNotifier"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.2
"""Seconds between two looks at ``PRAGMA data_version`` (a few microseconds each)."""
WAKE_UP_TTL = 60.0
"""Seconds a wake-up row is kept: long enough for any subscriber that is polling to read it."""
BATCH = 500


class SQLiteNotifier:
    """Satisfies :class:`interlock_core.ports.Notifier` over the store's ``wake_ups`` table."""

    def __init__(self, store: SQLiteStore, *, poll_interval: float = POLL_INTERVAL, buffer: int = 1024) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.origin = uuid.uuid4().hex
        self._buffer = buffer
        self._subscribers: set[MemoryObjectSendStream[WakeUp]] = set()
        self._closed = False

    async def publish(self, wake: WakeUp) -> None:
        """To this process's subscribers now, and to the other processes' through the file (raises
        ``StoreUnavailable`` when the file cannot be written)."""
        for stream in list(self._subscribers):
            try:
                stream.send_nowait(wake)
            except anyio.WouldBlock:  # a subscriber that falls behind loses wake-ups
                continue
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._subscribers.discard(stream)
        await self.store.append_wake_up(self.origin, encode_wake_up(wake))

    async def subscribe(self) -> AsyncIterator[WakeUp]:
        """Wake-ups published from now on by any process on the file (this one included), until the
        caller stops or the notifier is closed."""
        send, receive = anyio.create_memory_object_stream[WakeUp](self._buffer)
        self._subscribers.add(send)
        watch = _TableWatch(self.store.path, self.origin)
        try:
            next_look = anyio.current_time()
            while not self._closed:
                local: WakeUp | None = None
                wait = next_look - anyio.current_time()
                if wait > 0:
                    with anyio.move_on_after(wait):
                        try:
                            local = await receive.receive()
                        except (anyio.EndOfStream, anyio.ClosedResourceError):
                            return  # closed
                if local is not None:
                    yield local
                    continue
                next_look = anyio.current_time() + self.poll_interval
                for wake in watch.read():
                    yield wake
        finally:
            self._subscribers.discard(send)
            send.close()
            receive.close()
            watch.close()

    async def close(self) -> None:
        """End every subscription. Idempotent."""
        self._closed = True
        for stream in list(self._subscribers):
            stream.close()
        self._subscribers.clear()


class _TableWatch:
    """One read-only connection to the file: the rows after the last one seen, when the file changed."""

    def __init__(self, path: str, origin: str) -> None:
        self.path = path
        self.origin = origin
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._last_id: int | None = None
        self._failing = False

    def read(self) -> list[WakeUp]:
        try:
            return self._read()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return []  # a checkpoint or a recovery by another process: look again next time
            self._failed(exc)
        except sqlite3.Error as exc:
            self._failed(exc)
        return []

    def _read(self) -> list[WakeUp]:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            self._conn = conn
            self._version = None
            if self._last_id is None:  # only what is published from now on
                row = conn.execute("SELECT coalesce(max(id), 0) FROM wake_ups").fetchone()
                self._last_id = int(row[0])
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self._version:
            return []
        wakes: list[WakeUp] = []
        while True:
            rows = self._conn.execute("SELECT id, origin, data FROM wake_ups WHERE id > ? ORDER BY id LIMIT ?",
                                      (self._last_id, BATCH)).fetchall()
            for row_id, origin, data in rows:
                self._last_id = int(row_id)
                if origin != self.origin:
                    wake = decode_wake_up(data)
                    if wake is not None:
                        wakes.append(wake)
            if len(rows) < BATCH:
                break
        self._version = version  # only once every row is read: a failure above reads them again
        if self._failing:
            log.warning("wake-ups from other processes on %s are read again", self.path)
            self._failing = False
        return wakes

    def _failed(self, exc: sqlite3.Error) -> None:
        if not self._failing:
            log.warning("cannot read wake-ups from other processes on %s (%s); retrying", self.path, exc)
            self._failing = True
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
