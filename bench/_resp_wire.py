"""The least a Redis round trip can cost a Python server: one asyncio protocol connection, commands
written as RESP bytes and pipelined (the replies come back in order, each answering the oldest
waiting request), replies parsed by hiredis. No pool, no timeouts, no retries, no reconnection,
no error translation: a measuring floor (``bench_api.py``'s *wire floor*), never a store client.
Commands are packed as the store packs them (``multiplexed.command``)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import hiredis

from interlock_plugins.stores.redis.multiplexed import command

__all__ = ["WireRedis", "command"]


class WireRedis(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def connect(cls, host: str, port: int) -> WireRedis:
        _, protocol = await asyncio.get_running_loop().create_connection(cls, host, port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            self.waiting.popleft().set_result(reply)

    async def call(self, packed: bytes) -> Any:
        assert self.transport is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(packed)
        return await future
