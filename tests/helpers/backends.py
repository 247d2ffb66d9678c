"""Where the tests find their backends: the environment says, defaulting to the local services
``scripts/services.sh`` starts. Point the same suites at another server (Valkey, a managed
PostgreSQL) with:

* ``INTERLOCK_TEST_REDIS_ADDR`` — ``host:port`` of a Redis-compatible server (default
  ``127.0.0.1:6379``; tests use database 0 and keys under their own random prefixes);
* ``INTERLOCK_TEST_POSTGRES_DSN`` — a PostgreSQL DSN (default trust auth on ``127.0.0.1:5432``,
  database ``test``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from interlock_core.clock import Clock
from interlock_plugins.stores.redis import RedisStore

REDIS_ADDR = os.environ.get("INTERLOCK_TEST_REDIS_ADDR", "127.0.0.1:6379")
REDIS_URL = f"redis://{REDIS_ADDR}/0"
POSTGRES_DSN = os.environ.get("INTERLOCK_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def scratch_redis_store(clock: Clock, name: str) -> AsyncIterator[RedisStore]:
    """A Redis store on the test server under a fresh key prefix (``name-<random>:``), its keys
    purged afterwards."""
    store = RedisStore(url=REDIS_URL, key_prefix=f"{name}-{uuid.uuid4().hex[:10]}:", clock=clock)
    try:
        yield store
    finally:
        await store.purge()
