"""Leases in the SQLite store (:class:`~interlock_core.store_roles.LeaseStore`): table ``leases``,
taken and renewed by one upsert that only wins when the lease is free, expired or already ours."""

from __future__ import annotations

from .base import SQLiteStoreBase, _expiry
from .schema import LIVE


class SQLiteLeases(SQLiteStoreBase):
    """Acquire, release and read leases."""

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        sql = (
            "INSERT INTO leases (key, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
            " SET owner = excluded.owner, expires_at = excluded.expires_at"
            " WHERE leases.owner = excluded.owner OR leases.expires_at <= ?"
        )
        return await self._write(
            lambda conn, now: conn.execute(sql, (key, owner, _expiry(ttl, now), now)).rowcount == 1
        )

    async def release_lease(self, key: str, owner: str) -> bool:
        sql = f"DELETE FROM leases WHERE key = ? AND owner = ? AND {LIVE}"
        return await self._write(lambda conn, now: conn.execute(sql, (key, owner, now)).rowcount == 1)

    async def lease_owner(self, key: str) -> str | None:
        params = (key, self._now())
        sql = f"SELECT owner FROM leases WHERE key = ? AND {LIVE}"
        row = await self._db.read(lambda conn: conn.execute(sql, params).fetchone())
        return str(row[0]) if row else None
