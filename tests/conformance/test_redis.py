"""The Redis store: the conformance suite against a real redis-server, one key prefix per test.

TTLs are native to Redis, so ``advance`` really sleeps (the suite keeps those sleeps under 2 s).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import pytest

from interlock_core.clock import FakeClock
from interlock_plugins.stores.redis import RedisStore
from tests.helpers.backends import REDIS_URL

from .records import Advance, OpenStore
from .suite import StoreConformance

pytestmark = pytest.mark.redis


@pytest.fixture
async def store() -> AsyncIterator[RedisStore]:
    prefix = f"interlock-test:{uuid.uuid4().hex}:"
    redis_store = RedisStore(url=REDIS_URL, key_prefix=prefix, clock=FakeClock(), connect_timeout=2)
    if not await redis_store.ping():
        await redis_store.close()
        pytest.skip(f"redis-server is not reachable at {REDIS_URL}")
    await redis_store.start()
    try:
        yield redis_store
    finally:
        await redis_store.close()
        cleaner = RedisStore(url=REDIS_URL, key_prefix=prefix)  # the test may have closed its store
        try:
            await cleaner.purge()
        finally:
            await cleaner.close()


@pytest.fixture
async def open_store(store: RedisStore) -> AsyncIterator[OpenStore]:
    opened: list[RedisStore] = []
    fresh_prefixes: list[str] = []

    async def open_store(fresh: bool = False) -> RedisStore:
        prefix = store.config.key_prefix
        if fresh:
            prefix = f"interlock-test:{uuid.uuid4().hex}:"
            fresh_prefixes.append(prefix)
        other = RedisStore(url=REDIS_URL, key_prefix=prefix, clock=FakeClock(), connect_timeout=2)
        opened.append(other)
        await other.start()
        return other

    try:
        yield open_store
    finally:
        for other in opened:
            if other.config.key_prefix in fresh_prefixes:
                await other.purge()
            await other.close()


@pytest.fixture
def advance() -> Advance:
    async def advance(seconds: float) -> None:
        await anyio.sleep(seconds)

    return advance


class TestRedisStore(StoreConformance):
    """Every conformance case, against a real Redis."""
