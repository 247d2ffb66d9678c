"""The Redis store's connection and identity (:class:`~interlock_core.store_roles.StoreConnection`)."""

from __future__ import annotations

from interlock_core.errors import StoreUnavailable
from interlock_core.launch_keys import new_store_identity

from .base import RedisStoreBase, _text, log
from .client import UNAVAILABLE_ERRORS, translate_errors


class RedisStoreConnection(RedisStoreBase):
    """Verify the server answers, close, ping; the store identity under ``<prefix>identity``; purge the prefix."""

    @translate_errors
    async def start(self) -> None:
        """Verify the server answers; there is no schema to create."""
        if not await self._redis.ping():
            raise StoreUnavailable(f"redis store at {self.target} does not answer PING", store="redis")

    async def start_read_only(self) -> None:
        """As :meth:`start`: there is nothing to create."""
        await self.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reads is not None:
            await self._reads.close()
        await self._redis.aclose(close_connection_pool=True)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except UNAVAILABLE_ERRORS as exc:
            log.debug("redis store at %s does not answer: %s", self.target, exc)
            return False

    @translate_errors
    async def store_identity(self) -> str:
        """``SET <prefix>identity <fresh> NX GET``: one atomic command that keeps the first value
        ever written and answers it (None when this call wrote it)."""
        candidate = new_store_identity()
        existing = await self._redis.set(self.keys.identity, candidate, nx=True, get=True)
        return _text(existing) if isinstance(existing, bytes | str) else candidate

    @translate_errors
    async def purge(self) -> None:
        """Delete every key under the prefix (for tests and ``reset`` tools)."""
        batch: list[str] = []
        async for key in self._redis.scan_iter(match=self.keys.match_all(), count=500):
            batch.append(key)
            if len(batch) >= 500:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)
