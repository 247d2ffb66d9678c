"""Whether anything was committed to a SQLite file since, read from its WAL-index header: no lock,
no statement, no system call.

In WAL mode the connections to a file share its wal-index, the ``-shm`` file that SQLite's unix
and windows VFS map into memory (https://sqlite.org/walformat.html). It opens with the wal-index
header, 48 bytes written twice: SQLite's readers trust it only when both copies agree, and every
commit rewrites it (the second copy, a memory barrier, then the first) with a new transaction
counter, last valid frame and last frame's checksum, and new salts when the WAL starts again. A
transaction rolled back leaves it as it was, and so does a read; a checkpoint that starts the WAL
again rewrites it (a change that is no commit: the caller reads again, needlessly but safely).

So the header read before a statement ran, read again unchanged, says nothing was committed to the
file since, by any connection of any process: the statement would answer what it answered then.
A header that says nothing — its copies differ (a commit being published), not initialised, of
another format version — is None, and the caller asks SQLite (``PRAGMA data_version``).

A :class:`WalIndex` is opened while a connection of this process has read the file and closed
before the last of them closes: SQLite holds a shared lock on the ``-shm`` file for as long, so no
other process can truncate or initialise it anew under the mapping.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct

HEADER_SIZE = 48
"""One copy of the wal-index header (``WalIndexHdr``)."""
WAL_INDEX_VERSION = 3007000
"""The header's ``iVersion``: the wal-index format since SQLite 3.7.0."""
_VERSION = struct.Struct("=I")  # iVersion, in the machine's byte order, at offset 0
_IS_INIT = 12  # isInit: 1 once the header is written


class WalIndex:
    """The ``-shm`` file of a SQLite database in WAL mode, mapped read-only."""

    def __init__(self, mapping: mmap.mmap) -> None:
        self._mapping = mapping

    @classmethod
    def open(cls, database: str) -> WalIndex | None:
        """The wal-index of the database file at ``database``, None when it cannot be mapped."""
        try:
            fd = os.open(f"{database}-shm", os.O_RDONLY)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_size < 2 * HEADER_SIZE:
                return None
            return cls(mmap.mmap(fd, 2 * HEADER_SIZE, access=mmap.ACCESS_READ))
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)  # the mapping keeps its own reference to the file

    def stamp(self) -> bytes | None:
        """The header as it is now (equal stamps: nothing committed in between), None when it says
        nothing (see the module documentation)."""
        header = self._mapping[:2 * HEADER_SIZE]
        first = header[:HEADER_SIZE]
        if first != header[HEADER_SIZE:] or first[_IS_INIT] != 1 \
                or _VERSION.unpack_from(first)[0] != WAL_INDEX_VERSION:
            return None
        return first

    def close(self) -> None:
        with contextlib.suppress(BufferError, ValueError):
            self._mapping.close()
