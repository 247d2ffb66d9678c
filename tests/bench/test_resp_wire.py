"""The wire floor's client (``bench/_resp_wire.py``): each of many pipelined commands gets its own
reply, as redis-py would answer it. The floor is only a floor if it reads what the others read."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.helpers.backends import REDIS_ADDR, REDIS_URL

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _resp_wire import WireRedis, command  # noqa: E402

pytestmark = pytest.mark.redis


async def test_pipelined_commands_each_get_their_own_reply() -> None:
    prefix = f"interlock-test:{uuid.uuid4().hex}:"
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    host, _, port = REDIS_ADDR.rpartition(":")
    wire = await WireRedis.connect(host, int(port))
    try:
        await client.mset({f"{prefix}{n}": f"value {n}" for n in range(50)})
        asked = [[f"{prefix}{n}", f"{prefix}{(n * 7) % 50}", f"{prefix}missing"] for n in range(50)]
        replies = await asyncio.gather(*(wire.call(command(["MGET", *keys])) for keys in asked))
        assert replies == [[f"value {n}".encode(), f"value {(n * 7) % 50}".encode(), None] for n in range(50)]
    finally:
        assert wire.transport is not None
        wire.transport.close()
        await client.delete(*(f"{prefix}{n}" for n in range(50)))
        await client.aclose()
