"""Wake-ups between replicas over Redis pub/sub.

A pushed trait, a completion callback or a cascade marker on one ``interlock serve`` replica
wakes the affected pipeline's evaluation on every replica sharing the Redis store. Pub/sub is
fire-and-forget: a wake-up published while a subscriber is reconnecting is lost, which is
harmless because every pipeline is still evaluated at its interval.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

import anyio

from interlock_core.ports import WakeUp

from ._wake_codec import decode_wake_up, encode_wake_up
from .redis.client import (
    UNAVAILABLE_ERRORS,
    RedisConfig,
    connect,
    resolve_config,
    unavailable_as_store_error,
)
from .redis.keys import RedisKeys

__all__ = ["RedisNotifier", "decode_wake_up", "encode_wake_up"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0
"""How long one read waits for a message before checking the connection's health again."""


class RedisNotifier:
    """Satisfies :class:`interlock_core.ports.Notifier` over ``PUBLISH``/``SUBSCRIBE`` on
    ``<keyPrefix>wake``. ``subscribe()`` outlives connection losses: it reconnects with
    exponential backoff and never raises for a lost connection."""

    def __init__(
        self,
        config: RedisConfig | None = None,
        *,
        url: str | None = None,
        key_prefix: str | None = None,
        client_name: str = "interlock-notifier",
        reconnect_initial: float = 0.1,
        reconnect_max: float = 5.0,
        **options: Any,
    ) -> None:
        self.config = resolve_config(config, url=url, key_prefix=key_prefix, **options)
        self.channel = RedisKeys(self.config.key_prefix).wake_channel
        self.target = self.config.target()
        self._redis = connect(self.config, client_name=client_name)
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        self._closed = False

    async def publish(self, wake: WakeUp) -> None:
        """Send ``wake`` to every subscriber; raises ``StoreUnavailable`` when Redis is down."""
        with unavailable_as_store_error(self.target, "publish wake-up"):
            await self._redis.publish(self.channel, encode_wake_up(wake))

    async def subscribe(self) -> AsyncGenerator[WakeUp, None]:
        """Wake-ups published by any replica (this one included), until the caller stops or the
        notifier is closed."""
        delay = self._reconnect_initial
        while not self._closed:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                delay = self._reconnect_initial
                while not self._closed:
                    message = await pubsub.get_message(timeout=POLL_INTERVAL)
                    if message is None or message.get("type") != "message":
                        continue
                    wake = decode_wake_up(message["data"])
                    if wake is not None:
                        yield wake
            except UNAVAILABLE_ERRORS as exc:
                log.warning("wake-up subscription to %s lost (%s); reconnecting in %.1fs",
                            self.target, exc or type(exc).__name__, delay)
            finally:
                with anyio.CancelScope(shield=True):
                    await _quietly_close(pubsub)
            if self._closed:
                return
            await anyio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._redis.aclose(close_connection_pool=True)


async def _quietly_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except UNAVAILABLE_ERRORS:
        pass
