"""Leases: the :class:`~interlock_core.store_roles.LeaseStore` slice of the store conformance
suite (see ``suite.py``)."""

from __future__ import annotations

import anyio

from interlock_core.store_roles import LeaseStore

from .records import Advance


class LeaseStoreConformance:
    async def test_is_a_lease_store(self, store: LeaseStore) -> None:
        assert isinstance(store, LeaseStore)

    async def test_lease_acquire_and_release(self, store: LeaseStore) -> None:
        key = "ct-lock:pipe1:daily"
        assert await store.acquire_lease(key, "owner-a", 30) is True
        assert await store.acquire_lease(key, "owner-b", 30) is False
        assert await store.lease_owner(key) == "owner-a"
        assert await store.acquire_lease(key, "owner-a", 30) is True
        assert await store.acquire_lease("ct-lock:pipe2:daily", "owner-b", 30) is True
        assert await store.release_lease(key, "owner-b") is False
        assert await store.lease_owner(key) == "owner-a"
        assert await store.release_lease(key, "owner-a") is True
        assert await store.lease_owner(key) is None
        assert await store.release_lease(key, "owner-a") is False
        assert await store.acquire_lease(key, "owner-b", 30) is True
        assert await store.lease_owner(key) == "owner-b"
        assert await store.lease_owner("ct-lock:pipe2:daily") == "owner-b"

    async def test_lease_expiry_and_renewal(self, store: LeaseStore, advance: Advance) -> None:
        assert await store.acquire_lease("ct-expiring", "owner-a", 1) is True
        assert await store.acquire_lease("ct-expiring", "owner-b", 30) is False
        assert await store.acquire_lease("ct-renewed", "owner-a", 1) is True
        assert await store.acquire_lease("ct-renewed", "owner-a", 30) is True
        await advance(1.5)
        assert await store.lease_owner("ct-expiring") is None
        assert await store.release_lease("ct-expiring", "owner-a") is False
        assert await store.acquire_lease("ct-expiring", "owner-b", 30) is True
        assert await store.lease_owner("ct-expiring") == "owner-b"
        assert await store.lease_owner("ct-renewed") == "owner-a"
        assert await store.acquire_lease("ct-renewed", "owner-b", 30) is False

    async def test_lease_race_has_one_winner(self, store: LeaseStore) -> None:
        winners: list[str] = []

        async def acquire(i: int) -> None:
            if await store.acquire_lease("ct-lease-race", f"owner-{i}", 30):
                winners.append(f"owner-{i}")

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(acquire, i)
        assert len(winners) == 1
        assert await store.lease_owner("ct-lease-race") == winners[0]
