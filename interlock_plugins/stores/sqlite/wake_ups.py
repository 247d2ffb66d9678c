"""Wake-ups between the processes sharing an SQLite file (the optional
:class:`~interlock_core.ports.WakeUpStore`): table ``wake_ups``, read by ``sqlite_notify``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from interlock_core.ports import Notifier

from .base import SQLiteStoreBase
from .database import MEMORY

if TYPE_CHECKING:
    from . import SQLiteStore


class SQLiteWakeUps(SQLiteStoreBase):
    """The notifier over this file and the wake-up rows it reads."""

    def wake_up_notifier(self) -> Notifier | None:
        """The notifier carrying wake-ups between the processes on this file (None in memory)."""
        if self.path == MEMORY:
            return None
        from ..sqlite_notify import SQLiteNotifier

        return SQLiteNotifier(cast("SQLiteStore", self))  # this mixin is only ever part of the store

    async def append_wake_up(self, origin: str, data: str) -> None:
        """Record a wake-up (``data``, published by notifier ``origin``) for the other processes."""
        from ..sqlite_notify import WAKE_UP_TTL

        sql = "INSERT INTO wake_ups (origin, data, expires_at) VALUES (?, ?, ?)"
        await self._write(lambda conn, now: conn.execute(sql, (origin, data, now + WAKE_UP_TTL)), durable=False)
