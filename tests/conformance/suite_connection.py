"""The store's connection and identity: the :class:`~interlock_core.store_roles.StoreConnection`
slice of the conformance suite (see ``suite.py``). ``start`` and ``close`` can be repeated; the
identity is created once, by the first of any number of simultaneous callers, then the same for
every store on the backend."""

from __future__ import annotations

import anyio

from interlock_core.launch_keys import is_store_identity
from interlock_core.ports import Store
from interlock_core.store_roles import StoreConnection

from .records import OpenStore, pipeline, run

IDENTITY_RACERS = 6
"""Stores opened on one backend at once, each asking for the identity three times concurrently."""


class StoreConnectionConformance:
    async def test_is_a_store_connection(self, store: StoreConnection) -> None:
        assert isinstance(store, StoreConnection)

    async def test_ping(self, store: Store) -> None:
        assert await store.ping() is True

    async def test_start_and_close_are_idempotent(self, store: Store) -> None:
        await store.put_pipeline(pipeline("ct-idem"))
        await store.start()
        assert await store.ping() is True
        assert await store.get_pipeline("ct-idem") is not None
        await store.close()
        await store.close()

    async def test_store_identity_is_created_once_and_kept(self, store: Store) -> None:
        first = await store.store_identity()
        assert is_store_identity(first), first
        assert await store.store_identity() == first
        await store.put_pipeline(pipeline("ct-identity"))
        await store.put_run(run("ct-identity-run", "ct-identity"))
        assert await store.store_identity() == first

    async def test_every_store_on_one_backend_agrees_on_one_identity(
        self, store: Store, open_store: OpenStore
    ) -> None:
        racers = [await open_store() for _ in range(IDENTITY_RACERS)]
        found: list[str] = []

        async def ask(racer: Store) -> None:
            found.append(await racer.store_identity())

        async with anyio.create_task_group() as tg:  # nobody has asked before: they race to create it
            for racer in racers:
                for _ in range(3):
                    tg.start_soon(ask, racer)
        assert len(found) == 3 * IDENTITY_RACERS
        assert len(set(found)) == 1, sorted(set(found))
        assert await store.store_identity() == found[0]
        latecomer = await open_store()
        assert await latecomer.store_identity() == found[0]

    async def test_a_fresh_store_has_another_identity(self, store: Store, open_store: OpenStore) -> None:
        fresh = await open_store(fresh=True)
        mine, theirs = await store.store_identity(), await fresh.store_identity()
        assert is_store_identity(theirs) and mine != theirs
