"""Leases in the Redis store (:class:`~interlock_core.store_roles.LeaseStore`): one key per lease with a
TTL, taken and released by Lua scripts."""

from __future__ import annotations

from .base import RedisStoreBase, _ms, _text
from .client import translate_errors


class RedisLeases(RedisStoreBase):
    """Acquire, release and read leases."""

    @translate_errors
    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        return bool(await self._acquire_lease([self.keys.lease(key)], [owner, _ms(ttl)]))

    @translate_errors
    async def release_lease(self, key: str, owner: str) -> bool:
        return bool(await self._release_lease([self.keys.lease(key)], [owner]))

    @translate_errors
    async def lease_owner(self, key: str) -> str | None:
        owner = await self._redis.get(self.keys.lease(key))
        return None if owner is None else _text(owner)
