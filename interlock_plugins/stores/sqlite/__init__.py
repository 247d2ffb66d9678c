"""The embedded default store: one SQLite file in WAL mode.

Zero set-up and durable. Several processes on one host (the CLI next to ``interlock serve``) may
share the file: every read-modify-write runs in a ``BEGIN IMMEDIATE`` transaction, so CAS, claims
and leases are atomic across processes. Time comes from the injected clock: TTLs are expiry
timestamps compared with ``clock.now()``; expired rows are absent on read and purged lazily.
Runs, run logs, reruns, events, cascade markers and shadow records are kept for ``retention`` (runs,
run logs and reruns that are not finished get one more day).

The package is laid out as the store port is (:mod:`interlock_core.store_roles`): one mixin module
per role (``connection``, ``pipelines``, ``traits``, ``runs``, ``reruns``, ``events``, ``alerts``,
``markers``, ``shadow``, ``batches``, ``leases``, and ``wake_ups`` for the optional wake-up role),
built on ``base`` (the clock, retention and transaction helpers), ``database`` (the connections
and their threads) and ``schema`` (tables and migrations); :class:`SQLiteStore`, here, composes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator
from pydantic import ValidationError as ModelError

from interlock_core.clock import Clock, SystemClock
from interlock_core.durations import Duration
from interlock_core.errors import ConfigError
from interlock_core.model import ConfigModel
from interlock_core.plugins import PluginContext

from .alerts import SQLiteAlertOutbox
from .base import PURGE_INTERVAL, UNFINISHED_GRACE
from .batches import SQLiteBatches
from .connection import SQLiteStoreConnection
from .database import MEMORY, SQLiteDatabase
from .events import SQLiteEvents
from .leases import SQLiteLeases
from .markers import SQLiteCascadeMarkers
from .pipelines import SQLitePipelines
from .reruns import SQLiteReruns
from .runs import SQLiteRuns
from .shadow import SQLiteShadowCycles
from .traits import SQLiteTraits
from .wake_ups import SQLiteWakeUps

__all__ = ["DEFAULT_RETENTION", "PURGE_INTERVAL", "UNFINISHED_GRACE", "SQLiteConfig", "SQLiteStore"]

DEFAULT_RETENTION = timedelta(days=7)


class SQLiteConfig(ConfigModel):
    """The ``sqlite:`` section of ``interlock.yaml``."""

    path: str = Field(default="./interlock.db", min_length=1)
    busy_timeout: Duration = timedelta(seconds=10)
    retention: Duration = DEFAULT_RETENTION

    @field_validator("busy_timeout", "retention")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 0:
            raise ValueError("must not be negative")
        return value


class SQLiteStore(SQLiteStoreConnection, SQLitePipelines, SQLiteTraits, SQLiteRuns, SQLiteReruns, SQLiteEvents,
                  SQLiteAlertOutbox, SQLiteCascadeMarkers, SQLiteShadowCycles, SQLiteBatches, SQLiteLeases,
                  SQLiteWakeUps):
    """``SQLiteStore(path, clock=..., retention=...)``; ``retention`` of 0 or None keeps history forever.

    One mixin per role of the store port (:mod:`interlock_core.store_roles`), each in its module of
    this package."""

    name: ClassVar[str] = "sqlite"
    config_model: ClassVar[type[BaseModel]] = SQLiteConfig

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock | None = None,
        retention: timedelta | float | None = DEFAULT_RETENTION,
        busy_timeout: float = 10.0,
    ) -> None:
        seconds = retention.total_seconds() if isinstance(retention, timedelta) else retention
        self.path = str(path)
        self._clock = clock or SystemClock()
        self._retention = seconds if seconds and seconds > 0 else None
        self._db = SQLiteDatabase(self.path, busy_timeout)
        self._last_purge: float | None = None

    @classmethod
    def create(cls, config: SQLiteConfig | Mapping[str, Any], context: PluginContext) -> SQLiteStore:
        """Build from the ``sqlite:`` section; a relative path is relative to the project directory."""
        if not isinstance(config, SQLiteConfig):
            try:
                config = SQLiteConfig.model_validate(dict(config))
            except ModelError as exc:
                raise ConfigError(f"invalid sqlite store settings: {exc}", key="sqlite") from None
        path: str | Path = config.path
        if config.path != MEMORY:
            candidate = Path(config.path).expanduser()
            path = candidate if candidate.is_absolute() else Path(context.project_dir) / candidate
        return cls(
            path,
            clock=context.clock,
            retention=config.retention,
            busy_timeout=config.busy_timeout.total_seconds(),
        )

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"
