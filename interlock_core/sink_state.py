"""The memory alert sinks keep in the store (:class:`~interlock_core.ports.SinkState`).

A value is kept as a lease named ``sink-state:<key>`` whose owner is the value: a store's leases
are shared by every replica, expire by themselves and are taken by the first writer, which is
what a sink's memory needs (the first message of a Slack thread claims the thread for its cycle).
"""

from __future__ import annotations

from .store_roles import LeaseStore


class StoreSinkState:
    def __init__(self, store: LeaseStore) -> None:
        self._store = store

    @staticmethod
    def _key(key: str) -> str:
        return f"sink-state:{key}"

    async def get(self, key: str) -> str | None:
        return await self._store.lease_owner(self._key(key))

    async def put_if_absent(self, key: str, value: str, ttl: float) -> str:
        if await self._store.acquire_lease(self._key(key), value, ttl):
            return value
        return await self._store.lease_owner(self._key(key)) or value


class MemorySinkState:
    """The same in this process only (sinks built without a store, tests)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self._values.get(key)

    async def put_if_absent(self, key: str, value: str, ttl: float) -> str:
        return self._values.setdefault(key, value)
