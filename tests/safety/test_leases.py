"""The Redis campaign's leases expire on the campaign's fake clock, never on the machine's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from interlock_core.clock import FakeClock

from .leases import FakeTimeLeaseRedisStore
from .world import REDIS_URL, START

pytestmark = pytest.mark.redis


@pytest.fixture
async def store() -> AsyncIterator[FakeTimeLeaseRedisStore]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"redis-server is not reachable at {REDIS_URL}")
    finally:
        client.close()
    opened = FakeTimeLeaseRedisStore(url=REDIS_URL, key_prefix=f"safety-lease:{uuid.uuid4().hex}:",
                                     clock=FakeClock(START))
    await opened.start()
    try:
        yield opened
    finally:
        await opened.purge()
        await opened.close()


async def test_a_lease_lapses_when_the_fake_clock_passes_its_ttl(store: FakeTimeLeaseRedisStore) -> None:
    clock = store.clock
    assert isinstance(clock, FakeClock)
    assert await store.acquire_lease("cycle:p1:daily", "a", 0.001)  # 1 ms: long gone in real time
    assert await store.lease_owner("cycle:p1:daily") == "a"
    assert not await store.acquire_lease("cycle:p1:daily", "b", 15)
    clock.advance(0.002)
    assert await store.lease_owner("cycle:p1:daily") is None
    assert await store.acquire_lease("cycle:p1:daily", "b", 15)
    assert not await store.release_lease("cycle:p1:daily", "a")
    assert await store.acquire_lease("cycle:p1:daily", "b", 15)  # the holder renews
    clock.advance(14)
    assert not await store.acquire_lease("cycle:p1:daily", "a", 15)
    assert await store.release_lease("cycle:p1:daily", "b")
    assert await store.lease_owner("cycle:p1:daily") is None


async def test_a_lease_without_ttl_is_held_until_released(store: FakeTimeLeaseRedisStore) -> None:
    assert await store.acquire_lease("k", "owner|with|bars", 0)
    store.clock.advance(10**9)  # type: ignore[attr-defined]
    assert await store.lease_owner("k") == "owner|with|bars"
    assert not await store.acquire_lease("k", "other", 5)
    assert await store.release_lease("k", "owner|with|bars")
