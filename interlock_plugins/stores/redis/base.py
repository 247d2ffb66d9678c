"""What every role of the Redis store builds on: the TTL rules (records and their indexes), the
time-scored indexes, and decoding."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from redis.commands.core import AsyncScript

from interlock_core.clock import Clock
from interlock_core.model import RunStatus

from .client import RedisConfig
from .keys import RedisKeys
from .multiplexed import MultiplexedReads

log = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)

ACTIVE_RUN_GRACE = timedelta(hours=24)
"""Runs and reruns that are not finished are kept this much longer than the retention."""

ScriptArgs = list[str | int]


def _ms(seconds: float | None) -> int:
    """A TTL in whole milliseconds; 0 means "no expiry"."""
    if seconds is None or seconds <= 0 or not math.isfinite(seconds):
        return 0
    return max(1, round(seconds * 1000))


def _score(when: datetime) -> int:
    return round(when.timestamp() * 1000)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(values: Any) -> list[str]:
    """A list reply of strings (redis-py's types do not model ``decode_responses``)."""
    return [_text(v) for v in values or ()]


def _decode(model: type[R], raw: bytes | str | None, what: str) -> R | None:
    if raw is None:
        return None
    try:
        return model.model_validate_json(raw)
    except PydanticValidationError as exc:
        log.warning("skipping unreadable %s in redis store: %s", what, exc.errors()[:1])
        return None


class RedisStoreBase:
    """The state and helpers the role mixins of :class:`~interlock_plugins.stores.redis.RedisStore` share
    (set by its ``__init__``): the TTL rules and the time-scored indexes."""

    config: RedisConfig
    clock: Clock
    keys: RedisKeys
    target: str
    _redis: aioredis.Redis
    _reads: MultiplexedReads | None  # the hot reads' connection (None: through the pool)
    _closed: bool
    _write_record: AsyncScript
    _acquire_lease: AsyncScript
    _release_lease: AsyncScript
    _append_event: AsyncScript
    _write_marker: AsyncScript

    @property
    def _retention_ms(self) -> int:
        return _ms(self.config.retention_ttl.total_seconds())

    def _record_ttl_ms(self, status: RunStatus) -> int:
        """Finished records live for the retention; unfinished ones a day longer."""
        retention = self._retention_ms
        if retention == 0 or status.is_terminal:
            return retention
        return retention + _ms(ACTIVE_RUN_GRACE.total_seconds())

    @property
    def _index_ttl_ms(self) -> int:
        """Indexes outlive the longest-lived record they point at."""
        return self._record_ttl_ms(RunStatus.PENDING)

    async def _index(self, index: str, member: str, score: int, keep_factor: int = 1) -> None:
        """Add ``member`` to a time-scored index, keep the newest entries, refresh its TTL."""
        keep = self.config.run_index_limit * keep_factor
        async with self._redis.pipeline(transaction=True) as tx:
            tx.zadd(index, {member: score})
            tx.zremrangebyrank(index, 0, -(keep + 1))
            if self._index_ttl_ms:
                tx.pexpire(index, self._index_ttl_ms)
            else:
                tx.persist(index)
            await tx.execute()

    async def _list_indexed(
        self, index: str, key_of: Callable[[str], str], model: type[R], limit: int
    ) -> list[R]:
        """Newest first from a time-scored index, skipping members whose record has expired."""
        out: list[R] = []
        start = 0
        while len(out) < limit:
            page = max(limit - len(out), 10)
            members = _texts(await self._redis.zrevrange(index, start, start + page - 1))
            if not members:
                break
            start += len(members)
            async with self._redis.pipeline(transaction=False) as pipe:
                for member in members:
                    pipe.get(key_of(member))
                raws: list[str | None] = await pipe.execute()
            for member, raw in zip(members, raws, strict=True):
                record = _decode(model, raw, f"{model.__name__} {member!r}")
                if record is not None:
                    out.append(record)
            if len(members) < page:
                break
        return out[:limit]
