"""The ``redis`` store: production local mode on Redis ≥ 7 or Valkey.

Compare-and-swap and leases are Lua scripts (``scripts``), trait and readiness expiry is native
``PEXPIRE`` (an expired record is simply absent), events live in one stream per pipeline whose ids
are the cursors, and lists are sorted sets scored by time. Key names are in ``keys``; connection
failures become ``StoreUnavailable`` in ``client``. Expiry is the server's real time: nothing here
consults the injected clock to decide it.

The package is laid out as the store port is (:mod:`interlock_core.store_roles`): one mixin module
per role (``connection``, ``pipelines``, ``traits``, ``runs``, ``reruns``, ``events``, ``alerts``,
``markers``, ``shadow``, ``batches``, ``leases``, and ``wake_ups`` for the optional wake-up role),
built on ``base`` (TTL rules and indexes), ``client`` (settings and connection), ``keys`` and
``scripts``; :class:`RedisStore`, here, composes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel
from redis.commands.core import AsyncScript

from interlock_core.clock import Clock, SystemClock
from interlock_core.plugins import PluginContext

from . import scripts
from .alerts import RedisAlertOutbox
from .batches import RedisBatches
from .client import RedisConfig, connect, resolve_config
from .connection import RedisStoreConnection
from .events import RedisEvents
from .keys import RedisKeys
from .leases import RedisLeases
from .markers import RedisCascadeMarkers
from .multiplexed import MultiplexedReads
from .pipelines import RedisPipelines
from .reruns import RedisReruns
from .runs import RedisRuns
from .shadow import RedisShadowCycles
from .traits import RedisTraits
from .wake_ups import RedisWakeUps

__all__ = ["RedisConfig", "RedisStore"]


class RedisStore(RedisStoreConnection, RedisPipelines, RedisTraits, RedisRuns, RedisReruns, RedisEvents,
                 RedisAlertOutbox, RedisCascadeMarkers, RedisShadowCycles, RedisBatches, RedisLeases, RedisWakeUps):
    """``provider: redis``. Satisfies :class:`interlock_core.ports.Store` (one mixin per role, each
    in its module of this package; the events that raise alerts are appended in ``alerts``)."""

    name: ClassVar[str] = "redis"
    config_model: ClassVar[type[BaseModel]] = RedisConfig

    def __init__(
        self,
        config: RedisConfig | None = None,
        *,
        url: str | None = None,
        key_prefix: str | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> None:
        self.config = resolve_config(config, url=url, key_prefix=key_prefix, **options)
        self.clock: Clock = clock or SystemClock()
        self.keys = RedisKeys(self.config.key_prefix)
        self.target = self.config.target()
        self._redis = connect(self.config)
        self._reads = MultiplexedReads.for_pool(self._redis.connection_pool) if self.config.multiplex_reads else None
        self._closed = False
        register: Callable[[str], AsyncScript] = self._redis.register_script
        self._write_record = register(scripts.WRITE_RECORD)
        self._acquire_lease = register(scripts.ACQUIRE_LEASE)
        self._release_lease = register(scripts.RELEASE_LEASE)
        self._append_event = register(scripts.APPEND_EVENT)
        self._write_marker = register(scripts.WRITE_CASCADE_MARKER)
        self._register_outbox_scripts()
        self._register_batch_scripts()

    @classmethod
    def create(cls, config: RedisConfig, context: PluginContext) -> RedisStore:
        return cls(config, clock=context.clock)
