"""In-process wake-ups: a pushed trait, a completion or a cascade marker wakes the watcher now."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .ports import WakeUp


class LocalNotifier:
    """Fan-out of wake-ups to every subscriber in this process. Never blocks a publisher:
    a subscriber that falls behind loses wake-ups, which is harmless (intervals cover everything)."""

    def __init__(self, buffer: int = 1024) -> None:
        self._buffer = buffer
        self._subscribers: set[MemoryObjectSendStream[WakeUp]] = set()

    async def publish(self, wake: WakeUp) -> None:
        self.publish_nowait(wake)

    def publish_nowait(self, wake: WakeUp) -> None:
        for stream in list(self._subscribers):
            try:
                stream.send_nowait(wake)
            except anyio.WouldBlock:
                continue
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._subscribers.discard(stream)

    async def subscribe(self) -> AsyncIterator[WakeUp]:
        send, receive = anyio.create_memory_object_stream[WakeUp](self._buffer)
        self._subscribers.add(send)
        try:
            async with receive:
                async for wake in receive:
                    yield wake
        finally:
            self._subscribers.discard(send)
            send.close()
